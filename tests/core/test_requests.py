"""Requests an object store sees: counted with zarrkit.testing.RecordingStore.

No HEAD or LIST on the read path of an array, one GET for consolidated metadata, the
members of a group read in one batch, many arrays' chunks in one batch (read_many)."""

from __future__ import annotations

import numpy as np
import pytest

import zarrkit
from zarrkit.errors import (
    ContainsArrayError,
    ContainsGroupError,
    MetadataError,
    PathNotFoundError,
    ReadOnlyError,
)
from zarrkit.storage import MemoryStore
from zarrkit.testing import RecordingStore


@pytest.fixture(params=[2, 3])
def hierarchy(request):
    """A group of 5 arrays (one chunk of 10 each, holding i) and 2 sub-groups, consolidated."""
    mem = MemoryStore()
    g = zarrkit.group(mem, zarr_format=request.param)
    for i in range(5):
        g.array(f"a{i}", np.full(20, i, dtype="i4"), chunks=10)
    g.create_group("g0")
    g.create_group("g1").zeros("inner", shape=3, chunks=3)
    zarrkit.consolidate_metadata(mem)
    return mem, request.param


def _doc(fmt: int) -> str:
    return ".zarray" if fmt == 2 else "zarr.json"


def test_open_and_read_an_array_is_gets_only(hierarchy):
    mem, fmt = hierarchy
    rec = RecordingStore(mem)
    for opener in (
        lambda: zarrkit.open_array(rec, path="a1", mode="r"),
        lambda: zarrkit.open(rec, path="a1", mode="r"),
        lambda: zarrkit.open_array(rec, path="a1", mode="r+"),
    ):
        rec.reset()
        a = opener()
        assert rec.count("HEAD") == rec.count("LIST") == 0
        assert ("GET", f"a1/{_doc(fmt)}") in rec.requests
        rec.reset()
        assert (a[:] == 1).all()
        assert {k for k, _ in rec.requests} == {"GET"}
        assert rec.count("GET") == 2 and rec.batches == 1


def test_open_errors_unchanged_without_the_look(hierarchy):
    mem, _ = hierarchy
    rec = RecordingStore(mem)
    with pytest.raises(ContainsGroupError):
        zarrkit.open_array(rec, path="g0", mode="r")
    with pytest.raises(PathNotFoundError):
        zarrkit.open(rec, path="nothing", mode="r")
    assert isinstance(zarrkit.open(rec, path="g1", mode="r"), zarrkit.Group)
    with pytest.raises(zarrkit.errors.ContainsArrayError):
        zarrkit.open_group(rec, path="a0", mode="r")
    with pytest.raises(zarrkit.errors.GroupNotFoundError):
        zarrkit.open_group(rec, path="nothing", mode="r")


def test_open_consolidated_is_one_get(hierarchy):
    mem, fmt = hierarchy
    rec = RecordingStore(mem)
    g = zarrkit.open_consolidated(rec, mode="r")
    if fmt == 2:
        assert rec.requests == [("GET", ".zmetadata")]
    else:  # .zmetadata first (absent), then the group's zarr.json; told v3: that only
        assert rec.requests == [("GET", ".zmetadata"), ("GET", "zarr.json")]
        rec.reset()
        g = zarrkit.open_consolidated(rec, mode="r", zarr_format=3)
        assert rec.requests == [("GET", "zarr.json")]
    rec.reset()
    arrays = [a for _, a in g.arrays()]
    assert len(arrays) == 5 and rec.requests == []
    values = zarrkit.read_many([(a, 0) for a in arrays])
    assert values == [0, 1, 2, 3, 4]
    assert rec.batches == 1 and rec.count("GET") == 5 and len(rec.requests) == 5


@pytest.mark.parametrize(
    "use",
    [
        lambda g: list(g.arrays()),
        lambda g: list(g.items()),
        lambda g: list(g.values()),
        lambda g: list(g.groups()),
        lambda g: [name for name in g],
        lambda g: sorted(g.array_keys()),
        lambda g: repr(g.info),
        lambda g: repr(g.tree()),
    ],
)
def test_members_are_read_in_one_batch(hierarchy, use):
    mem, fmt = hierarchy
    g = zarrkit.open_group(RecordingStore(mem), mode="r")
    rec = g.store
    rec.reset()
    use(g)
    assert rec.count("HEAD") == 0
    # the tree walks into the two sub-groups: a listing and a batch each
    nested = 3 if "tree" in repr(use.__code__.co_names) else 1
    assert rec.batches <= nested * (1 if fmt == 2 else 2)
    gets = [k for kind, k in rec.requests if kind == "GET"]
    assert len(gets) == len(set(gets))  # no document read twice


