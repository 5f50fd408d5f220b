"""Groups and hierarchies: zarrkit.hierarchy (Group, group, open_group, LazyLoader) and _tree.

Expectations come from a small model of zarr 2's rules (a dict of path -> kind), from NumPy,
from the tutorial's text, and - in the zarr 2 environment - from real zarr-python 2.x run side by
side. Hierarchies written by zarrkit are read by the installed zarr-python (2.x or 3.x, which
reads the v2 format) and the reverse.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

import zarrkit
from conftest import ZARR2, needs_zarr2
from zarrkit.errors import (
    ContainsArrayError,
    ContainsGroupError,
    GroupNotFoundError,
    ReadOnlyError,
)
from zarrkit.hierarchy import Group, LazyLoader
from zarrkit.storage import DirectoryStore, KVStore, MemoryStore


def _norm(text: str) -> str:
    """zarrkit class paths written as zarr's, to compare outputs with real zarr 2."""
    return re.sub(r"\bzarrkit\.", "zarr.", text)


# -- a model of a hierarchy: path -> 'group' | 'array' -----------------------------------------


def model_create(model: dict[str, str], path: str, kind: str) -> type[Exception] | None:
    """Apply zarr 2's creation rules to ``model``; return the error expected, if any."""
    segments = path.split("/")
    for i in range(1, len(segments)):
        if model.get("/".join(segments[:i])) == "array":
            return ContainsArrayError
    if path in model:
        return ContainsArrayError if model[path] == "array" else ContainsGroupError
    for i in range(1, len(segments)):
        model.setdefault("/".join(segments[:i]), "group")
    model[path] = kind
    return None


def model_children(model: dict[str, str], parent: str) -> list[str]:
    prefix = parent + "/" if parent else ""
    return sorted(
        p[len(prefix) :] for p in model if p.startswith(prefix) and "/" not in p[len(prefix) :]
    )


def model_preorder(model: dict[str, str], parent: str = "") -> list[str]:
    """Every path below ``parent`` (relative to it), depth first, children sorted by name."""
    out = []
    for name in model_children(model, parent):
        full = f"{parent}/{name}" if parent else name
        out.append(full)
        out += model_preorder(model, full)
    return out


def build(lib: Any, root: Any, ops: list[tuple[str, str]]) -> list[str | None]:
    """Run creation ops on ``root`` of library ``lib``; return each op's error name or None."""
    outcomes: list[str | None] = []
    for path, kind in ops:
        try:
            if kind == "group":
                root.create_group(path)
            else:
                root.zeros(path, shape=(3,), chunks=(2,), dtype="i2")
            outcomes.append(None)
        except Exception as e:  # noqa: BLE001 - the error type is the outcome
            outcomes.append(type(e).__name__)
    return outcomes


names = st.sampled_from(["a", "b", "c1", "_d", "x y"])
paths = st.lists(names, min_size=1, max_size=3).map("/".join)
ops_strategy = st.lists(st.tuples(paths, st.sampled_from(["group", "array"])), max_size=12)


# -- creating and opening ------------------------------------------------------------------------


def test_group_defaults_to_memory_store_and_root_names() -> None:
    g = zarrkit.group()
    assert type(g) is Group and type(g).__module__ == "zarrkit.hierarchy"
    assert isinstance(g.store, MemoryStore)
    assert repr(g) == "<zarrkit.hierarchy.Group '/'>"
    assert (g.name, g.basename, g.path) == ("/", "", "")
    assert g.read_only is False and g.chunk_store is g.store and g.synchronizer is None
    assert json.loads(g.store[".zgroup"]) == {"zarr_format": 2}
    assert zarrkit.Group is Group and zarrkit.group is zarrkit.hierarchy.group


def test_group_reopens_existing_and_overwrite_clears(new_store: Callable[[], Any]) -> None:
    store = new_store()
    g = zarrkit.group(store)
    g.zeros("a", shape=2)
    assert list(zarrkit.group(store)) == ["a"]
    assert list(zarrkit.group(store, overwrite=True)) == []


def test_group_at_path_and_over_an_array(new_store: Callable[[], Any]) -> None:
    store = new_store()
    g = zarrkit.group(store, path="/x/y/")
    assert g.path == "x/y" and g.name == "/x/y" and g.basename == "y"
    assert zarrkit.open_group(store, mode="r").group_keys().__next__() == "x"
    zarrkit.zeros(3, store=store, path="arr")
    with pytest.raises(ContainsArrayError):
        zarrkit.group(store, path="arr")
    g2 = zarrkit.group(store, path="arr", overwrite=True)
    assert len(g2) == 0 and "arr" not in g2


# Expected outcome of open_group for each (what is at the path, mode), as documented for zarr 2.
OPEN_GROUP_TABLE = {
    ("nothing", "r"): GroupNotFoundError,
    ("nothing", "r+"): GroupNotFoundError,
    ("nothing", "a"): "created",
    ("nothing", "w"): "created",
    ("nothing", "w-"): "created",
    ("nothing", "x"): "created",
    ("group", "r"): "kept",
    ("group", "r+"): "kept",
    ("group", "a"): "kept",
    ("group", "w"): "emptied",
    ("group", "w-"): ContainsGroupError,
    ("group", "x"): ContainsGroupError,
    ("array", "r"): ContainsArrayError,
    ("array", "r+"): ContainsArrayError,
    ("array", "a"): ContainsArrayError,
    ("array", "w"): "created",
    ("array", "w-"): ContainsArrayError,
    ("array", "x"): ContainsArrayError,
}


