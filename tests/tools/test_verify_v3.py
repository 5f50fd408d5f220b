"""zarrkit.verify on Zarr v3: zarr.json nodes, v3 chunk keys, stray keys, and sharded arrays
(every inner chunk decoded; problems named by shard key and inner chunk coordinates), on data
written by zarrkit and by zarr-python 3."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np
import pytest

import zarrkit
from conftest import needs_zarr3
from zarrkit.pipeline.sharding import ShardLayout
from zarrkit.verify import verify


def sharded(store: Any, **kwargs: Any) -> zarrkit.Array:
    """An 8x8 int32 array, inner chunks 2x2 in 4x4 shards (4 shards of 4 inner chunks)."""
    z = zarrkit.create(
        shape=(8, 8),
        chunks=(2, 2),
        shards=(4, 4),
        dtype="i4",
        zarr_format=3,
        store=store,
        overwrite=True,
        **kwargs,
    )
    z[:] = np.arange(64, dtype="i4").reshape(8, 8)
    return z


def inner_range(store: Any, key: str, z: Any, inner: tuple[int, ...]) -> tuple[int, int]:
    """(offset, length) of an inner chunk in the stored shard ``key``."""
    meta = z._meta if hasattr(z, "_meta") else zarrkit.open_array(store, mode="r")._meta
    layout = ShardLayout.of(meta)
    table = layout.read_index(store[key], key)
    return next((o, n) for c, o, n in layout.inner_chunks(table) if c == inner)


def test_clean_sharded_array_and_group() -> None:
    store: dict = {}
    root = zarrkit.group(store, zarr_format=3)
    a = root.create("a", shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="i4")
    a[:5] = 1  # rows 5.. are fill: the lower shards hold only their first inner row
    root.create_group("sub").create("b", shape=(5,), chunks=(2,), dtype="f8")[:] = 2.0
    report = verify(store)
    assert report.ok, report.lines()
    assert report.groups == ["", "sub"]
    ra, rb = report.arrays
    assert (ra.path, ra.zarr_format, ra.shards, ra.nchunks, ra.present) == ("a", 3, (4, 4), 4, 4)
    assert ra.inner_chunks == 4 + 4 + 2 + 2
    assert (rb.path, rb.shards, rb.present, rb.inner_chunks) == ("sub/b", None, 3, 0)
    assert report.summary() == "OK: 2 arrays, 2 groups, 15 chunks read"
    assert report.lines()[1] == (
        "array /a (8, 8) int32 chunks (2, 2) shards (4, 4): 4 of 4 shards ok, 0 missing, "
        "0 corrupt; 12 inner chunks read, 0 corrupt"
    )
    # a v3 array without shards prints as a v2 one; the JSON shows the v3 fields
    assert (
        report.lines()[2]
        == "array /sub/b (5,) float64 chunks (2,): 3 of 3 chunks ok, 0 missing, 0 corrupt"
    )
    d = json.loads(json.dumps(report.to_dict()))
    assert d["arrays"][0]["shards"] == [4, 4] and d["arrays"][0]["corrupt_inner"] == []


def test_v2_report_has_no_v3_fields() -> None:
    store: dict = {}
    zarrkit.zeros(4, chunks=2, store=store)[:] = 1
    (a,) = verify(store).to_dict()["arrays"]
    assert set(a) == {
        "path",
        "shape",
        "chunks",
        "dtype",
        "nchunks",
        "present",
        "missing",
        "missing_keys",
        "corrupt",
    }


def test_corrupt_inner_chunk_is_named_by_shard_and_coordinates() -> None:
    store: dict = {}
    z = sharded(store)  # zstd by default
    offset, n = inner_range(store, "c/1/0", z, (0, 1))
    data = bytearray(store["c/1/0"])
    data[offset : offset + n] = b"\xff" * n
    store["c/1/0"] = bytes(data)
    report = verify(store)
    assert not report.ok and report.n_corrupt == 1
    (a,) = report.arrays
    assert a.corrupt == []
    (p,) = a.corrupt_inner
    # inner chunk (0, 1) of shard (1, 0) is chunk (2, 1) of the array
    assert (p.key, p.inner, p.chunk) == ("c/1/0", (0, 1), (2, 1))
    assert a.ok_chunks == 3
    text = "\n".join(report.lines())
    assert "  corrupt  c/1/0 inner chunk (0, 1) (chunk (2, 1)): " in text
    assert "3 of 4 shards ok, 0 missing, 1 corrupt; 16 inner chunks read, 1 corrupt" in text
    assert report.summary().endswith("; 1 corrupt chunk")


def test_index_checksum_and_truncation_are_shard_problems() -> None:
    store: dict = {}
    sharded(store)
    data = bytearray(store["c/0/1"])
    data[-1] ^= 0xFF  # the index's crc32c (index at the end)
    store["c/0/1"] = bytes(data)
    store["c/1/1"] = store["c/1/1"][:-10]  # truncated: the index is read from the wrong bytes
    store["c/0/0"] = b"x" * 7  # shorter than the index
    (a,) = verify(store).arrays
    corrupt = dict(a.corrupt)
    assert sorted(corrupt) == ["c/0/0", "c/0/1", "c/1/1"]
    assert "crc32c" in corrupt["c/0/1"].lower()
    assert "shorter than its index" in corrupt["c/0/0"]
    assert a.corrupt_inner == [] and a.ok_chunks == 1 and a.inner_chunks == 4


def test_stray_and_missing_keys_of_v3_layouts() -> None:
    store: dict = {}
    sharded(store)
    del store["c/1/1"]
    store["c/2/0"] = b"past the edge"
    store["c/0"] = b"too few coordinates"
    store["0.0"] = b"a v2 key in a c/ array"
    store[".zattrs"] = b"{}"  # v2 metadata names mean nothing in a v3 node
    store["c/01/0"] = b"leading zero"
    report = verify(store, missing_is_error=True)
    assert report.stray_keys == [".zattrs", "0.0", "c/0", "c/01/0", "c/2/0"]
    (a,) = report.arrays
    assert (a.present, a.missing, a.missing_keys) == (3, 1, ["c/1/1"])


def test_v3_metadata_errors() -> None:
    store: dict = {}
    root = zarrkit.group(store, zarr_format=3)
    root.create("good", shape=(2,), chunks=(1,), dtype="u1")[:] = 1
    root.create("bad", shape=(2,), chunks=(1,), dtype="u1")[:] = 1
    store["bad/zarr.json"] = b'{"zarr_format": 3, "node_type": "array"}'
    store["both/.zgroup"] = b'{"zarr_format": 2}'
    store["both/zarr.json"] = b'{"zarr_format": 3, "node_type": "group"}'
    report = verify(store)
    assert [k for k, _ in report.metadata_errors] == ["bad/zarr.json", "both/zarr.json"]
    assert [a.path for a in report.arrays] == ["good"]
    assert report.stray_keys == []  # the chunks of an unreadable array are not strays


def test_checksum_manifest_of_a_sharded_array(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.zarr"
    sharded(str(path))
    manifest = tmp_path / "m.sha256"
    assert verify(str(path), write_checksums=str(manifest)).ok
    assert "c/0/0" in manifest.read_text() and "zarr.json" in manifest.read_text()
    assert verify(str(path), check_checksums=str(manifest)).ok


@needs_zarr3
def test_shards_written_by_zarr_python(tmp_path: pathlib.Path) -> None:
    import zarr
    from zarr.codecs import BytesCodec, ShardingCodec, ZstdCodec

    path = str(tmp_path / "zp.zarr")
    a = zarr.create(
        store=path,
        shape=(8, 8),
        chunks=(4, 4),
        dtype="i4",
        zarr_format=3,
        codecs=[
            ShardingCodec(
                chunk_shape=(2, 2), codecs=[BytesCodec(), ZstdCodec()], index_location="start"
            )
        ],
    )
    a[:] = np.arange(64).reshape(8, 8)
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    b = g.create_array("x/b", shape=(6,), chunks=(2,), shards=(4,), dtype="f4")
    b[:] = 1.5
    g.create_array(
        "v2keys", shape=(4,), chunks=(2,), dtype="u1", chunk_key_encoding={"name": "v2"}
    )[:] = 3
    report = verify(path)
    assert report.ok, report.lines()
    assert report.arrays[0].inner_chunks == 16
    report = verify(str(tmp_path / "g.zarr"))
    assert report.ok, report.lines()
    assert [(r.path, r.shards, r.present) for r in report.arrays] == [
        ("v2keys", None, 2),
        ("x/b", (4,), 2),
    ]
    assert report.groups == ["", "x"]

    # index at the start: a truncated shard leaves inner chunks past its end, named one by one
    shard = tmp_path / "zp.zarr" / "c" / "1" / "1"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) - 20])
    offset, n = inner_range(zarrkit.DirectoryStore(path), "c/0/1", zarrkit.open_array(path), (1, 1))
    raw = bytearray((tmp_path / "zp.zarr" / "c" / "0" / "1").read_bytes())
    raw[offset : offset + n] = bytes(n)
    (tmp_path / "zp.zarr" / "c" / "0" / "1").write_bytes(bytes(raw))
    (r,) = verify(path).arrays
    assert r.corrupt == []
    problems = {(p.key, p.inner, p.chunk): p.reason for p in r.corrupt_inner}
    assert ("c/0/1", (1, 1), (1, 3)) in problems
    past = [k for k, why in problems.items() if "past the end" in why]
    assert past and all(k[0] == "c/1/1" for k in past)


@pytest.mark.parametrize("encoding", ["default", "v2"])
def test_zero_dimensional_v3_arrays(encoding: str) -> None:
    store: dict = {}
    z = zarrkit.create(shape=(), dtype="i2", zarr_format=3, store=store)
    z[()] = 5
    if encoding == "v2":  # the same array stored with v2 chunk keys
        doc = json.loads(store["zarr.json"])
        doc["chunk_key_encoding"] = {"name": "v2", "configuration": {"separator": "."}}
        store["zarr.json"] = json.dumps(doc).encode()
        store["0"] = store.pop("c")
    report = verify(store)
    assert report.ok, report.lines()
    assert report.arrays[0].present == 1


@needs_zarr3
def test_v3_consolidated_metadata_of_zarr_python(tmp_path: pathlib.Path) -> None:
    import warnings

    import zarr

    path = str(tmp_path / "c.zarr")
    g = zarr.open_group(path, mode="w")
    g.create_array("a", shape=(4,), chunks=(2,), shards=(4,), dtype="i4")[:] = 1
    g.create_group("s").create_array("b", shape=(3,), dtype="f4")[:] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not part of the Zarr format 3 specification"
        zarr.consolidate_metadata(path)
    report = verify(path)
    assert report.ok, report.lines()
    doc_path = tmp_path / "c.zarr" / "s" / "b" / "zarr.json"
    doc = json.loads(doc_path.read_text())
    doc["attributes"]["units"] = "m"
    doc_path.write_text(json.dumps(doc))
    (tmp_path / "c.zarr" / "s" / "new").mkdir()
    (tmp_path / "c.zarr" / "s" / "new" / "zarr.json").write_text(
        '{"zarr_format": 3, "node_type": "group", "attributes": {}}'
    )
    report = verify(path)
    assert report.consolidated == [
        ("s/b/zarr.json", "differs from its copy in the consolidated metadata of zarr.json"),
        ("s/new/zarr.json", "in the store but not in the consolidated metadata of zarr.json"),
    ]
    assert not report.ok
    assert verify(path, "s").ok  # only the top group's consolidated metadata are compared


def test_nested_shards_are_verified_to_the_innermost_chunks() -> None:
    """Nested sharding: every innermost chunk is decoded, named by its coordinates in the
    (outer) shard; a damaged inner shard index is a problem of the whole shard."""
    store: dict = {}
    z = zarrkit.create(
        shape=(8, 8), chunks=(2, 2), shards=[(8, 8), (4, 4)], dtype="i4", zarr_format=3,
        store=store,
    )  # fmt: skip
    z[:] = np.arange(64, dtype="i4").reshape(8, 8)
    report = verify(store)
    assert report.ok, report.lines()
    (a,) = report.arrays
    assert (a.shards, a.present, a.inner_chunks) == ((8, 8), 1, 16)
    layout = ShardLayout.of(z._meta)
    shard = bytes(store["c/0/0"])
    found = layout.stored(shard, "c/0/0")
    # the innermost chunk (1, 2): inner shard (0, 1), chunk (1, 0) in it
    j = 1 * 4 + 2
    view = found[j]
    start = shard.find(bytes(view))
    assert start >= 0
    data = bytearray(shard)
    data[start : start + len(view)] = b"\xff" * len(view)
    store["c/0/0"] = bytes(data)
    (a,) = verify(store).arrays
    (p,) = a.corrupt_inner
    assert (p.key, p.inner, p.chunk) == ("c/0/0", (1, 2), (1, 2))
    # an inner shard's index: the whole shard
    table = layout.read_index(shard, "c/0/0")
    offset, n = (int(v) for v in table[3])
    data = bytearray(shard)
    data[offset + n - 1] ^= 0xFF
    store["c/0/0"] = bytes(data)
    report = verify(store)
    (a,) = report.arrays
    assert a.corrupt and "inner shard [3]" in "\n".join(report.lines())
