"""Convenience functions: consolidated metadata, copy/copy_all/copy_store, save/load, open.

Where zarr-python 2.x can be asked (the zarr 2 environment run), results are compared with
it: the bytes of ``.zmetadata``, copy logs, return values and the destination stores.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import sys
import tracemalloc
import types
from collections.abc import Iterator, MutableMapping
from typing import Any

import numpy as np
import pytest
import zarr
from numcodecs import Zlib

import zarrkit
import zarrkit.copying
from conftest import needs_zarr2, needs_zarr3
from zarrkit.errors import (
    ContainsGroupError,
    CopyError,
    MetadataError,
    PathNotFoundError,
    ReadOnlyError,
)
from zarrkit.hierarchy import Group, LazyLoader
from zarrkit.storage import (
    ConsolidatedMetadataStore,
    DBMStore,
    DirectoryStore,
    KVStore,
    MemoryStore,
    NestedDirectoryStore,
    SQLiteStore,
    ZipStore,
)


class CountingStore(MutableMapping):
    """A mapping that records every operation made on it (reads, probes, listings)."""

    def __init__(self, inner: MutableMapping | None = None) -> None:
        self.inner: MutableMapping = {} if inner is None else inner
        self.ops: list[tuple] = []

    def __getitem__(self, key: str) -> Any:
        self.ops.append(("get", key))
        return self.inner[key]

    def __contains__(self, key: object) -> bool:
        self.ops.append(("contains", key))
        return key in self.inner

    def getitems(self, keys: Any, *, contexts: Any = None) -> dict:
        keys = list(keys)
        self.ops.append(("getitems", tuple(keys)))
        return {k: self.inner[k] for k in keys if k in self.inner}

    def __setitem__(self, key: str, value: Any) -> None:
        self.ops.append(("set", key))
        self.inner[key] = value

    def __delitem__(self, key: str) -> None:
        self.ops.append(("del", key))
        del self.inner[key]

    def __iter__(self) -> Iterator[str]:
        self.ops.append(("iter",))
        return iter(list(self.inner))

    def __len__(self) -> int:
        self.ops.append(("len",))
        return len(self.inner)


ATTRS = {
    "title": "caf\u00e9 \u2603",
    "numbers": [1, -2.5, 1e300, 2**60],
    "special": [float("nan"), float("inf"), float("-inf")],
    "nested": {"b": [None, True, False], "a": {"deep": ["x", {"y": -1}]}},
    "empty": {},
}


def build(mod: Any, store: Any) -> Any:
    """The same hierarchy through ``mod`` (zarrkit or zarr-python 2.x), in ``store``."""
    root = mod.group(store)
    root.attrs.update(ATTRS)
    a = root.zeros("foo/bar/baz", shape=(20, 7), chunks=(6, 4), dtype="i4")
    a[:] = np.arange(140).reshape(20, 7)
    a.attrs["unit"] = "m"
    b = root.array("foo/f", np.linspace(0, 1, 13), chunks=5, compressor=Zlib(1))
    b.attrs["kind"] = "ramp"
    root.create_group("empty").attrs["n"] = 0
    root.array("s", np.array([b"ab", b"c"]), chunks=1)
    root.full("nofill", shape=(3,), fill_value=None, dtype="f8")
    return root


def walk(grp: Any) -> dict:
    """Everything a reader sees of a hierarchy's metadata, without reading chunks."""
    seen: dict[str, Any] = {"/": dict(grp.attrs.asdict())}

    def visit(name: str, obj: Any) -> None:
        entry: dict[str, Any] = {"attrs": obj.attrs.asdict()}
        if hasattr(obj, "shape"):
            entry.update(
                shape=obj.shape,
                chunks=obj.chunks,
                dtype=str(obj.dtype),
                compressor=repr(obj.compressor),
                filters=repr(obj.filters),
                fill_value=repr(obj.fill_value),
                order=obj.order,
            )
        else:
            entry["members"] = list(obj)
        seen[name] = entry

    grp.visititems(visit)
    seen["tree"] = repr(grp.tree())
    seen["keys"] = (list(grp.group_keys()), list(grp.array_keys()))
    return seen


# -- consolidate_metadata -------------------------------------------------------------------


def test_zmetadata_document_holds_every_metadata_key() -> None:
    store: dict = {}
    build(zarrkit, store)
    zarrkit.consolidate_metadata(store)
    doc = json.loads(store[".zmetadata"])
    assert doc["zarr_consolidated_format"] == 1
    meta_keys = sorted(
        k for k in store if k.rsplit("/", 1)[-1] in (".zarray", ".zgroup", ".zattrs")
    )
    assert sorted(doc["metadata"]) == meta_keys
    for k in meta_keys:
        assert json.dumps(doc["metadata"][k], sort_keys=True) == json.dumps(
            json.loads(store[k]), sort_keys=True
        )
    # written as zarr 2 writes JSON: indented by 4, sorted keys, ASCII only
    text = store[".zmetadata"].decode("ascii")
    assert text == json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=True)


@needs_zarr2
@pytest.mark.parametrize("writer", ["zarr2", "zarrkit"])
def test_zmetadata_bytes_identical_to_zarr2(writer: str) -> None:
    """The same hierarchy consolidated by zarr 2.18 and by zarrkit gives the same bytes."""
    theirs: dict = {}
    build(zarr if writer == "zarr2" else zarrkit, theirs)
    ours = dict(theirs)
    zarr.consolidate_metadata(theirs)
    zarrkit.consolidate_metadata(ours)
    assert ours[".zmetadata"] == theirs[".zmetadata"]
    # path only chooses the group returned; the document is the same (zarr 2's behaviour)
    theirs2, ours2 = dict(ours), dict(ours)
    g2 = zarr.consolidate_metadata(theirs2, metadata_key="meta", path="foo")
    gk = zarrkit.consolidate_metadata(ours2, metadata_key="meta", path="foo")
    assert ours2["meta"] == theirs2["meta"]
    assert sorted(ours2) == sorted(theirs2)
    assert gk.path == g2.path == "foo" and list(gk) == list(g2)


