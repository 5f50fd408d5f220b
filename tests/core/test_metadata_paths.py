"""The metadata paths read each document once: opening members, consolidated metadata, creation."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zarrkit
from zarrkit.errors import MetadataError
from zarrkit.storage import ConsolidatedMetadataStore, MemoryStore
from zarrkit.storage.base import KVStore, Store


class CountingStore(MemoryStore):
    """A MemoryStore counting reads, writes and membership probes per key."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: collections.Counter[str] = collections.Counter()
        self.probes: collections.Counter[str] = collections.Counter()
        self.writes: collections.Counter[str] = collections.Counter()

    def __getitem__(self, key: str) -> bytes:
        self.reads[key] += 1
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.probes[str(key)] += 1
        return super().__contains__(key)

    def __setitem__(self, key: str, value: object) -> None:
        self.writes[key] += 1
        super().__setitem__(key, value)

    def looks(self, key: str) -> int:
        """Times ``key`` was asked about: read or probed (creation looks with reads)."""
        return self.reads[key] + self.probes[key]

    def clear_counts(self) -> None:
        self.reads.clear()
        self.probes.clear()


def _hierarchy(store: object, n: int = 5) -> zarrkit.Group:
    g = zarrkit.group(store)
    for i in range(n):
        g.create_dataset(f"a{i}", shape=(20, 20), chunks=(10, 10), dtype="i4")
    g.create_group("sub").attrs["x"] = 1
    return g


def test_getjson_default_parses_and_names_the_key_on_bad_json():
    store = MemoryStore()
    store["a/.zarray"] = b'{"x": [1, 2]}'
    store["b/.zarray"] = b"{not json"
    assert store.getjson("a/.zarray") == {"x": [1, 2]}
    with pytest.raises(KeyError):
        store.getjson("c/.zarray")
    with pytest.raises(MetadataError, match="b/.zarray"):
        store.getjson("b/.zarray")


def test_group_member_read_once_and_not_probed():
    store = CountingStore()
    _hierarchy(store)
    store.reads.clear()
    store.probes.clear()
    g = zarrkit.open_group(store, mode="r")
    for i in range(5):
        assert g[f"a{i}"].shape == (20, 20)
    for i in range(5):
        assert store.reads[f"a{i}/.zarray"] == 1
        assert store.probes[f"a{i}/.zarray"] == 0
    assert isinstance(g["sub"], zarrkit.Group)
    with pytest.raises(KeyError):
        g["missing"]


def test_group_member_with_bad_metadata_is_a_clear_error():
    store = MemoryStore()
    zarrkit.group(store)
    store["bad/.zarray"] = b"{not json"
    with pytest.raises(MetadataError, match="bad/.zarray"):
        zarrkit.open_group(store, mode="r")["bad"]


def test_consolidated_members_come_from_the_parsed_documents(monkeypatch):
    store = MemoryStore()
    _hierarchy(store)
    zarrkit.consolidate_metadata(store)
    g = zarrkit.open_consolidated(store)

    def no_serialising(self: object, key: str) -> bytes:
        raise AssertionError(f"{key} serialised again")

    monkeypatch.setattr(ConsolidatedMetadataStore, "__getitem__", no_serialising)
    plain = zarrkit.open_group(MemoryStore(store._data), mode="r")  # type: ignore[attr-defined]
    for i in range(5):
        a, b = g[f"a{i}"], plain[f"a{i}"]
        assert a._meta == b._meta and a.compressor == b.compressor
        a[:] = 7  # the chunks stay writable with mode 'r+'
        assert (b[:] == 7).all()


def test_unknown_codec_is_an_error_at_open():
    store = MemoryStore()
    zarrkit.zeros(4, store=store)
    doc = json.loads(store[".zarray"])
    doc["compressor"] = {"id": "no-such-codec"}
    store[".zarray"] = json.dumps(doc).encode()
    with pytest.raises(MetadataError, match="no-such-codec"):
        zarrkit.open_array(store, mode="r")