def test_members_batch_is_concurrent(hierarchy):
    mem, _ = hierarchy
    rec = RecordingStore(mem, latency=0.05, concurrency=4)
    g = zarrkit.open_group(rec, mode="r")
    rec.reset()
    assert [name for name, _ in g.arrays()] == [f"a{i}" for i in range(5)]
    assert 2 <= rec.max_in_flight <= 4  # overlapped, within the bound


def test_a_member_whose_metadata_do_not_decode_raises_when_used(hierarchy):
    mem, fmt = hierarchy
    key = f"a2/{_doc(fmt)}"
    mem[key] = b"{not json"
    g = zarrkit.open_group(mem, mode="r")
    if fmt == 2:  # a v2 member's kind is its document's key: listing names reads none
        assert sorted(g.array_keys()) == [f"a{i}" for i in range(5)]
    else:  # a v3 document tells the node's kind: listing arrays reads it (as before)
        with pytest.raises(MetadataError, match="a2"):
            sorted(g.array_keys())
    seen = []
    with pytest.raises(MetadataError, match="a2"):
        for name, _ in g.arrays():
            seen.append(name)
    assert seen == ["a0", "a1"]
    with pytest.raises(MetadataError, match="a2"):
        g["a2"]
    assert (g["a3"][:] == 3).all()


def test_a_subclass_getitem_is_called_for_members(hierarchy):
    mem, fmt = hierarchy
    seen = []

    class Seen(MemoryStore):
        def __getitem__(self, key):
            seen.append(key)
            return super().__getitem__(key)

    store = Seen()
    store.update(mem)
    g = zarrkit.open_group(store, mode="r")
    seen.clear()
    assert len(list(g.arrays())) == 5
    assert f"a4/{_doc(fmt)}" in seen


def test_read_many_matches_single_reads(hierarchy):
    mem, _ = hierarchy
    rec = RecordingStore(mem)
    g = zarrkit.open_group(rec, mode="r")
    a = {name: arr for name, arr in g.arrays()}
    requests = [
        (a["a0"], slice(None)),
        (a["a1"], [1, 12]),
        (a["a2"], (slice(5, 15),)),
        (a["a3"], 19),
        (a["a0"], slice(0, 3)),
    ]
    rec.reset()
    got = zarrkit.read_many(requests)
    assert rec.batches == 1
    assert rec.count("GET") == len(set(rec.requests)) == 2 + 2 + 2 + 1
    for (arr, sel), value in zip(requests, got):
        np.testing.assert_array_equal(value, arr[sel])
    assert zarrkit.read_many([]) == []


def test_read_many_missing_and_strict(hierarchy):
    mem, _ = hierarchy
    g = zarrkit.open_group(mem)
    z = g.full("empty", 7, shape=10, chunks=5)
    assert (zarrkit.read_many([(z, slice(None))])[0] == 7).all()
    strict = zarrkit.open_array(mem, path="empty", mode="r", strict_missing=True)
    with pytest.raises(zarrkit.errors.MissingChunkError):
        zarrkit.read_many([(strict, slice(None))])
    with pytest.raises(TypeError, match="Array"):
        zarrkit.read_many([(np.zeros(3), 0)])


def test_read_many_rounds_bound_memory(hierarchy, monkeypatch):
    from zarrkit import _many

    mem, _ = hierarchy
    rec = RecordingStore(mem)
    g = zarrkit.open_group(rec, mode="r")
    arrays = [arr for _, arr in g.arrays()]
    monkeypatch.setattr(_many, "ROUND_BYTES", 2 * 10 * 4)  # two chunks of 10 int32
    rec.reset()
    assert zarrkit.read_many([(arr, 0) for arr in arrays]) == [0, 1, 2, 3, 4]
    assert rec.batches == 3