@needs_zarr2
def test_zmetadata_bytes_identical_to_zarr2_on_directory_store(tmp_path: Any) -> None:
    a, b = str(tmp_path / "a.zarr"), str(tmp_path / "b.zarr")
    build(zarrkit, DirectoryStore(a))
    build(zarrkit, DirectoryStore(b))
    zarr.consolidate_metadata(a)
    zarrkit.consolidate_metadata(b)
    assert (tmp_path / "a.zarr" / ".zmetadata").read_bytes() == (
        tmp_path / "b.zarr" / ".zmetadata"
    ).read_bytes()


def test_consolidate_returns_the_consolidated_group() -> None:
    store: dict = {}
    build(zarrkit, store)
    g = zarrkit.consolidate_metadata(store)
    assert isinstance(g, Group) and isinstance(g.store, ConsolidatedMetadataStore)
    assert walk(g) == walk(zarrkit.open_group(store, mode="r"))
    sub = zarrkit.consolidate_metadata(store, path="foo")
    assert sub.path == "foo" and isinstance(sub.store, ConsolidatedMetadataStore)


# -- open_consolidated ------------------------------------------------------------------------


@pytest.mark.parametrize("inner", ["dict", "directory"])
def test_open_consolidated_reads_all_metadata_with_one_store_read(
    inner: str, tmp_path: Any
) -> None:
    base = {} if inner == "dict" else DirectoryStore(str(tmp_path / "c.zarr"))
    build(zarrkit, base)
    zarrkit.consolidate_metadata(base)
    reference = walk(zarrkit.open_group(base, mode="r"))

    counting = CountingStore(base)
    root = zarrkit.open_consolidated(counting)
    seen = walk(root)
    sub = root["foo/bar"]
    seen_sub = walk(sub)
    assert counting.ops == [("get", ".zmetadata")]
    assert seen == reference
    assert seen_sub == walk(zarrkit.open_group(base, mode="r", path="foo/bar"))
    # data are read from the underlying store, as usual
    np.testing.assert_array_equal(root["foo/bar/baz"][:], np.arange(140).reshape(20, 7))
    assert all(op[0] != "get" or not op[1].endswith(".zarray") for op in counting.ops)


def test_open_consolidated_with_path_and_arrays() -> None:
    store: dict = {}
    build(zarrkit, store)
    zarrkit.consolidate_metadata(store)
    counting = CountingStore(store)
    g = zarrkit.open_consolidated(counting, path="foo/bar")
    assert isinstance(g, Group) and g.path == "foo/bar" and list(g) == ["baz"]
    a = zarrkit.open_consolidated(store, path="foo/f", mode="r")
    np.testing.assert_array_equal(a[:], np.linspace(0, 1, 13))
    assert counting.ops == [("get", ".zmetadata")]


def _snapshot(store: Any) -> dict:
    return {k: bytes(store[k]) for k in sorted(store)}


def test_open_consolidated_metadata_is_read_only_data_writable() -> None:
    store: dict = {}
    build(zarrkit, store)
    zarrkit.consolidate_metadata(store)
    root = zarrkit.open_consolidated(store)  # mode 'r+'
    before = _snapshot(store)
    baz = root["foo/bar/baz"]
    attempts = [
        lambda: root.create_group("new"),
        lambda: root.require_group("new"),
        lambda: root.zeros("z", shape=3),
        lambda: root.create_dataset("d", data=np.arange(3)),
        lambda: root.__setitem__("x", np.arange(3)),
        lambda: root.require_dataset("nope", shape=2, dtype="i4"),
        lambda: root["foo"].create_group("deeper"),
        lambda: root.__delitem__("empty"),
        lambda: root.move("empty", "moved"),
        lambda: baz.resize(40, 7),
        lambda: baz.append(np.zeros((1, 7), dtype="i4")),
        lambda: root.attrs.__setitem__("title", "changed"),
        lambda: root.attrs.__delitem__("title"),
        lambda: root.attrs.update(a=1),
        lambda: root.attrs.put({}),
        lambda: baz.attrs.__setitem__("unit", "km"),
        lambda: root["empty"].attrs.update(n=1),
    ]
    for attempt in attempts:
        with pytest.raises(ReadOnlyError):
            attempt()
    assert _snapshot(store) == before
    assert baz.shape == (20, 7) and root.attrs["title"] == ATTRS["title"]
    # array data stay writable, and land in the real store
    baz[0, :] = -1
    baz[5:7, 2] = 99
    plain = zarrkit.open_group(store, mode="r")["foo/bar/baz"][:]
    expected = np.arange(140).reshape(20, 7)
    expected[0, :] = -1
    expected[5:7, 2] = 99
    np.testing.assert_array_equal(plain, expected)


def test_open_consolidated_mode_r_refuses_data_writes() -> None:
    store: dict = {}
    build(zarrkit, store)
    zarrkit.consolidate_metadata(store)
    root = zarrkit.open_consolidated(store, mode="r")
    assert root.read_only
    with pytest.raises(ReadOnlyError):
        root["foo/bar/baz"][0, 0] = 1
    with pytest.raises(ValueError, match="mode"):
        zarrkit.open_consolidated(store, mode="a")
    with pytest.raises(ValueError, match="mode"):
        zarrkit.open_consolidated(store, mode="w")


def test_open_consolidated_is_a_snapshot_until_consolidated_again() -> None:
    store: dict = {}
    build(zarrkit, store)
    zarrkit.consolidate_metadata(store)
    zarrkit.open_group(store)["foo"].zeros("added", shape=2)
    assert "added" not in zarrkit.open_consolidated(store)["foo"]
    zarrkit.consolidate_metadata(store)
    assert "added" in zarrkit.open_consolidated(store)["foo"]


def test_open_consolidated_separate_chunk_store() -> None:
    meta: dict = {}
    chunks: dict = {}
    root = zarrkit.group(meta, chunk_store=chunks)
    root.array("a", np.arange(10), chunks=3)
    assert "a/0" in chunks and "a/0" not in meta
    zarrkit.consolidate_metadata(meta)
    g = zarrkit.open_consolidated(meta, chunk_store=chunks)
    np.testing.assert_array_equal(g["a"][:], np.arange(10))
    g["a"][:3] = 7
    assert zarrkit.open_group(meta, chunk_store=chunks)["a"][0] == 7