@pytest.mark.parametrize(("initial", "mode"), list(OPEN_GROUP_TABLE))
def test_open_group_modes(initial: str, mode: str, new_store: Callable[[], Any]) -> None:
    store = new_store()
    if initial == "group":
        zarrkit.group(store, path="p").zeros("member", shape=1)
    elif initial == "array":
        zarrkit.zeros(4, store=store, path="p")
    expected = OPEN_GROUP_TABLE[(initial, mode)]
    if isinstance(expected, type):
        with pytest.raises(expected):
            zarrkit.open_group(store, mode=mode, path="p")
        return
    g = zarrkit.open_group(store, mode=mode, path="p")
    assert g.read_only == (mode == "r")
    assert list(g) == (["member"] if expected == "kept" else [])
    assert "p/.zarray" not in store


@needs_zarr2
@pytest.mark.parametrize(("initial", "mode"), list(OPEN_GROUP_TABLE))
def test_open_group_modes_match_zarr2(initial: str, mode: str) -> None:
    results = []
    for lib in (zarr, zarrkit):
        store: dict = {}
        if initial == "group":
            lib.group(store, path="p").zeros("member", shape=1)
        elif initial == "array":
            lib.zeros(4, store=store, path="p")
        try:
            g = lib.open_group(store, mode=mode, path="p")
            results.append((list(g), g.read_only, sorted(store)))
        except Exception as e:  # noqa: BLE001
            results.append(type(e).__name__)
    assert results[0] == results[1]


def test_open_group_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="mode"):
        zarrkit.open_group(MemoryStore(), mode="rw")


def test_open_group_on_a_path_makes_a_directory_store(tmp_path: Any) -> None:
    where = str(tmp_path / "g.zarr")
    g = zarrkit.open_group(where, mode="w")
    assert isinstance(g.store, DirectoryStore)
    g.create_group("sub")
    assert os.path.isfile(os.path.join(where, "sub", ".zgroup"))
    assert list(zarrkit.open_group(where, mode="r")) == ["sub"]
    g2 = zarrkit.open(where, mode="r")
    assert isinstance(g2, Group) and g2.read_only


def test_group_constructor_errors(new_store: Callable[[], Any]) -> None:
    store = new_store()
    with pytest.raises(GroupNotFoundError):
        Group(store)
    zarrkit.zeros(2, store=store, path="a")
    with pytest.raises(ContainsArrayError):
        Group(store, path="a")
    g = Group(dict(zarrkit.group().store))  # a plain dict holding a root group
    assert isinstance(g.store, KVStore) and list(g) == []


# -- members ---------------------------------------------------------------------------------


def test_tutorial_hierarchy(new_store: Callable[[], Any]) -> None:
    root = zarrkit.group(new_store())
    foo = root.create_group("foo")
    bar = foo.create_group("bar")
    z1 = bar.zeros("baz", shape=(100, 100), chunks=(10, 10), dtype="i4")
    z = bar.create_dataset("quux", shape=(100, 100), chunks=(10, 10), dtype="i4")
    assert repr(z1) == "<zarrkit.core.Array '/foo/bar/baz' (100, 100) int32>"
    assert repr(z) == "<zarrkit.core.Array '/foo/bar/quux' (100, 100) int32>"
    assert repr(root["foo"]) == "<zarrkit.hierarchy.Group '/foo'>"
    assert repr(root["foo/bar"]) == "<zarrkit.hierarchy.Group '/foo/bar'>"
    assert root["foo/bar/baz"] == z1
    assert root.foo.bar.quux == z
    assert repr(root.tree()) == (
        "/\n"
        " └── foo\n"
        "     └── bar\n"
        "         ├── baz (100, 100) int32\n"
        "         └── quux (100, 100) int32"
    )


def test_deep_member_creation_makes_intermediate_groups(new_store: Callable[[], Any]) -> None:
    root = zarrkit.group(new_store())
    z = root.zeros("foo/bar/baz", shape=(6,), chunks=(4,), dtype="u1")
    z[:] = np.arange(6)
    assert isinstance(root["foo"], Group) and isinstance(root["foo/bar"], Group)
    np.testing.assert_array_equal(root["foo"]["bar"]["baz"][:], np.arange(6))
    g = root.create_group("p/q/r")
    assert g.name == "/p/q/r" and root["p/q"].basename == "q"