def test_read_many_local_files_and_other_stores(tmp_path):
    d = zarrkit.open_group(str(tmp_path / "d.zarr"), mode="w")
    x = d.array("x", np.arange(6), chunks=2)
    y = zarrkit.array(np.arange(4) * 3, chunks=2)  # a MemoryStore of its own
    assert [list(v) for v in zarrkit.read_many([(x, slice(1, 4)), (y, slice(None))])] == [
        [1, 2, 3],
        [0, 3, 6, 9],
    ]


@pytest.mark.parametrize("fmt", [2, 3])
def test_create_arrays_is_one_setitems(fmt):
    rec = RecordingStore(MemoryStore())
    g = zarrkit.group(rec, zarr_format=fmt)
    rec.reset()
    specs = {f"a{i}": dict(shape=(20,), chunks=(10,), dtype="i4") for i in range(20)}
    specs["deep/er"] = dict(shape=3, dtype="f8", fill_value=1.5)
    made = g.create_arrays(specs)
    assert list(made) == list(specs)
    assert rec.count("PUT") == 21 + 1  # the documents, and the group 'deep' above one
    assert rec.count("HEAD") < 10  # the parent groups' checks ("" and "deep"), not per array
    assert rec.batches <= 3  # the look for what is there, the documents (and nothing else)
    assert made["deep/er"][:].tolist() == [1.5] * 3 and made["a3"].dtype == np.dtype("i4")
    made["a3"][:] = 7
    again = zarrkit.open_group(rec, mode="r")
    assert sorted(again.array_keys()) == sorted(k for k in specs if "/" not in k)
    assert (again["a3"][:] == 7).all() and again["deep/er"].fill_value == 1.5
    assert again.zarr_format == fmt and again["a0"].zarr_format == fmt


def test_create_arrays_refuses_before_writing(tmp_path):
    for store in (MemoryStore(), zarrkit.DirectoryStore(str(tmp_path / "d"))):
        g = zarrkit.group(store)
        g.zeros("taken", shape=2)
        g.create_group("grp")
        before = sorted(store.keys())
        for name, error in (
            ("taken", zarrkit.errors.ContainsArrayError),
            ("grp", ContainsGroupError),
        ):
            with pytest.raises(error):
                g.create_arrays({"new1": dict(shape=2), name: dict(shape=2), "new2": dict(shape=2)})
            assert sorted(store.keys()) == before
            assert sorted(g) == ["grp", "taken"]
        with pytest.raises(ValueError):  # a bad layout: nothing written
            g.create_arrays({"new1": dict(shape=2), "bad": dict(shape=2, order="Q")})
        assert sorted(store.keys()) == before
        with pytest.raises(TypeError, match="data"):
            g.create_arrays({"x": dict(shape=2, data=[1, 2])})
        made = g.create_arrays({"taken": dict(shape=5, dtype="u1")}, overwrite=True)
        assert made["taken"].shape == (5,) and g["taken"].dtype == np.dtype("u1")


def test_create_arrays_read_only_group():
    g = zarrkit.group()
    ro = zarrkit.open_group(g.store, mode="r")
    with pytest.raises(zarrkit.errors.ReadOnlyError):
        ro.create_arrays({"x": dict(shape=2)})


def test_copy_all_and_visit_read_members_in_batches(hierarchy):
    mem, fmt = hierarchy
    rec = RecordingStore(mem)
    source = zarrkit.open_group(rec, mode="r")
    rec.reset()
    names = []
    source.visit(names.append)
    assert names == ["a0", "a1", "a2", "a3", "a4", "g0", "g1", "g1/inner"]
    assert rec.count("HEAD") == 0
    per_group = 1 if fmt == 2 else 2  # (v3: a second batch for names v3 did not explain)
    assert rec.batches <= 3 * per_group  # one per group visited: '', g0, g1
    dest = zarrkit.group(zarr_format=fmt)
    rec.reset()
    n = zarrkit.copy_all(source, dest)
    assert n[0] == 8 and (dest["a4"][:] == 4).all() and dest["g1/inner"].shape == (3,)
    assert rec.count("HEAD") == 0


def test_open_members_is_one_batch(hierarchy):
    mem, fmt = hierarchy
    rec = RecordingStore(mem, latency=0.02, concurrency=8)
    g = zarrkit.open_group(rec, mode="r")
    rec.reset()
    got = g.open_members(["a3", "g1", "a0", "g1/inner"])
    assert [m.name for m in got] == ["/a3", "/g1", "/a0", "/g1/inner"]
    assert rec.batches == 1 and rec.count("HEAD") == 0 and rec.max_in_flight > 1
    assert isinstance(got[1], zarrkit.Group) and (got[0][:] == 3).all()
    with pytest.raises(KeyError):
        g.open_members(["a1", "nothing"])
    mem[f"a2/{_doc(fmt)}"] = b"[not json"
    with pytest.raises(MetadataError, match="a2"):
        g.open_members(["a1", "a2"])