@pytest.mark.parametrize(
    "raw, match",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"metadata": {}}', "zarr_consolidated_format"),
        (b'{"zarr_consolidated_format": 2, "metadata": {}}', "zarr_consolidated_format"),
        (b'{"zarr_consolidated_format": 1}', "'metadata'"),
        (b"[1, 2]", "zarr_consolidated_format"),
    ],
)
@pytest.mark.parametrize("key", [".zmetadata", "custom/meta.json"])
def test_bad_zmetadata_is_a_clear_error_naming_the_key(raw: bytes, match: str, key: str) -> None:
    store: dict = {}
    zarrkit.group(store)
    store[key] = raw
    with pytest.raises(MetadataError, match=match) as info:
        zarrkit.open_consolidated(store, metadata_key=key)
    assert repr(key) in str(info.value)


def test_bad_entry_inside_zmetadata_names_its_key() -> None:
    store: dict = {}
    build(zarrkit, store)
    zarrkit.consolidate_metadata(store)
    doc = json.loads(store[".zmetadata"])
    doc["metadata"]["foo/f/.zarray"] = {"zarr_format": 2}
    store[".zmetadata"] = json.dumps(doc).encode()
    root = zarrkit.open_consolidated(store)
    with pytest.raises(MetadataError, match="foo/f/.zarray"):
        root["foo/f"]


def test_missing_zmetadata_is_a_key_error_naming_the_key() -> None:
    store: dict = {}
    zarrkit.group(store)
    with pytest.raises(KeyError, match=r"\.zmetadata"):
        zarrkit.open_consolidated(store)
    with pytest.raises(KeyError, match="sub/.zmetadata"):
        zarrkit.open_consolidated(store, path="sub")


def test_consolidated_metadata_store_is_read_only_and_pickles() -> None:
    store = MemoryStore()
    build(zarrkit, store)
    zarrkit.consolidate_metadata(store)
    cms = ConsolidatedMetadataStore(store)
    assert cms.read_only and not cms.is_writeable() and not cms.is_erasable()
    assert sorted(cms) == sorted(k for k in store if k != ".zmetadata" and "/." in "/" + k)
    assert cms.listdir() == sorted(["foo", "empty", "s", "nofill", ".zgroup", ".zattrs"])
    assert cms.listdir("foo/bar") == [".zgroup", "baz"]
    assert cms.listdir("foo/bar/baz") == [".zarray", ".zattrs"]
    assert cms.listdir("nowhere") == []
    for k in cms:
        assert json.loads(cms[k]) == json.loads(store[k])
    for op in (
        lambda: cms.__setitem__(".zgroup", b"{}"),
        lambda: cms.__delitem__(".zgroup"),
        lambda: cms.setitems({"a": b""}),
        lambda: cms.delitems([".zgroup"]),
        lambda: cms.rmdir("foo"),
        lambda: cms.rename("foo", "bar"),
    ):
        with pytest.raises(ReadOnlyError):
            op()
    back = pickle.loads(pickle.dumps(cms))
    assert back == cms and dict(back.items()) == dict(cms.items())
    root = zarrkit.open_consolidated(store)
    root2 = pickle.loads(pickle.dumps(root))
    assert walk(root2) == walk(root)
    with pytest.raises(ReadOnlyError):
        root2.create_group("x")


@needs_zarr2
def test_zarr2_consolidated_opens_in_zarrkit_and_back(tmp_path: Any) -> None:
    by_zarr2 = str(tmp_path / "z2.zarr")
    build(zarr, zarr.DirectoryStore(by_zarr2))
    zarr.consolidate_metadata(by_zarr2)
    ours = zarrkit.open_consolidated(by_zarr2)
    assert walk(ours) == walk(zarrkit.open_group(by_zarr2, mode="r"))
    np.testing.assert_array_equal(ours["foo/bar/baz"][:], np.arange(140).reshape(20, 7))

    by_zarrkit = str(tmp_path / "zk.zarr")
    build(zarrkit, DirectoryStore(by_zarrkit))
    zarrkit.consolidate_metadata(by_zarrkit)
    theirs = zarr.open_consolidated(by_zarrkit)
    assert isinstance(theirs.store, zarr.storage.ConsolidatedMetadataStore)
    assert theirs.attrs.asdict().keys() == ATTRS.keys()
    assert theirs.attrs["title"] == ATTRS["title"]
    assert theirs["foo/f"].attrs["kind"] == "ramp"
    np.testing.assert_array_equal(theirs["foo/bar/baz"][:], np.arange(140).reshape(20, 7))
    np.testing.assert_array_equal(theirs["foo/f"][:], np.linspace(0, 1, 13))
    assert sorted(theirs) == sorted(zarrkit.open_group(by_zarrkit, mode="r"))


@needs_zarr3
def test_zarr3_reads_zarrkit_consolidated_metadata(tmp_path: Any) -> None:
    where = str(tmp_path / "zk.zarr")
    build(zarrkit, DirectoryStore(where))
    zarrkit.consolidate_metadata(where)
    theirs = zarr.open_consolidated(where, zarr_format=2)
    consolidated = theirs.metadata.consolidated_metadata
    assert consolidated is not None
    assert sorted(consolidated.metadata) == sorted(["foo", "empty", "s", "nofill"])
    assert theirs["foo/f"].attrs["kind"] == "ramp"
    assert theirs.attrs["title"] == ATTRS["title"]
    np.testing.assert_array_equal(theirs["foo/bar/baz"][:], np.arange(140).reshape(20, 7))