def test_mapping_interface(new_store: Callable[[], Any]) -> None:
    root = zarrkit.group(new_store())
    root.create_group("g2")
    root.create_group("g1")
    root.zeros("a2", shape=1)
    root.zeros("a1", shape=1)
    root.store["stray"] = b"not a member"
    expected = ["a1", "a2", "g1", "g2"]
    assert list(root) == expected and list(root.keys()) == expected and len(root) == 4
    assert [v.name for v in root.values()] == ["/" + k for k in expected]
    assert [k for k, _ in root.items()] == expected
    assert list(root.group_keys()) == ["g1", "g2"]
    assert [(k, v.path) for k, v in root.groups()] == [("g1", "g1"), ("g2", "g2")]
    assert list(root.array_keys()) == ["a1", "a2"]
    assert all(isinstance(v, zarrkit.Array) for _, v in root.arrays())
    assert "g1" in root and "a1" in root and "stray" not in root and "nope" not in root
    with pytest.raises(KeyError):
        root["nope"]
    with pytest.raises(KeyError):
        root["stray"]
    assert root.get("nope") is None
    assert root._ipython_key_completions_() == expected


def test_array_keys_recurse() -> None:
    root = zarrkit.group()
    for p in ["z", "a/y", "a/b/x", "c/w"]:
        root.zeros(p, shape=1)
    root.create_group("a/empty")
    assert list(root.array_keys(recurse=True)) == ["x", "y", "w", "z"]
    assert [a.path for _, a in root.arrays(recurse=True)] == ["a/b/x", "a/y", "c/w", "z"]


def test_member_paths_are_normalised_and_absolute_from_subgroups() -> None:
    root = zarrkit.group()
    sub = root.create_group("sub")
    assert root.create_group("//x//").path == "x"
    assert root.create_group("y/").path == "y"
    assert sub.create_group("/top").path == "top"  # '/' at the start: from the root
    assert sub["/sub"] == sub and sub["/x"] == root["x"]
    assert sub.create_group("inner").path == "sub/inner"
    assert root[""] == root and sub[""] == sub  # as zarr 2: the empty name is the group itself
    for bad in ["..", "a/../b", "./b", "sub/."]:
        with pytest.raises(ValueError):
            root[bad]
        with pytest.raises(ValueError):
            root.create_group(bad)
        with pytest.raises(ValueError):
            root.zeros(bad, shape=1)


def test_empty_name_cannot_be_created() -> None:
    root = zarrkit.group()
    sub = root.create_group("sub")
    with pytest.raises(ContainsGroupError):
        root.create_group("")
    with pytest.raises(ContainsGroupError):
        sub.zeros("", shape=1)


def test_creating_over_existing_members(new_store: Callable[[], Any]) -> None:
    root = zarrkit.group(new_store())
    root.create_group("g").zeros("inner", shape=1)
    a = root.zeros("a", shape=3)
    a[:] = 1
    with pytest.raises(ContainsGroupError):
        root.create_group("g")
    with pytest.raises(ContainsGroupError):
        root.zeros("g", shape=1)
    with pytest.raises(ContainsArrayError):
        root.create_group("a")
    with pytest.raises(ContainsArrayError):
        root.ones("a", shape=3)
    with pytest.raises(ContainsArrayError):
        root.create_group("a/below")  # an array cannot have members
    with pytest.raises(ContainsArrayError):
        root.require_group("a")
    g = root.create_group("g", overwrite=True)
    assert list(g) == []
    z = root.ones("a", shape=2, overwrite=True)
    np.testing.assert_array_equal(z[:], np.ones(2))


@settings(max_examples=60, deadline=None)
@given(ops=ops_strategy)
def test_random_hierarchies_follow_the_model(ops: list[tuple[str, str]]) -> None:
    model: dict[str, str] = {}
    expected = [model_create(model, p, k) for p, k in ops]
    root = zarrkit.group()
    got = build(zarrkit, root, ops)
    assert got == [None if e is None else e.__name__ for e in expected]
    for path, kind in model.items():
        member = root[path]
        assert isinstance(member, Group if kind == "group" else zarrkit.Array)
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        assert list(root[parent] if parent else root) == model_children(model, parent)
    visited: list[str] = []
    root.visit(visited.append)
    assert visited == model_preorder(model)
    groups = [p for p, k in model.items() if k == "group" and "/" not in p]
    assert list(root.group_keys()) == sorted(groups)
    _check_tree_text(repr(root.tree()), model)


@needs_zarr2
@settings(max_examples=60, deadline=None)
@given(ops=ops_strategy)
def test_random_hierarchies_match_zarr2(ops: list[tuple[str, str]]) -> None:
    ref, ours = zarr.group(), zarrkit.group()
    assert build(zarrkit, ours, ops) == build(zarr, ref, ops)
    assert repr(ours.tree()) == repr(ref.tree())
    assert bytes(ours.tree()) == bytes(ref.tree())
    assert _norm(repr(ours.info)) == repr(ref.info)
    assert dict(ours.store) == dict(ref.store)
    a: list = []
    b: list = []
    ref.visititems(lambda n, o: a.append((n, repr(o))))
    ours.visititems(lambda n, o: b.append((n, _norm(repr(o)))))
    assert a == b


def test_require_group(new_store: Callable[[], Any]) -> None:
    root = zarrkit.group(new_store())
    g = root.require_group("a/b")
    g.zeros("x", shape=1)
    again = root.require_group("a/b")
    assert again == g and list(again) == ["x"]
    a, b = root.require_groups("a", "c")
    assert (a.path, b.path) == ("a", "c")
    assert root.create_groups("d", "e/f")[1].name == "/e/f"