class _Batches(RecordingStore):
    """Also records the keys of each ``setitems`` call."""

    def reset(self) -> None:
        super().reset()
        self.puts: list[list[str]] = []

    def setitems(self, values):
        self.puts.append(sorted(values))
        super().setitems(values)


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("how", ["open_group a", "open_group w-", "require_group", "group"])
def test_group_creation_looks_in_one_batch(fmt, how):
    rec = _Batches(MemoryStore())
    root = zarrkit.group(rec, zarr_format=fmt)
    rec.reset()
    if how == "open_group a":
        g = zarrkit.open_group(rec, mode="a", path="x/y/z", zarr_format=fmt)
    elif how == "open_group w-":
        g = zarrkit.open_group(rec, mode="w-", path="x/y/z", zarr_format=fmt)
    elif how == "group":
        g = zarrkit.group(rec, path="x/y/z", zarr_format=fmt)
    else:
        g = root.require_group("x/y/z")
    assert g.path == "x/y/z" and g.zarr_format == fmt
    # one batch looking at the place and every group above it, no HEAD; the parents
    # written with the group in one setitems
    assert rec.count("HEAD") == 0 and rec.count("LIST") == 0
    assert rec.batches == 2 and rec.count("GET") == 4 * 3 and len(rec.puts) == 1
    assert [m.path for m in (zarrkit.open_group(rec, mode="r")["x"], root["x/y"])] == ["x", "x/y"]
    # existing: the same answers
    rec.reset()
    if how == "open_group w-":
        with pytest.raises(ContainsGroupError):
            zarrkit.open_group(rec, mode="w-", path="x/y/z")
    elif how == "require_group":
        assert root.require_group("x/y/z").path == "x/y/z"
    else:
        assert zarrkit.open_group(rec, mode="a", path="x/y/z").path == "x/y/z"
    assert rec.count("PUT") == 0 and rec.count("HEAD") <= (fmt == 3)  # (v3 open: one, as before)


@pytest.mark.parametrize("fmt", [2, 3])
def test_creation_errors_unchanged_with_one_look(fmt):
    rec = RecordingStore(MemoryStore())
    root = zarrkit.group(rec, zarr_format=fmt)
    root.zeros("arr", shape=3)
    rec.reset()
    with pytest.raises(ContainsArrayError):
        zarrkit.open_group(rec, mode="a", path="arr")
    with pytest.raises(ContainsArrayError):
        zarrkit.open_group(rec, mode="w-", path="arr")
    with pytest.raises(ContainsArrayError):
        root.require_group("arr")
    with pytest.raises(ContainsArrayError):  # an array above: no group made over it
        root.require_group("arr/below")
    with pytest.raises(ContainsArrayError):
        root.create_dataset("arr/below", shape=3)
    with pytest.raises(ContainsGroupError):
        zarrkit.open_array(rec, mode="w-", path="", shape=3)
    assert rec.count("HEAD") == 0 and rec.count("PUT") == 0
    with pytest.raises(ReadOnlyError):
        zarrkit.open_group(rec, mode="r").require_group("new")
    # overwrite replaces an array above by a group, as zarr 2 does
    root.create_group("arr/below", overwrite=True)
    assert isinstance(root["arr"], zarrkit.Group)
    rec.reset()
    a = root.create_dataset("p/q/r", shape=10, chunks=5, dtype="i4")
    assert a.shape == (10,) and isinstance(root["p/q"], zarrkit.Group)