@needs_zarr3
def test_zarr3_consolidated_opens_in_zarrkit(tmp_path: Any) -> None:
    where = str(tmp_path / "z3.zarr")
    build(zarrkit, DirectoryStore(where))
    zarr.consolidate_metadata(where, zarr_format=2)
    root = zarrkit.open_consolidated(where)
    np.testing.assert_array_equal(root["foo/bar/baz"][:], np.arange(140).reshape(20, 7))
    assert root["foo/f"].attrs["kind"] == "ramp"
    # zarr 3 writes a sub-group's .zmetadata beside it, keys relative to the group
    zarr.consolidate_metadata(where, path="foo", zarr_format=2)
    (tmp_path / "z3.zarr" / ".zmetadata").unlink()
    store = CountingStore(DirectoryStore(where))
    foo = zarrkit.open_consolidated(store, path="foo")
    assert [op for op in store.ops if op[0] == "get"] == [
        ("get", ".zmetadata"),
        ("get", "foo/.zmetadata"),
    ]
    assert foo.path == "foo" and sorted(foo) == ["bar", "f"]
    np.testing.assert_array_equal(foo["bar/baz"][:], np.arange(140).reshape(20, 7))
    with pytest.raises(ReadOnlyError):
        foo.create_group("x")


# -- copy_store ---------------------------------------------------------------------------


def _tutorial_store(store: Any) -> None:
    root = zarrkit.group(store, overwrite=True)
    root.create_dataset("foo/bar/baz", data=np.arange(100), chunks=(50,))
    root.create_dataset("spam", data=np.arange(100, 200), chunks=(30,))


def test_copy_store_tutorial_log(tmp_path: Any) -> None:
    store1 = DirectoryStore(str(tmp_path / "example.zarr"))
    _tutorial_store(store1)
    store2 = ZipStore(str(tmp_path / "example.zip"), mode="w")
    out = io.StringIO()
    result = zarrkit.copy_store(store1, store2, log=out)
    keys = [
        ".zgroup",
        "foo/.zgroup",
        "foo/bar/.zgroup",
        "foo/bar/baz/.zarray",
        "foo/bar/baz/0",
        "foo/bar/baz/1",
        "spam/.zarray",
        "spam/0",
        "spam/1",
        "spam/2",
        "spam/3",
    ]
    nbytes = sum(len(store1[k]) for k in keys)
    assert out.getvalue().splitlines() == [f"copy {k}" for k in keys] + [
        f"all done: 11 copied, 0 skipped, {nbytes:,} bytes copied"
    ]
    assert result == (11, 0, nbytes)
    assert {k: store2[k] for k in store2} == {k: store1[k] for k in store1}
    new_root = zarrkit.group(store2)
    np.testing.assert_array_equal(new_root["foo/bar/baz"][:], np.arange(100))
    store2.close()


def _copy_store_cases() -> list[dict]:
    return [
        {},
        {"source_path": "foo", "dest_path": "new/place"},
        {"source_path": "foo/bar/"},
        {"excludes": r"\.zarray$"},
        {"excludes": ["spam", r"/0$"], "includes": "spam/.zarray"},
        {"excludes": "SPAM", "flags": 2},  # re.IGNORECASE
        {"dry_run": True},
        {"if_exists": "skip"},
        {"if_exists": "replace"},
        {"if_exists": "skip", "dry_run": True},
        {"if_exists": "replace", "source_path": "spam", "dest_path": "spam"},
    ]


def _existing(kwargs: dict) -> dict:
    """A destination with keys in the way, unless the copy would refuse them."""
    if kwargs.get("if_exists", "raise") == "raise":
        return {"elsewhere/.zgroup": b"old"}
    return {"spam/0": b"old", "new/place/bar/.zgroup": b"old", "elsewhere/.zgroup": b"old"}


@pytest.mark.parametrize("kwargs", _copy_store_cases())
def test_copy_store_options(kwargs: dict) -> None:
    source: dict = {}
    _tutorial_store(source)
    dest = _existing(kwargs)
    before = dict(dest)
    lines: list[str] = []
    n_copied, n_skipped, nbytes = zarrkit.copy_store(source, dest, log=lines.append, **kwargs)
    sp = kwargs.get("source_path", "").strip("/")
    dp = kwargs.get("dest_path", "").strip("/")
    sp, dp = (sp + "/" if sp else ""), (dp + "/" if dp else "")
    exc = [re.compile(p, kwargs.get("flags", 0)) for p in np.atleast_1d(kwargs.get("excludes", []))]
    inc = [re.compile(p, kwargs.get("flags", 0)) for p in np.atleast_1d(kwargs.get("includes", []))]
    selected = [
        k
        for k in sorted(source)
        if k.startswith(sp)
        and not (any(p.search(k) for p in exc) and not any(p.search(k) for p in inc))
    ]
    mode = kwargs.get("if_exists", "raise")
    copied = [k for k in selected if mode == "replace" or dp + k[len(sp) :] not in before]
    assert n_copied == len(copied) and n_skipped == len(selected) - len(copied)
    if kwargs.get("dry_run"):
        assert dest == before and nbytes == 0
        assert lines[-1] == f"dry run: {n_copied} copied, {n_skipped} skipped"
    else:
        assert nbytes == sum(len(source[k]) for k in copied)
        for k in copied:
            assert dest[dp + k[len(sp) :]] == source[k]
        assert len(dest) == len(before | {dp + k[len(sp) :]: 0 for k in copied})
        assert lines[-1] == (
            f"all done: {n_copied} copied, {n_skipped} skipped, {nbytes:,} bytes copied"
        )
    for line, k in zip(lines, selected):
        dk = dp + k[len(sp) :]
        descr = k if dk == k else f"{k} -> {dk}"
        assert line == ("copy " if k in copied else "skip ") + descr


@needs_zarr2
@pytest.mark.parametrize("kwargs", _copy_store_cases())
def test_copy_store_matches_zarr2(kwargs: dict) -> None:
    source: dict = {}
    _tutorial_store(source)
    ours = _existing(kwargs)
    theirs = dict(ours)
    our_log: list[str] = []
    their_log: list[str] = []
    assert zarrkit.copy_store(source, ours, log=our_log.append, **kwargs) == zarr.copy_store(
        source, theirs, log=their_log.append, **kwargs
    )
    assert our_log == their_log
    assert ours == theirs