DTYPE_PAIRS = [
    (want, have)
    for have in ["i2", "i4", "f4", "f8", "u1", "c16"]
    for want in ["i1", "i4", "i8", "u2", "f4", "f8", "c8", None]
]


@pytest.mark.parametrize(("want", "have"), DTYPE_PAIRS)
def test_require_dataset_dtype_rules(want: Any, have: str) -> None:
    root = zarrkit.group()
    existing = root.zeros("d", shape=(4, 2), chunks=(2, 2), dtype=have)
    if np.can_cast(np.dtype(want), np.dtype(have)):
        assert root.require_dataset("d", shape=(4, 2), dtype=want) == existing
    else:
        with pytest.raises(TypeError, match="cast"):
            root.require_dataset("d", shape=(4, 2), dtype=want)
    if np.dtype(want) == np.dtype(have):
        assert root.require_dataset("d", shape=(4, 2), dtype=want, exact=True) == existing
    else:
        with pytest.raises(TypeError, match="exactly"):
            root.require_dataset("d", shape=(4, 2), dtype=want, exact=True)


def test_require_dataset_creates_and_checks_shape(new_store: Callable[[], Any]) -> None:
    root = zarrkit.group(new_store())
    z = root.require_dataset("x/y", shape=(5, 3), chunks=(2, 2), dtype="i4", fill_value=7)
    np.testing.assert_array_equal(z[:], np.full((5, 3), 7, dtype="i4"))
    assert root.require_dataset("x/y", shape=[5, 3], dtype="i2") == z
    with pytest.raises(TypeError, match="shape"):
        root.require_dataset("x/y", shape=(5, 4), dtype="i4")
    with pytest.raises(ContainsGroupError):
        root.require_dataset("x", shape=(5, 3), dtype="i4")


@needs_zarr2
def test_require_dataset_messages_match_zarr2() -> None:
    msgs = []
    for lib in (zarr, zarrkit):
        g = lib.group()
        g.zeros("d", shape=3, dtype="i2")
        row = []
        for kw in ({"shape": 4, "dtype": "i2"}, {"shape": 3, "dtype": "f8"}):
            with pytest.raises(TypeError) as info:
                g.require_dataset("d", **kw)
            row.append(str(info.value))
        with pytest.raises(TypeError) as info:
            g.require_dataset("d", shape=3, dtype="i1", exact=True)
        row.append(str(info.value))
        msgs.append(row)
    assert msgs[0] == msgs[1]


# -- creation forwarders --------------------------------------------------------------------------


def test_creation_methods_match_numpy(new_store: Callable[[], Any]) -> None:
    root = zarrkit.group(new_store())
    src = np.arange(24, dtype="i4").reshape(4, 6)
    cases = {
        "zeros": (
            root.zeros("m/zeros", shape=(4, 6), chunks=(3, 4), dtype="i4"),
            np.zeros_like(src),
        ),
        "ones": (root.ones("m/ones", shape=(4, 6), chunks=(3, 4), dtype="i4"), np.ones_like(src)),
        "full": (root.full("m/full", 9, shape=(4, 6), dtype="i4"), np.full_like(src, 9)),
        "array": (root.array("m/array", src, chunks=(2, 2)), src),
        "create_dataset": (root.create_dataset("m/cd", data=src), src),
        "create": (root.create("m/create", shape=(4, 6), dtype="i4", fill_value=3), src * 0 + 3),
        "zeros_like": (root.zeros_like("m/zl", src), np.zeros_like(src)),
        "ones_like": (root.ones_like("m/ol", src), np.ones_like(src)),
        "full_like": (root.full_like("m/fl", src, fill_value=-1), np.full_like(src, -1)),
    }
    for name, (z, expected) in cases.items():
        assert z.path.startswith("m/"), name
        assert z.dtype == expected.dtype, name
        np.testing.assert_array_equal(z[:], expected, err_msg=name)
        assert root[z.path] == z, name
    e = root.empty("m/empty", shape=(3, 2), dtype="f4")
    assert (e.shape, e.dtype, e.fill_value) == ((3, 2), np.dtype("f4"), None)
    el = root.empty_like("m/el", root["m/array"])
    assert (el.shape, el.chunks, el.dtype) == ((4, 6), (2, 2), src.dtype)
    assert sorted(root["m"]) == sorted(
        ["zeros", "ones", "full", "array", "cd", "create", "zl", "ol", "fl", "empty", "el"]
    )


def test_open_like_and_setitem(new_store: Callable[[], Any]) -> None:
    root = zarrkit.group(new_store())
    tmpl = root.full("t", 5, shape=(4,), chunks=(3,), dtype="u2")
    z = root.open_like("o/like", tmpl)
    assert (z.shape, z.chunks, z.dtype, z.fill_value) == ((4,), (3,), np.dtype("u2"), 5)
    z[:2] = 1
    np.testing.assert_array_equal(root.open_like("o/like", tmpl)[:], [1, 1, 5, 5])
    root["s"] = [[1.5, 2.5]]
    np.testing.assert_array_equal(root["s"][:], np.array([[1.5, 2.5]]))
    root["s"] = np.arange(3)  # replaces
    np.testing.assert_array_equal(root["s"][:], np.arange(3))
    with pytest.raises(TypeError, match="mode"):
        root.zeros("m", shape=1, mode="w")