def test_codec_chain_and_pipeline_are_built_on_first_use():
    z = zarrkit.open_group(_hierarchy(MemoryStore()).store, mode="r")["a0"]
    assert "_chain" not in z.__dict__ and "_pipeline" not in z.__dict__
    assert (z[:] == 0).all()
    assert "_pipeline" in z.__dict__
    v = z.view(dtype="u4")  # a view builds its own
    assert v._pipeline is not z._pipeline and v.dtype == np.dtype("u4")


@pytest.mark.parametrize(
    "store, verbatim",
    [(MemoryStore(), True), (KVStore(dict()), True), (KVStore(MemoryStore()), True)],
)
def test_verbatim_stores(store: Store, verbatim: bool):
    assert store.verbatim is verbatim


def test_verbatim_of_wrappers_and_translating_stores(tmp_path):
    assert zarrkit.storage.DirectoryStore(str(tmp_path / "d")).verbatim
    assert not zarrkit.storage.N5Store(str(tmp_path / "n.n5")).verbatim
    assert not KVStore(zarrkit.storage.N5Store(str(tmp_path / "m.n5"))).verbatim


@pytest.mark.parametrize(
    "dtype, fill_value",
    [
        ("i4", 0),
        (">u8", 7),
        ("f2", 0.1),
        ("f8", float("nan")),
        ("f4", float("-inf")),
        ("c16", 3 + 4j),
        ("b1", True),
        ("S5", b"ab"),
        ("U3", 0),
        ("U3", "ab"),
        ("M8[ns]", 0),
        ("m8[s]", -1),
        ("V4", b"abcd"),
        ("i4", None),
        ([("a", "i4"), ("b", "f8")], 0),
    ],
)
def test_created_array_equals_reopened(dtype, fill_value):
    """An array keeps the record it wrote only where reading it back gives the same."""
    store = CountingStore()
    z = zarrkit.create((10, 4), chunks=(5, 2), dtype=dtype, fill_value=fill_value, store=store)
    back = zarrkit.open_array(store, mode="r")
    assert z._meta == back._meta and z.dtype == back.dtype
    assert repr(z.fill_value) == repr(back.fill_value)
    assert type(z.fill_value) is type(back.fill_value)


def test_create_does_not_read_back_simple_metadata():
    store = CountingStore()
    zarrkit.zeros((10, 4), chunks=(5, 2), dtype="i4", store=store, path="x")
    assert store.writes["x/.zarray"] == 1
    assert store.looks("x/.zarray") == 1  # the look before creating; no read back
    zarrkit.create(3, dtype=str, store=store, path="s")  # read back: the JSON decides
    assert store.looks("s/.zarray") == 2


_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities included
    st.text(),
    st.sampled_from([np.int32(3), np.float64(0.5), np.bool_(True), "\u00e9\U0001f600"]),
)
_json_docs = st.recursive(
    _json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.dictionaries(st.integers(), inner, max_size=2),  # keys the stdlib converts
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json_docs)
def test_json_dumps_is_the_standard_librarys(doc):
    from zarrkit.formats.v2 import _NumberEncoder, json_dumps

    try:
        want = json.dumps(
            doc,
            indent=4,
            sort_keys=True,
            ensure_ascii=True,
            separators=(",", ": "),
            cls=_NumberEncoder,
        ).encode("ascii")
    except TypeError:  # e.g. keys of mixed types cannot be sorted
        with pytest.raises(TypeError):
            json_dumps(doc)
        return
    assert json_dumps(doc) == want


def test_json_dumps_refuses_circular_documents():
    from zarrkit.formats.v2 import json_dumps

    doc: dict = {}
    doc["self"] = doc
    with pytest.raises(ValueError, match="Circular"):
        json_dumps(doc)


@pytest.mark.parametrize(
    "path, want",
    [
        ("", ""),
        ("a/b/.zarray", "a/b/.zarray"),
        ("a.b/0.0", "a.b/0.0"),
        ("/a//b/", "a/b"),
        ("a\\b", "a/b"),
        ("..a/b..", "..a/b.."),
        (None, ""),
        (b"a/b", "a/b"),
    ],
)
def test_normalize_storage_path(path, want):
    from zarrkit.storage.base import normalize_storage_path

    assert normalize_storage_path(path) == want