def test_copy_store_raise_copies_nothing() -> None:
    source: dict = {}
    _tutorial_store(source)
    dest = {"spam/3": b"x"}
    lines: list[str] = []
    with pytest.raises(CopyError, match="spam/3"):
        zarrkit.copy_store(source, dest, log=lines.append)
    assert dest == {"spam/3": b"x"} and lines == []
    with pytest.raises(ValueError, match="if_exists"):
        zarrkit.copy_store(source, {}, if_exists="skip_initialized")


def test_copy_store_logs_to_a_file_name_and_counts_progress(tmp_path: Any) -> None:
    source: dict = {}
    _tutorial_store(source)
    calls: list[tuple[int, int]] = []
    logfile = tmp_path / "log.txt"
    n = zarrkit.copy_store(source, {}, log=str(logfile), progress=lambda d, t: calls.append((d, t)))
    lines = logfile.read_text().splitlines()
    assert len(lines) == 12 and lines[-1].startswith("all done: 11 copied")
    assert n[0] == 11
    assert calls[-1] == (11, 11)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


class _LazyBytes(MutableMapping):
    """A read-only source whose values are made on each read (so nothing is held before)."""

    def __init__(self, n: int, size: int) -> None:
        self.n, self.size = n, size

    def __getitem__(self, key: str) -> bytes:
        i = int(key[1:])
        if not 0 <= i < self.n:
            raise KeyError(key)
        return bytes([i % 251]) * self.size

    def __iter__(self) -> Iterator[str]:
        return (f"k{i:04d}" for i in range(self.n))

    def __len__(self) -> int:
        return self.n

    def __setitem__(self, key: str, value: Any) -> None:
        raise NotImplementedError

    def __delitem__(self, key: str) -> None:
        raise NotImplementedError