def test_chunk_store_and_synchronizer_are_forwarded(new_store: Callable[[], Any]) -> None:
    store, chunks = new_store(), new_store()
    sync = zarrkit.ThreadSynchronizer()
    root = zarrkit.group(store, chunk_store=chunks, synchronizer=sync)
    z = root.zeros("a/b", shape=(4,), chunks=(2,), dtype="i1")
    z[:] = 3
    assert z.synchronizer is sync and root["a"].synchronizer is sync
    assert z.chunk_store is chunks
    assert sorted(k for k in chunks if not k.startswith(".")) == ["a/b/0", "a/b/1"]
    assert "a/b/0" not in store and "a/b/.zarray" in store
    np.testing.assert_array_equal(root["a/b"][:], [3, 3, 3, 3])
    root.move("a", "c")
    np.testing.assert_array_equal(root["c/b"][:], [3, 3, 3, 3])
    assert "c/b/0" in chunks and "a/b/0" not in chunks
    del root["c"]
    assert not any(k.startswith("c/") for k in chunks) and "c" not in root
    info = dict(root.info_items())
    assert info["Synchronizer type"] == "zarrkit.sync.ThreadSynchronizer"
    assert info["Chunk store type"] == f"zarrkit.storage.{type(chunks).__name__}"


def test_group_writes_are_serialised_by_the_synchronizer() -> None:
    sync = zarrkit.ThreadSynchronizer()
    root = zarrkit.group(synchronizer=sync)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for j in range(10):
                root.require_group(f"shared/g{j}")
                root.zeros(f"t{i}/a{j}", shape=2)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(root["shared"]) == 10 and all(len(root[f"t{i}"]) == 10 for i in range(4))


# -- deleting and moving ---------------------------------------------------------------------


def test_delitem_removes_member_and_its_chunks(new_store: Callable[[], Any]) -> None:
    root = zarrkit.group(new_store())
    z = root.zeros("g/a", shape=(4,), chunks=(2,))
    z[:] = 1
    root.zeros("g2", shape=1)
    del root["g/a"]
    assert "g/a" not in root and list(root["g"]) == []
    assert not any(k.startswith("g/a") for k in root.store)
    del root["g"]
    assert list(root) == ["g2"]
    with pytest.raises(KeyError):
        del root["g"]


def test_move(new_store: Callable[[], Any]) -> None:
    root = zarrkit.group(new_store())
    z = root.zeros("src/arr", shape=(3,), chunks=(2,), dtype="i4")
    z[:] = [1, 2, 3]
    root["src"].attrs["k"] = "v"
    root.move("src", "deep/er/dst")
    assert "src" not in root and isinstance(root["deep/er"], Group)
    np.testing.assert_array_equal(root["deep/er/dst/arr"][:], [1, 2, 3])
    assert root["deep/er/dst"].attrs["k"] == "v"
    sub = root["deep"]
    sub.move("er/dst/arr", "moved")  # relative to the group
    np.testing.assert_array_equal(root["deep/moved"][:], [1, 2, 3])
    with pytest.raises(ValueError, match="does not exist"):
        root.move("nothing", "x")
    root.create_group("taken")
    with pytest.raises(ValueError, match="already exists"):
        root.move("deep", "taken")


# -- attribute access and dir --------------------------------------------------------------


def test_attribute_access_to_members() -> None:
    root = zarrkit.group()
    root.create_group("foo").zeros("bar", shape=1)
    root.create_group("_repr_html_")
    root.create_group("_ipython_display_")
    root.create_group("x y")
    root.create_group("class")
    root.create_group("_private")
    assert root.foo == root["foo"] and root.foo.bar == root["foo/bar"]
    assert root._private == root["_private"]
    # rich-display probes answer None (plain repr), never with the member of that name
    for probe in ["_repr_html_", "_repr_mimebundle_", "_repr_json_"]:
        assert getattr(root, probe)() is None, probe
    for probe in ["_ipython_display_", "_ipython_canary_method_should_not_exist_", "__array__"]:
        assert not hasattr(root, probe), probe
    with pytest.raises(AttributeError):
        _ = root.nope
    listing = dir(root)
    assert "foo" in listing and "_private" in listing and "create_group" in listing
    assert "x y" not in listing and "class" not in listing


def test_broken_instances_do_not_recurse() -> None:
    g = Group.__new__(Group)
    with pytest.raises(AttributeError):
        _ = g.anything


# -- visiting ---------------------------------------------------------------------------------


def test_visit_functions() -> None:
    model: dict[str, str] = {}
    root = zarrkit.group()
    for path, kind in [("b/x", "array"), ("a/c/d", "group"), ("a/b", "array"), ("c", "group")]:
        model_create(model, path, kind)
        build(zarrkit, root, [(path, kind)])
    order = model_preorder(model)
    seen: list[str] = []
    assert root.visit(seen.append) is None and seen == order
    seen_keys: list[str] = []
    root.visitkeys(seen_keys.append)
    assert seen_keys == order
    items: list[tuple[str, str]] = []
    root.visititems(lambda name, obj: items.append((name, obj.path)))
    assert items == [(p, p) for p in order]
    values: list[str] = []
    root.visitvalues(lambda obj: values.append(obj.name))
    assert values == ["/" + p for p in order]
    # relative to a sub-group
    sub: list[str] = []
    root["a"].visit(sub.append)
    assert sub == [p[2:] for p in order if p.startswith("a/")]
    # the first result that is not None stops the walk
    assert root.visit(lambda p: p if p.endswith("d") else None) == "a/c/d"
    assert root.visititems(lambda n, o: o if isinstance(o, zarrkit.Array) else None) == root["a/b"]