@pytest.mark.parametrize("path", [".", "..", "a/./b", "a/../b", "./a", "a/..", "/../a"])
def test_normalize_storage_path_refuses_dot_segments(path):
    from zarrkit.storage.base import normalize_storage_path

    with pytest.raises(ValueError):
        normalize_storage_path(path)


def test_member_creation_probes_each_ancestor_once():
    store = CountingStore()
    g = zarrkit.group(store)
    store.clear_counts()
    g.zeros("x/y/z", shape=4)
    # each place above once, in one batch (an array there would be in the way)
    assert store.looks(".zgroup") <= 1 and store.looks(".zarray") <= 1
    assert store.looks("x/.zgroup") == 1 and store.looks("x/.zarray") == 1
    assert store.looks("x/y/.zgroup") == 1 and store.looks("x/y/z/.zarray") == 1
    with pytest.raises(zarrkit.errors.ContainsArrayError):
        g.zeros("x/y/z/w", shape=4)


@pytest.mark.parametrize("drop", [(), ("filters",), ("filters", "dimension_separator")])
def test_decode_keeps_extra_keys(drop):
    from zarrkit.formats.v2 import decode_array_meta, encode_array_meta

    doc = json.loads(
        zarrkit.zeros((4, 4), chunks=2, dtype="i4", dimension_separator="/").store[".zarray"]
    )
    for k in drop:
        doc.pop(k)
    doc["custom"] = {"a": 1}
    meta = decode_array_meta(doc)
    assert meta.extra == {"custom": {"a": 1}}
    assert json.loads(encode_array_meta(meta))["custom"] == {"a": 1}
    assert decode_array_meta(json.dumps(doc).encode()).extra == meta.extra


def test_location_of_a_store_is_that_store(tmp_path):
    from zarrkit._node import Location

    store = zarrkit.storage.DirectoryStore(str(tmp_path))
    assert Location.of(store, "/a//b/").store is store
    assert Location.of(store, "a/b").path == "a/b"
    assert type(Location.of(str(tmp_path)).store).__name__ == "DirectoryStore"
    assert isinstance(Location.of({}).store, KVStore)


@pytest.mark.parametrize(
    "chunks, want",
    [((5, 2), (5, 2)), ((5,), (5, 4)), (5, (5, 5)), ((5, None), (5, 4)), ((5, -1), (5, 4))],
)
def test_normalize_chunks_plain_and_not(chunks, want):
    from zarrkit._normalize import normalize_chunks

    assert normalize_chunks(chunks, (10, 4), 4) == want


@pytest.mark.parametrize("chunks", [(0, 2), (-2, 2), (5, 2, 1)])
def test_normalize_chunks_refuses(chunks):
    from zarrkit._normalize import normalize_chunks

    with pytest.raises(ValueError):
        normalize_chunks(chunks, (10, 4), 4)


@settings(max_examples=150, deadline=None)
@given(
    dtype=st.sampled_from(["i4", "<f8", ">u2", "S3", "U2", "M8[ns]", "c8", "b1", "V2"]),
    shape=st.lists(st.integers(0, 50), max_size=3),
    fill=st.sampled_from([0, 1, None]),
    sep=st.sampled_from([None, ".", "/"]),
    extra=st.dictionaries(st.sampled_from(["custom", "zzz", "aaa"]), st.integers(), max_size=2),
)
def test_encode_array_meta_is_json_dumps_of_its_document(dtype, shape, fill, sep, extra):
    from dataclasses import replace

    from zarrkit.creation import ArraySpec, _array_meta
    from zarrkit.formats.v2 import encode_array_meta

    try:
        meta, _ = _array_meta(
            ArraySpec(shape=tuple(shape), dtype=dtype, fill_value=fill, dimension_separator=sep),
            MemoryStore(),
        )
    except ValueError:  # a fill value the dtype cannot hold (1 for 'U2')
        return
    meta = replace(meta, extra=extra)
    raw = encode_array_meta(meta)
    want = json.dumps(
        json.loads(raw), indent=4, sort_keys=True, ensure_ascii=True, separators=(",", ": ")
    ).encode()
    assert raw == want