class _Sink(MutableMapping):
    """A destination that checks and drops what it is given."""

    def __init__(self) -> None:
        self.keys_seen: list[str] = []
        self.nbytes = 0

    def __setitem__(self, key: str, value: Any) -> None:
        assert value[0] == int(key[1:]) % 251
        self.keys_seen.append(key)
        self.nbytes += len(value)

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return False

    def __delitem__(self, key: str) -> None:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_copy_store_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """200 MiB of values pass through copy_store with a peak of a few MiB."""
    monkeypatch.setattr(zarrkit.copying, "COPY_BUFFER_BYTES", 4 * 2**20)
    size, n = 2**20, 200
    sink = _Sink()
    tracemalloc.start()
    try:
        result = zarrkit.copy_store(_LazyBytes(n, size), sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result == (n, 0, n * size)
    assert sink.nbytes == n * size and len(sink.keys_seen) == n
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"


# -- copy and copy_all between zarrkit groups -------------------------------------------------


def _source(mod: Any = zarrkit) -> Any:
    src = mod.group()
    src.attrs["root"] = True
    foo = src.create_group("foo")
    foo.attrs["level"] = 1
    baz = foo.create_dataset("bar/baz", data=np.arange(100), chunks=(50,))
    baz.attrs["unit"] = "s"
    src.create_dataset("spam", data=np.arange(100, 200), chunks=(30,))
    src.create_dataset("foo/qux", data=np.ones((4, 5), dtype="f4"), chunks=(3, 2), order="F")
    return src


def test_copy_tutorial_log_between_zarrkit_groups() -> None:
    src = _source()
    dest = zarrkit.group()
    out = io.StringIO()
    assert zarrkit.copy(src["foo"], dest, log=out) == (4, 0, 880)
    assert out.getvalue().splitlines() == [
        "copy /foo",
        "copy /foo/bar",
        "copy /foo/bar/baz (100,) int64",
        "copy /foo/qux (4, 5) float32",
        "all done: 4 copied, 0 skipped, 880 bytes copied",
    ]
    assert repr(dest.tree()) == "\n".join(
        [
            "/",
            " └── foo",
            "     ├── bar",
            "     │   └── baz (100,) int64",
            "     └── qux (4, 5) float32",
        ]
    )
    for name in ("foo/bar/baz", "foo/qux"):
        a, b = src[name], dest[name]
        np.testing.assert_array_equal(a[...], b[...])
        assert (a.chunks, a.dtype, a.compressor, a.filters, a.order, a.fill_value) == (
            b.chunks,
            b.dtype,
            b.compressor,
            b.filters,
            b.order,
            b.fill_value,
        )
    assert dest["foo"].attrs["level"] == 1 and dest["foo/bar/baz"].attrs["unit"] == "s"


def test_copy_all_copies_members_and_attrs() -> None:
    src = _source()
    dest = zarrkit.group()
    lines: list[str] = []
    assert zarrkit.copy_all(src, dest, log=lines.append) == (5, 0, 1680)
    assert lines[-1] == "all done: 5 copied, 0 skipped, 1,680 bytes copied"
    assert dest.attrs.asdict() == {"root": True}
    assert walk(dest) == walk(src)


def test_copy_name_shallow_without_attrs_and_create_kws() -> None:
    src = _source()
    dest = zarrkit.group()
    zarrkit.copy(src["foo"], dest, name="renamed", shallow=True, without_attrs=True)
    assert list(dest["renamed"]) == ["qux"]  # groups below the copied one are left out
    assert dest["renamed"].attrs.asdict() == {} and dest["renamed/qux"].attrs.asdict() == {}
    zarrkit.copy(src["spam"], dest, chunks=(7,), compressor=Zlib(3), fill_value=-1)
    assert dest["spam"].chunks == (7,) and dest["spam"].compressor == Zlib(3)
    assert dest["spam"].fill_value == -1
    np.testing.assert_array_equal(dest["spam"][:], np.arange(100, 200))
    zarrkit.copy(src["spam"], dest, name="a/b/c")
    np.testing.assert_array_equal(dest["a/b/c"][:], np.arange(100, 200))


def test_copy_raise_copies_nothing_even_for_a_deep_conflict() -> None:
    src = _source()
    dest = zarrkit.group()
    dest.create_group("foo").create_group("bar").zeros("baz", shape=3)  # deep conflict
    dest.attrs["mine"] = 1
    before = _snapshot(dest.store)
    lines: list[str] = []
    with pytest.raises(CopyError, match="'baz' already exists"):
        zarrkit.copy(src["foo"], dest, log=lines.append)
    with pytest.raises(CopyError, match="'baz' already exists"):
        zarrkit.copy_all(src, dest, log=lines.append)
    assert _snapshot(dest.store) == before and lines == []
    # a group in the source where the destination has an array
    dest2 = zarrkit.group()
    dest2.zeros("foo/bar", shape=1)
    before2 = _snapshot(dest2.store)
    with pytest.raises(CopyError, match="an array 'bar' already exists"):
        zarrkit.copy(src["foo"], dest2)
    assert _snapshot(dest2.store) == before2
    # an array in the source where the destination has a group
    dest3 = zarrkit.group()
    dest3.create_group("spam")
    with pytest.raises(CopyError, match="'spam' already exists"):
        zarrkit.copy(src["spam"], dest3)
    assert list(dest3) == ["spam"] and isinstance(dest3["spam"], Group)


def test_copy_into_existing_groups_merges() -> None:
    src = _source()
    dest = zarrkit.group()
    dest.create_group("foo").zeros("other", shape=2)
    zarrkit.copy(src["foo"], dest)
    assert sorted(dest["foo"]) == ["bar", "other", "qux"]


def test_copy_if_exists_modes() -> None:
    src = _source()

    def fresh() -> Any:
        dest = zarrkit.group()
        dest.zeros("foo/bar/baz", shape=3)  # conflicting array, all chunks written below
        dest["foo/bar/baz"][:] = 5
        dest.zeros("foo/qux", shape=(4, 5), chunks=(2, 5))  # no chunk written
        dest.zeros("spam/inner", shape=1)  # an array below a group where source has an array
        return dest

    dest = fresh()
    assert zarrkit.copy(src["foo"], dest, if_exists="skip") == (2, 2, 0)
    np.testing.assert_array_equal(dest["foo/bar/baz"][:], [5, 5, 5])

    dest = fresh()
    n = zarrkit.copy(src["foo"], dest, if_exists="replace")
    assert n == (4, 0, 880)
    np.testing.assert_array_equal(dest["foo/bar/baz"][:], np.arange(100))

    dest = fresh()
    lines: list[str] = []
    n = zarrkit.copy(src["foo"], dest, if_exists="skip_initialized", log=lines.append)
    assert n == (3, 1, 80)
    assert "skip /foo/bar/baz (3,) float64" not in lines  # logged with the source's shape
    assert "skip /foo/bar/baz (100,) int64" in lines
    np.testing.assert_array_equal(dest["foo/bar/baz"][:], [5, 5, 5])
    np.testing.assert_array_equal(dest["foo/qux"][:], np.ones((4, 5)))

    dest = fresh()
    assert zarrkit.copy(src["spam"], dest, if_exists="replace") == (1, 0, 800)
    np.testing.assert_array_equal(dest["spam"][:], np.arange(100, 200))

    with pytest.raises(ValueError, match="if_exists"):
        zarrkit.copy(src, dest, name="x", if_exists="overwrite")


def test_copy_group_over_array_replace_and_skip() -> None:
    src = _source()
    dest = zarrkit.group()
    dest.zeros("foo", shape=2)
    lines: list[str] = []
    assert zarrkit.copy(src["foo"], dest, if_exists="skip", log=lines.append) == (0, 1, 0)
    assert lines[0] == "skip /foo"
    assert zarrkit.copy(src["foo"], dest, if_exists="replace")[0] == 4
    assert isinstance(dest["foo"], Group) and sorted(dest["foo"]) == ["bar", "qux"]


def test_copy_dry_run_writes_nothing() -> None:
    src = _source()
    dest = zarrkit.group()
    dest.zeros("foo/bar/baz", shape=3)
    before = _snapshot(dest.store)
    lines: list[str] = []
    n = zarrkit.copy(src["foo"], dest, dry_run=True, if_exists="skip", log=lines.append)
    assert n == (3, 1, 0)
    assert lines == [
        "copy /foo",
        "copy /foo/bar",
        "skip /foo/bar/baz (100,) int64",
        "copy /foo/qux (4, 5) float32",
        "dry run: 3 copied, 1 skipped",
    ]
    n = zarrkit.copy_all(src, dest, dry_run=True, if_exists="replace")
    assert n == (5, 0, 0)
    assert _snapshot(dest.store) == before


def test_copy_into_its_own_subgroup_terminates() -> None:
    root = _source()
    n = zarrkit.copy(root["foo"], root["foo"], name="again")
    assert n == (4, 0, 880)
    assert sorted(root["foo/again"]) == ["bar", "qux"]


def test_copy_argument_errors() -> None:
    src = _source()
    with pytest.raises(TypeError, match="name"):
        zarrkit.copy(src, zarrkit.group())
    with pytest.raises(TypeError, match="name"):
        zarrkit.copy(zarrkit.zeros(3), zarrkit.group())
    with pytest.raises(ValueError, match="group"):
        zarrkit.copy(src["spam"], {})
    with pytest.raises(ValueError, match="group"):
        zarrkit.copy_all(src, zarrkit.zeros(3))
    with pytest.raises(TypeError, match="progress"):
        zarrkit.copy(src["spam"], zarrkit.group(), progress="yes")
    with pytest.raises(TypeError, match="log"):
        zarrkit.copy(src["spam"], zarrkit.group(), log=42)


def test_copy_root_array_with_a_name() -> None:
    z = zarrkit.array(np.arange(12).reshape(3, 4), chunks=(2, 2))
    dest = zarrkit.group()
    assert zarrkit.copy(z, dest, name="z") == (1, 0, 96)
    np.testing.assert_array_equal(dest["z"][:], z[:])


@pytest.mark.parametrize(
    "data",
    [
        np.array(3.5),
        np.zeros((0, 3), dtype="i2"),
        np.array(["a", "bc", "\u00e9"], dtype=object),
        np.arange(6).astype("M8[D]"),
        np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
        np.array(["x", "yz"], dtype="U2"),
    ],
    ids=["0-d", "empty", "object", "datetime", "structured", "unicode"],
)
def test_copy_arrays_of_many_kinds(data: np.ndarray) -> None:
    src = zarrkit.group()
    kw = {"object_codec": __import__("numcodecs").VLenUTF8()} if data.dtype.kind == "O" else {}
    src.array("a", data, **kw)
    dest = zarrkit.group()
    zarrkit.copy(src["a"], dest)
    np.testing.assert_array_equal(dest["a"][...], data)
    assert dest["a"].dtype == data.dtype and dest["a"].shape == data.shape


_COPY_CASES = [
    {},
    {"shallow": True},
    {"without_attrs": True},
    {"if_exists": "skip"},
    {"if_exists": "replace"},
    {"if_exists": "skip_initialized"},
    {"dry_run": True},
    {"dry_run": True, "if_exists": "skip"},
    {"name": "renamed"},
    {"chunks": (7,)},
]


@needs_zarr2
@pytest.mark.parametrize(
    "what, kwargs",
    [("copy", kw) for kw in _COPY_CASES]
    + [("copy_all", kw) for kw in _COPY_CASES if "name" not in kw],
)
def test_copy_matches_zarr2(kwargs: dict, what: str) -> None:
    """Logs, counts and the destination store's bytes are those of zarr 2.18.

    One deliberate difference: zarr 2's copy_all writes the source group's attributes to the
    destination even with ``dry_run`` or ``without_attrs``; zarrkit honours both.
    """
    results, logs, stores = [], [], []
    for mod in (zarr, zarrkit):
        src = _source(mod)
        dest_store: dict = {}
        dest = mod.group(dest_store)
        if kwargs.get("if_exists", "raise") != "raise":
            dest.zeros("foo/bar/baz", shape=3)  # a conflict for the other modes to resolve
        lines: list[str] = []
        if what == "copy_all":
            results.append(mod.copy_all(src, dest, log=lines.append, **kwargs))
        else:
            results.append(mod.copy(src["foo"], dest, log=lines.append, **kwargs))
        logs.append(lines)
        stores.append(_snapshot(dest_store))
    assert results[0] == results[1]
    assert logs[0] == logs[1]
    if what == "copy_all" and (kwargs.get("dry_run") or kwargs.get("without_attrs")):
        assert stores[0].pop(".zattrs") == b'{\n    "root": true\n}'
        stores[1].pop(".zattrs", None)
    assert stores[0] == stores[1]


def _big_source(n_chunks: int, chunk: int) -> Any:
    """An int64 array of n_chunks * chunk items, cheap to compress, written chunk by chunk."""
    src = zarrkit.group()
    z = src.zeros("big", shape=(n_chunks * chunk,), chunks=(chunk,), dtype="i8")
    for i in range(n_chunks):
        z[i * chunk : (i + 1) * chunk] = i
    return src


def test_copy_streams_with_bounded_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 256 MiB array copies with a peak far below its size."""
    monkeypatch.setattr(zarrkit.copying, "COPY_BUFFER_BYTES", 8 * 2**20)
    n_chunks, chunk = 64, 2**19  # 64 chunks of 4 MiB
    src = _big_source(n_chunks, chunk)
    nbytes = n_chunks * chunk * 8
    dest = zarrkit.group()
    calls: list[tuple[int, int]] = []
    tracemalloc.start()
    try:
        n = zarrkit.copy(src["big"], dest, progress=lambda d, t: calls.append((d, t)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == (1, 0, nbytes)
    assert peak < 48 * 2**20, f"peak {peak / 2**20:.1f} MiB for a {nbytes / 2**20:.0f} MiB copy"
    assert len(calls) > 1 and calls[-1] == (nbytes, nbytes)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    big = dest["big"]
    assert big.nchunks_initialized == n_chunks
    for i in (0, 17, n_chunks - 1):
        assert (big[i * chunk : (i + 1) * chunk] == i).all()


def test_slabs_cover_the_array_once_in_whole_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zarrkit.copying, "COPY_BUFFER_BYTES", 1000)
    for shape, chunks in [((37, 11, 5), (4, 3, 5)), ((7, 9), None), ((100,), (1000,))]:
        seen = np.zeros(shape, dtype=int)
        for sel in zarrkit.copying._slabs(shape, chunks, 8):
            seen[sel] += 1
            size = int(np.prod([s.stop - s.start for s in sel])) * 8
            cshape = chunks or (1,) * len(shape)
            one_chunk = int(np.prod([min(c, s) for c, s in zip(cshape, shape)])) * 8
            assert size <= max(1000, one_chunk)
            if chunks:
                assert all(s.start % c == 0 for s, c in zip(sel, chunks))
        assert (seen == 1).all()


def test_copy_progress_spans_the_whole_copy() -> None:
    src = _source()
    calls: list[tuple[int, int]] = []
    n = zarrkit.copy_all(src, zarrkit.group(), progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (n[2], n[2])
    assert all(t == n[2] for _, t in calls)


def test_progress_true_without_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    src = _source()
    assert zarrkit.copy_all(src, zarrkit.group(), progress=True)[0] == 5
    assert zarrkit.copy_store(src.store, {}, progress=True)[0] == len(src.store)


def test_progress_true_uses_tqdm_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    bars: list[Any] = []

    class FakeBar:
        def __init__(self, total: int, **kw: Any) -> None:
            self.total, self.n, self.closed = total, 0, False
            bars.append(self)

        def update(self, n: int) -> None:
            self.n += n

        def close(self) -> None:
            self.closed = True

    fake = types.ModuleType("tqdm.auto")
    fake.tqdm = FakeBar  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    src = _source()
    n = zarrkit.copy_all(src, zarrkit.group(), progress=True)
    assert len(bars) == 1 and bars[0].n == bars[0].total == n[2] and bars[0].closed
    zarrkit.copy_store(src.store, {}, progress=True)
    assert bars[1].n == bars[1].total == len(src.store) and bars[1].closed


# -- save, load, open ---------------------------------------------------------------------


def test_save_several_arrays_makes_a_group_load_is_lazy(tmp_path: Any) -> None:
    where = str(tmp_path / "s.zarr")
    a, b, c = np.arange(10), np.linspace(0, 1, 5), np.eye(3, dtype="i2")
    zarrkit.save(where, a, b, named=c)
    g = zarrkit.open(where, mode="r")
    assert isinstance(g, Group) and sorted(g) == ["arr_0", "arr_1", "named"]
    loaded = zarrkit.load(where)
    assert isinstance(loaded, LazyLoader)
    for k, v in (("arr_0", a), ("arr_1", b), ("named", c)):
        np.testing.assert_array_equal(loaded[k], v)
        assert loaded[k].dtype == v.dtype
    zarrkit.save_group(where, x=a)  # replaces the group
    assert sorted(zarrkit.open(where, mode="r")) == ["x"]
    zarrkit.save(where, a)  # one array: an array at the root
    np.testing.assert_array_equal(zarrkit.load(where), a)
    with pytest.raises(ValueError):
        zarrkit.save(where)
    with pytest.raises(ValueError):
        zarrkit.save_group(where)


def test_save_and_load_with_path() -> None:
    store: dict = {}
    zarrkit.save(store, np.arange(3), b=np.ones(2), path="deep/er")
    loaded = zarrkit.load(store, path="deep/er")
    np.testing.assert_array_equal(loaded["arr_0"], np.arange(3))
    np.testing.assert_array_equal(loaded["b"], np.ones(2))
    with pytest.raises(Exception, match="nowhere"):
        zarrkit.load(store, path="nowhere")


@needs_zarr2
def test_save_group_store_matches_zarr2() -> None:
    ours: dict = {}
    theirs: dict = {}
    arrays = (np.arange(10), np.linspace(0, 1, 5))
    zarrkit.save(ours, *arrays, named=np.eye(2))
    zarr.save(theirs, *arrays, named=np.eye(2))
    assert _snapshot(ours) == _snapshot(theirs)
    loaded = zarr.load(ours)
    np.testing.assert_array_equal(loaded["arr_1"], arrays[1])


@pytest.mark.parametrize("mode", ["r", "r+", "a"])
def test_open_on_an_existing_group(tmp_path: Any, mode: str) -> None:
    where = str(tmp_path / "g.zarr")
    root = zarrkit.open_group(where, mode="w")
    root.array("sub/a", np.arange(4))
    g = zarrkit.open(where, mode=mode)
    assert isinstance(g, Group) and g.read_only == (mode == "r")
    np.testing.assert_array_equal(g["sub/a"][:], np.arange(4))
    sub = zarrkit.open(where, mode=mode, path="sub")
    assert isinstance(sub, Group) and sub.path == "sub"
    a = zarrkit.open(where, mode=mode, path="sub/a")
    np.testing.assert_array_equal(a[:], np.arange(4))


def test_open_creates_or_refuses_groups(tmp_path: Any) -> None:
    where = str(tmp_path / "g.zarr")
    g = zarrkit.open(where)  # mode 'a', nothing there: a new group
    assert isinstance(g, Group) and list(g) == []
    g.zeros("a", shape=2)
    with pytest.raises(ContainsGroupError):
        zarrkit.open(where, mode="w-")
    g2 = zarrkit.open(where, mode="w")
    assert isinstance(g2, Group) and list(g2) == []
    with pytest.raises(PathNotFoundError):
        zarrkit.open(str(tmp_path / "nope.zarr"), mode="r")
    with pytest.raises(ValueError, match="mode"):
        zarrkit.open(where, mode="q")


# -- pickling ------------------------------------------------------------------------------


def _persistent(kind: str, tmp_path: Any) -> Any:
    if kind == "directory":
        return DirectoryStore(str(tmp_path / "d.zarr"))
    if kind == "nested":
        return NestedDirectoryStore(str(tmp_path / "n.zarr"))
    if kind == "zip":
        return ZipStore(str(tmp_path / "z.zip"), mode="a")
    if kind == "dbm":
        return DBMStore(str(tmp_path / "db.dbm"), flag="c")
    if kind == "sqlite":
        return SQLiteStore(str(tmp_path / "s.sqlite"))
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["memory", "dict", "kv"])
def test_pickle_in_memory_stores_carries_the_data(kind: str) -> None:
    store = {"memory": MemoryStore, "dict": dict, "kv": lambda: KVStore(dict())}[kind]()
    data = np.arange(100_000)
    root = zarrkit.group(store)
    z = root.array("x", data, chunks=10_000, compressor=None)
    s = pickle.dumps(z)
    assert len(s) > data.nbytes  # uncompressed data travel in the pickle
    z2 = pickle.loads(s)
    assert z2 == z if kind != "dict" else True
    np.testing.assert_array_equal(z2[:], data)
    g2 = pickle.loads(pickle.dumps(root))
    np.testing.assert_array_equal(g2["x"][:], data)


@pytest.mark.parametrize("kind", ["directory", "nested", "zip", "dbm", "sqlite"])
def test_pickle_persistent_stores_carries_only_parameters(kind: str, tmp_path: Any) -> None:
    store = _persistent(kind, tmp_path)
    data = np.arange(100_000)
    root = zarrkit.group(store)
    root.array("x", data, chunks=10_000, compressor=None)
    if kind == "zip":
        store.close()
        store = ZipStore(str(tmp_path / "z.zip"), mode="r")
        root = zarrkit.open_group(store, mode="r")
    z = root["x"]
    s = pickle.dumps(z)
    assert len(s) < 1000, len(s)
    z2 = pickle.loads(s)
    np.testing.assert_array_equal(z2[:], data)
    g2 = pickle.loads(pickle.dumps(root))
    assert len(pickle.dumps(root)) < 1000
    np.testing.assert_array_equal(g2["x"][:], data)
    if kind != "zip":
        z[:10] = -1  # written through the original: seen through the unpickled copy
        assert z2[0] == -1
    z2.store.close()
    store.close()