# -- tree ---------------------------------------------------------------------------------------


def _check_tree_text(text: str, model: dict[str, str], root_label: str = "/") -> None:
    """Read the drawing back: each line's depth and name must give the model's pre-order."""
    lines = text.split("\n")
    assert lines[0] == root_label
    stack: list[str] = []
    got = []
    for line in lines[1:]:
        m = re.match(r"^ ((?:[│ ]   )*)([├└])── (.*)$", line)
        assert m, line
        depth = len(m.group(1)) // 4
        name = m.group(3)
        path_guess = "/".join([*stack[:depth], name])
        if path_guess not in model:  # an array: the label ends with shape and dtype
            name = name.rsplit(" (", 1)[0]
        stack[depth:] = [name]
        got.append("/".join(stack))
    assert got == model_preorder(model)
    for path in got:
        if model[path] == "array":
            assert f"{path.rsplit('/', 1)[-1]} (3,) int16" in text


def test_tree_of_the_diagnostics_section() -> None:
    root = zarrkit.group()
    foo = root.create_group("foo")
    foo.zeros("bar", shape=1000000, chunks=100000, dtype="i8")
    foo.zeros("baz", shape=(1000, 1000), chunks=(100, 100), dtype="f4")
    assert repr(root.tree()) == (
        "/\n └── foo\n     ├── bar (1000000,) int64\n     └── baz (1000, 1000) float32"
    )
    assert str(zarrkit.tree(root)) == repr(root.tree())
    assert repr(foo.tree()) == "foo\n ├── bar (1000000,) int64\n └── baz (1000, 1000) float32"
    assert repr(zarrkit.group().tree()) == "/"


def test_tree_level_bytes_and_html() -> None:
    root = zarrkit.group()
    root.zeros("a/b/c", shape=3, dtype="i2")
    root.create_group("a/<d>")
    root.create_group("z")
    full = repr(root.tree()).split("\n")
    assert repr(root.tree(level=1)).split("\n") == [full[0], full[1], full[-1]]
    assert repr(root.tree(level=0)) == "/"
    assert bytes(root.tree()).decode() == (
        repr(root.tree()).replace("├", "+").replace("└", "+").replace("─", "-").replace("│", "|")
    )
    html = root.tree()._repr_html_()
    assert html.count("<li>") == 6 and "&lt;d&gt;" in html and "<d>" not in html
    assert "c (3,) int16" in html
    assert html.count("<details open>") == 1  # only the root is open by default
    assert root.tree(expand=True)._repr_html_().count("<details open>") == 3
    assert root.tree(expand=2)._repr_html_().count("<details open>") == 2
    assert root.tree(level=1)._repr_html_().count("<li>") == 3


def test_tree_with_members_named_like_array_attributes() -> None:
    root = zarrkit.group()
    for name in ["shape", "dtype", "values"]:
        root.create_group(f"g/{name}")
    root.zeros("g/values/a", shape=3, dtype="i2")
    model: dict[str, str] = {}
    for path, kind in [("g/shape", "group"), ("g/dtype", "group"), ("g/values/a", "array")]:
        model_create(model, path, kind)
    _check_tree_text(repr(root.tree()), model)
    assert '<li><span class="zarrkit-tree-group">shape</span></li>' in root.tree()._repr_html_()


def test_tree_of_an_h5py_group(tmp_path: Any) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f.create_dataset("g/ds", data=np.arange(4, dtype="u2"))
        f.create_group("h")
        assert repr(zarrkit.tree(f)) == "/\n ├── g\n │   └── ds (4,) uint16\n └── h"


# -- info -----------------------------------------------------------------------------------


def test_info_text_as_in_the_tutorial() -> None:
    root = zarrkit.group()
    foo = root.create_group("foo")
    foo.zeros("bar", shape=10, dtype="i8")
    foo.zeros("baz", shape=10, dtype="f4")
    assert _norm(repr(root.info)) == (
        "Name        : /\n"
        "Type        : zarr.hierarchy.Group\n"
        "Read-only   : False\n"
        "Store type  : zarr.storage.MemoryStore\n"
        "No. members : 1\n"
        "No. arrays  : 0\n"
        "No. groups  : 1\n"
        "Groups      : foo\n"
    )
    assert _norm(repr(foo.info)).split("\n")[0] == "Name        : /foo"
    assert dict(foo.info_items())["Arrays"] == "bar, baz"
    assert "Groups" not in dict(foo.info_items())
    assert "<table" in foo.info._repr_html_() and "bar, baz" in foo.info._repr_html_()