@pytest.mark.parametrize("fmt", [2, 3])
def test_copy_creates_arrays_and_attributes_in_batches(fmt):
    mem = MemoryStore()
    src = zarrkit.group(mem, zarr_format=fmt)
    for i in range(12):
        src.array(f"a{i:02d}", np.full(4, i, dtype="i2"), chunks=4).attrs["i"] = i
    src.create_group("sub").attrs["kind"] = "sub"
    src["sub"].zeros("b", shape=2, chunks=2)
    srec, drec = RecordingStore(mem), _Batches(MemoryStore())
    source = zarrkit.open_group(srec, mode="r")
    dest = zarrkit.group(drec, zarr_format=fmt)
    srec.reset()
    drec.reset()
    lines: list[str] = []
    n = zarrkit.copy_all(source, dest, log=lines.append)
    assert n[:2] == (14, 0)
    assert lines[0] == "copy /a00 (4,) int16" and lines[-1].startswith("all done: 14 copied")
    assert drec.count("HEAD") == 0 and srec.count("HEAD") == 0
    # the source's chunks of one-slab arrays read in one batch (read_many), not one each
    assert srec.batches <= 8
    doc = ".zarray" if fmt == 2 else "zarr.json"
    made = [keys for keys in drec.puts if any(k.endswith("a00/" + doc) for k in keys)]
    # the first: all 13 arrays' documents at once (v3: the attributes' write is another)
    assert len(made) == (1 if fmt == 2 else 2) and sum(k.endswith(doc) for k in made[0]) == 13
    # the attributes: read once from the source (in one batch), written in one setitems
    attrs_key = ".zattrs" if fmt == 2 else "zarr.json"
    reads = [k for kind, k in srec.requests if kind == "GET" and k.endswith(attrs_key)]
    assert max(reads.count(k) for k in reads) == (1 if fmt == 2 else 2)  # (v3: open, attrs)
    written = [keys for keys in drec.puts if "a05/" + attrs_key in keys]
    assert len(written) == (1 if fmt == 2 else 2) and "sub/" + attrs_key in written[-1]
    out = zarrkit.open_group(drec.store, mode="r")
    assert out["a07"].attrs["i"] == 7 and out["sub"].attrs["kind"] == "sub"
    assert (out["a11"][:] == 11).all() and out["sub/b"].shape == (2,)
    # if_exists semantics kept
    with pytest.raises(zarrkit.errors.CopyError):
        zarrkit.copy_all(source, dest)
    assert zarrkit.copy_all(source, dest, if_exists="skip")[:2] == (1, 13)  # the group merges
    assert zarrkit.copy_all(source, dest, if_exists="replace", dry_run=True)[:2] == (14, 0)


def test_copy_store_lists_the_destination_once(hierarchy):
    mem, _ = hierarchy
    dst = RecordingStore(MemoryStore())
    n = zarrkit.copy_store(mem, dst)
    assert n[0] == len(mem) and dst.count("HEAD") == 0 and dst.count("LIST") == 1
    dst.reset()
    assert zarrkit.copy_store(mem, dst, if_exists="skip")[:2] == (0, len(mem))
    assert dst.count("HEAD") == 0 and dst.count("LIST") == 1 and dst.count("PUT") == 0


@pytest.mark.parametrize("fmt", [2, 3])
def test_convert_reads_only_documents_the_listing_shows(fmt):
    mem = MemoryStore()
    src = zarrkit.group(mem, zarr_format=fmt)
    for i in range(6):
        src.array(f"a{i}", np.full(4, i, dtype="i2"), chunks=2)
    src["a1"].attrs["x"] = 1
    src.create_group("g").array("b", np.arange(3), chunks=3)
    rec = RecordingStore(mem)
    root = zarrkit.open_group(rec, mode="r")
    rec.reset()
    walked = root._walk_listed()
    expected: list = []
    root.visititems(lambda name, obj: expected.append((name, obj)))
    assert [(n, type(o), o.path) for n, o in walked] == [(n, type(o), o.path) for n, o in expected]
    rec.reset()
    walked = root._walk_listed()
    assert rec.count("LIST") == 1 and rec.batches == 1
    assert all(k in mem for kind, k in rec.requests if kind == "GET")  # nothing absent asked
    assert dict(walked)["a1"].attrs["x"] == 1 and rec.batches == 1  # attributes come along
    dst = RecordingStore(MemoryStore())
    rec.reset()
    report = zarrkit.convert(rec, dst, zarr_format=5 - fmt)
    assert report.n_arrays == 7 and rec.count("HEAD") <= 4  # (opening; none per node)
    assert len([1 for kind, _ in rec.requests if kind == "LIST"]) <= 3
    out = zarrkit.open_group(dst.store, mode="r")
    assert (out["a5"][:] == 5).all() and out["a1"].attrs["x"] == 1 and out.zarr_format == 5 - fmt