def test_consolidated_attributes_are_copies_of_the_parsed_documents():
    store = MemoryStore()
    g = _hierarchy(store)
    g.attrs["top"] = {"nested": [1, 2]}
    zarrkit.consolidate_metadata(store)
    c = zarrkit.open_consolidated(store)
    assert c.attrs.asdict() == {"top": {"nested": [1, 2]}}
    assert c["sub"].attrs["x"] == 1
    with pytest.raises(zarrkit.errors.ReadOnlyError):
        c.attrs["new"] = 1
    assert "new" not in c.attrs  # the failed write left the held document as it was
    assert zarrkit.open_consolidated(store).attrs.asdict() == {"top": {"nested": [1, 2]}}
    c.attrs["top"]["nested"].append(3)  # a value handed out is the caller's own
    assert c.store.getjson(".zattrs") == {"top": {"nested": [1, 2]}}


def test_meta_ab_benchmark_smoke(tmp_path):
    """benchmarks/meta_ab.py runs (tiny sizes; no time is asserted)."""
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "meta_ab.py"), "--no-zarr2", "--tree",
         f"here={root / 'src'}", "--rounds", "1", "--reps", "1", "--arrays", "3",
         "--rows", "create,open,consolidated", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    assert "create" in out and "consolidated" in out and "here" in out


def test_equal_compressor_configs_of_other_types_keep_their_json():
    from zarrkit.formats.meta import ArrayMeta
    from zarrkit.formats.v2 import encode_array_meta

    for level in (1, True, 1.0, 1, True):
        meta = ArrayMeta(
            shape=(3,), chunks=(3,), dtype=np.dtype("i4"), fill_value=np.int32(0),
            compressor={"id": "zlib", "level": level},
        )  # fmt: skip
        got = json.loads(encode_array_meta(meta))["compressor"]["level"]
        assert got == level and type(got) is type(level)


def test_records_read_from_json_behave_as_built_ones():
    from dataclasses import replace

    from zarrkit.formats.v2 import decode_array_meta

    z = zarrkit.zeros((10, 4), chunks=(5, 2), dtype="i4", filters=[zarrkit.codecs.Delta("i4")])
    doc = json.loads(z.store[".zarray"])
    read = decode_array_meta(doc)
    assert read == z._meta and read.filters == z._meta.filters and read.extra == {}
    assert replace(read, shape=(20, 4)).shape == (20, 4)
    with pytest.raises(AttributeError):
        read.shape = (1, 1)  # type: ignore[misc]  # frozen like every record
    doc["compressor"] = {"id": "blosc", "cname": ("lz4",)}  # built in Python: normalised
    assert decode_array_meta(doc).compressor == {"id": "blosc", "cname": ["lz4"]}


def test_stored_records_set_every_field():
    import dataclasses

    from zarrkit.formats.meta import ArrayMeta
    from zarrkit.formats.v2 import decode_array_meta

    read = decode_array_meta(zarrkit.zeros(4).store[".zarray"])
    assert set(vars(read)) == {f.name for f in dataclasses.fields(ArrayMeta)}


@pytest.mark.parametrize("store_kind", ["memory", "directory"])
def test_created_codec_shows_nested_configs_as_read_back(tmp_path, store_kind):
    # LZMA's filter chain is a list of dicts: an array kept from its creation must show it as
    # one opened from the store does (the .zarray is written with sorted keys)
    import numcodecs

    store = MemoryStore() if store_kind == "memory" else str(tmp_path / "a.zarr")
    lzma = numcodecs.LZMA(filters=[{"id": 3, "dist": 4}, {"id": 33, "preset": 1}])
    z = zarrkit.create((10,), chunks=(5,), dtype="i4", compressor=lzma, store=store)
    again = zarrkit.open_array(store, mode="r")
    assert repr(z.compressor) == repr(again.compressor)
    assert "[{'dist': 4, 'id': 3}, {'id': 33, 'preset': 1}]" in repr(z.compressor)