@needs_zarr2
def test_info_matches_zarr2() -> None:
    outs = []
    for lib in (zarr, zarrkit):
        root = lib.group(chunk_store=lib.MemoryStore(), synchronizer=lib.ThreadSynchronizer())
        root.create_group("foo").zeros("a", shape=1)
        root.zeros("b", shape=1)
        outs.append((_norm(repr(root.info)), _norm(repr(root["foo"].info))))
    assert outs[0] == outs[1]


# -- attributes ---------------------------------------------------------------------------------


def test_attrs_are_stored_as_json(new_store: Callable[[], Any]) -> None:
    store = new_store()
    root = zarrkit.group(store)
    root.attrs["foo"] = "bar"
    sub = root.create_group("sub")
    sub.attrs.update(a=1, b=[1, 2])
    assert json.loads(store[".zattrs"]) == {"foo": "bar"}
    assert json.loads(store["sub/.zattrs"]) == {"a": 1, "b": [1, 2]}
    assert dict(zarrkit.open_group(store, mode="r")["sub"].attrs) == {"a": 1, "b": [1, 2]}
    cached = zarrkit.open_group(store)
    uncached = zarrkit.open_group(store, cache_attrs=False)
    assert cached.attrs["foo"] == "bar"
    root.attrs["foo"] = "changed"
    assert uncached.attrs["foo"] == "changed"
    assert uncached["sub"].attrs.cache is False


# -- read-only ------------------------------------------------------------------------------


def test_read_only_group_refuses_every_write(new_store: Callable[[], Any]) -> None:
    store = new_store()
    root = zarrkit.group(store)
    root.zeros("a", shape=2)
    root.create_group("g")
    ro = zarrkit.open_group(store, mode="r")
    assert repr(ro) == "<zarrkit.hierarchy.Group '/' read-only>"
    writes: list[Callable[[], Any]] = [
        lambda: ro.create_group("new"),
        lambda: ro.require_group("g"),
        lambda: ro.require_groups("x"),
        lambda: ro.zeros("new", shape=1),
        lambda: ro.create_dataset("new", shape=1),
        lambda: ro.require_dataset("a", shape=2),
        lambda: ro.array("new", [1]),
        lambda: ro.full("new", 1, shape=1),
        lambda: ro.zeros_like("new", np.zeros(1)),
        lambda: ro.open_like("new", np.zeros(1)),
        lambda: ro.__setitem__("new", [1]),
        lambda: ro.__delitem__("a"),
        lambda: ro.move("a", "b"),
        lambda: ro.attrs.__setitem__("k", 1),
        lambda: ro["g"].create_group("x"),
        lambda: ro["a"].__setitem__(0, 1),
        lambda: ro["g"].attrs.update(k=1),
    ]
    for i, write in enumerate(writes):
        with pytest.raises(ReadOnlyError):
            write()
        assert sorted(store) == sorted(root.store), i
    assert ro["g"].read_only and ro["a"].read_only
    assert sorted(ro) == ["a", "g"]


# -- object protocol ----------------------------------------------------------------------------


def test_equality_and_hash() -> None:
    root = zarrkit.group()
    sub = root.create_group("sub")
    assert root == Group(root.store) and sub == root["sub"]
    assert root != sub and root != Group(root.store, read_only=True)
    assert root != zarrkit.group()  # another store
    with pytest.raises(TypeError):
        hash(root)


class _ClosingStore(MemoryStore):
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_context_manager_closes_the_store(tmp_path: Any) -> None:
    store = _ClosingStore()
    with zarrkit.group(store) as g:
        assert isinstance(g, Group)
        g.create_group("x")
    assert store.closed == 1
    with zarrkit.open_group(str(tmp_path / "d.zarr"), mode="w") as g:
        g.zeros("a", shape=1)
    assert list(zarrkit.open_group(str(tmp_path / "d.zarr"), mode="r")) == ["a"]


def test_pickle_memory_group_carries_data() -> None:
    root = zarrkit.group()
    z = root.array("x/y", np.arange(1000), chunks=100)
    root.attrs["k"] = 1
    s = pickle.dumps(root)
    assert len(s) > 1000
    back = pickle.loads(s)
    assert back == root and back.attrs["k"] == 1
    np.testing.assert_array_equal(back["x/y"][:], z[:])
    sub = pickle.loads(pickle.dumps(root["x"]))
    assert sub.path == "x" and list(sub) == ["y"]


def test_pickle_directory_group_carries_parameters(tmp_path: Any) -> None:
    root = zarrkit.open_group(str(tmp_path / "p.zarr"), mode="w")
    root.array("a", np.arange(100000), chunks=10000)
    ro = zarrkit.open_group(str(tmp_path / "p.zarr"), mode="r", path="", cache_attrs=False)
    s = pickle.dumps(ro)
    assert len(s) < 1000
    back = pickle.loads(s)
    assert back == ro and back.read_only and back.attrs.cache is False
    root.zeros("later", shape=1)  # written after pickling: seen, as data is not in the pickle
    assert sorted(back) == ["a", "later"]


# -- load and LazyLoader --------------------------------------------------------------------


def test_load_group_is_lazy(tmp_path: Any) -> None:
    where = str(tmp_path / "s.zarr")
    a, b = np.arange(5), np.linspace(0, 1, 7)
    zarrkit.save(where, a, b, named=np.eye(2))
    loaded = zarrkit.load(where)
    assert isinstance(loaded, LazyLoader)
    assert repr(loaded) == "<LazyLoader: arr_0, arr_1, named>"
    assert len(loaded) == 3 and list(loaded) == ["arr_0", "arr_1", "named"]
    assert "arr_0" in loaded and "nope" not in loaded
    assert loaded.cache == {}
    first = loaded["arr_1"]
    np.testing.assert_array_equal(first, b)
    assert loaded["arr_1"] is first and list(loaded.cache) == ["arr_1"]
    np.testing.assert_array_equal(loaded["named"], np.eye(2))
    with pytest.raises(KeyError):
        loaded["nope"]


# -- interoperability with zarr-python -------------------------------------------------------


def _write_with_zarrkit(where: str) -> None:
    root = zarrkit.open_group(where, mode="w")
    root.attrs["title"] = "written by zarrkit"
    z = root.zeros("foo/bar/baz", shape=(5, 7), chunks=(2, 3), dtype="i4")
    z[:] = np.arange(35).reshape(5, 7)
    root.create_group("empty")
    nested = root.create_group("n")
    nested.attrs["depth"] = 1
    nested.array("d", np.linspace(0, 1, 9), chunks=4, dimension_separator="/")


def _check_written(read_root: Any, read_array: Callable[[Any], np.ndarray]) -> None:
    assert dict(read_root.attrs) == {"title": "written by zarrkit"}
    assert sorted(read_root.group_keys()) == ["empty", "foo", "n"]
    np.testing.assert_array_equal(read_array(read_root["foo/bar/baz"]), np.arange(35).reshape(5, 7))
    np.testing.assert_array_equal(read_array(read_root["n/d"]), np.linspace(0, 1, 9))
    assert dict(read_root["n"].attrs) == {"depth": 1}


def test_zarr_python_reads_hierarchy_written_by_zarrkit(tmp_path: Any) -> None:
    where = str(tmp_path / "k.zarr")
    _write_with_zarrkit(where)
    ref = zarr.open_group(where, mode="r")
    _check_written(ref, lambda a: a[...])
    if ZARR2:
        assert repr(ref.tree()) == repr(zarrkit.open_group(where, mode="r").tree())


def test_zarrkit_reads_hierarchy_written_by_zarr_python(tmp_path: Any) -> None:
    where = str(tmp_path / "z.zarr")
    if ZARR2:
        root = zarr.open_group(where, mode="w")
        z = root.zeros("foo/bar/baz", shape=(5, 7), chunks=(2, 3), dtype="i4")
        root.create_group("n").array("d", np.linspace(0, 1, 9), chunks=4, dimension_separator="/")
    else:
        root = zarr.open_group(where, mode="w", zarr_format=2)
        z = root.create_array("foo/bar/baz", shape=(5, 7), chunks=(2, 3), dtype="i4")
        d = root.create_group("n").create_array(
            "d",
            shape=(9,),
            chunks=(4,),
            dtype="f8",
            chunk_key_encoding={"name": "v2", "separator": "/"},
        )
        d[:] = np.linspace(0, 1, 9)
    root.create_group("empty")
    z[:] = np.arange(35).reshape(5, 7)
    root.attrs["title"] = "written by zarrkit"
    root["n"].attrs["depth"] = 1
    ours = zarrkit.open_group(where, mode="r")
    _check_written(ours, lambda a: a[:])
    assert sorted(ours) == ["empty", "foo", "n"]
    visited: list[str] = []
    ours.visit(visited.append)
    assert visited == ["empty", "foo", "foo/bar", "foo/bar/baz", "n", "n/d"]


@needs_zarr2
def test_metadata_bytes_identical_to_zarr2() -> None:
    stores = []
    for lib in (zarr, zarrkit):
        store: dict = {}
        root = lib.group(store)
        root.attrs["a"] = {"nested": [1, 2.5, None, "ü"]}
        root.create_group("x/y").attrs["b"] = True
        root.require_group("r")
        stores.append({k: bytes(v) for k, v in store.items()})
    assert stores[0] == stores[1]


@needs_zarr2
def test_error_types_match_zarr2() -> None:
    def scenario(lib: Any) -> list[str]:
        out = []
        root = lib.group()
        root.create_group("g")
        root.zeros("a", shape=2)
        ro = lib.open_group(root.store, mode="r")
        actions: list[Callable[[], Any]] = [
            lambda: root["nope"],
            lambda: root[".."],
            lambda: root.create_group("g"),
            lambda: root.create_group("a"),
            lambda: root.zeros("a/b", shape=1),
            lambda: root.require_group("a"),
            lambda: root.require_dataset("g", shape=1),
            lambda: root.move("missing", "x"),
            lambda: root.move("a", "g"),
            lambda: root.__delitem__("nope"),
            lambda: ro.create_group("q"),
            lambda: ro.__delitem__("a"),
            lambda: lib.hierarchy.Group(root.store, path="a"),
            lambda: lib.hierarchy.Group(root.store, path="missing"),
            lambda: root.nope,
        ]
        for act in actions:
            try:
                act()
                out.append("ok")
            except Exception as e:  # noqa: BLE001
                out.append(type(e).__name__)
        return out

    assert scenario(zarrkit) == scenario(zarr)
