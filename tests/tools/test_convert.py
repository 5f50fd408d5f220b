"""zarrkit.convert (tools/converting.py) and ``zarrkit convert``: Zarr v2 <-> v3 hierarchies,
byte copies where the chunk encoding stays, sharding and rechunking within a memory limit,
in place, and copy/copy_all/copy_store across formats."""

from __future__ import annotations

import json
import pathlib
import tracemalloc
import warnings
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrkit
from conftest import needs_zarr3
from test_cli import call, run
from zarrkit.errors import CopyError
from zarrkit.storage.base import KVStore
from zarrkit.tools import converting
from zarrkit.tools.converting import VerificationError, convert, parse_size

DATA: dict[str, np.ndarray] = {
    "g/h/f8": np.random.default_rng(1).random((40, 30)),
    "g/h/nan": np.where(np.arange(60) % 7 == 0, np.nan, np.arange(60.0)).reshape(6, 10),
    "i4be": np.arange(100, dtype=">i4"),
    "i2": (np.arange(24, dtype="i2") - 12).reshape(2, 3, 4),
    "flags": np.arange(33) % 3 == 0,
    "text": np.array(["a", "bb", "", "dddd", "ünï"] * 4, dtype=object),
    "fixed": np.array(["xy", "z", "uvw"] * 3, dtype="U3"),
    "raw": np.array([b"ab", b"c", b""] * 3, dtype="S2"),
    "when": np.arange(10).astype("M8[s]"),
    "cplx": (np.arange(12) * (1 + 2j)).astype("c8").reshape(3, 4),
    "fortran": np.asfortranarray(np.arange(30.0).reshape(5, 6)),
    "scalar": np.array(7.5),
}


def _v2_hierarchy(store: Any, consolidated: bool = True) -> zarrkit.Group:
    root = zarrkit.group(store, zarr_format=2)
    root.attrs.update(title="demo", nested={"a": [1, 2]})
    root.create_group("g/h").attrs["deep"] = True
    root["g"].attrs["level"] = 1
    root.create_group("empty")
    for path, data in DATA.items():
        kws: dict[str, Any] = {}
        if data.dtype == object:
            kws["object_codec"] = numcodecs.VLenUTF8()
        if path == "fortran":
            kws["order"] = "F"
        if path == "g/h/nan":
            kws["fill_value"] = np.nan
        chunks = tuple(max(1, s // 3) for s in data.shape) or None
        z = root.create_dataset(path, data=data, chunks=chunks, **kws)
        z.attrs["name"] = path
    root["g/h/f8"].attrs["_ARRAY_DIMENSIONS"] = ["y", "x"]
    if consolidated:
        zarrkit.consolidate_metadata(store)
    return root


def _check_equal(group: Any, shards: bool = False) -> None:
    for path, data in DATA.items():
        got = group[path][...]
        if data.dtype.kind == "f":
            np.testing.assert_array_equal(got, data)
        else:
            assert np.array_equal(np.asarray(got), data), path


def _stored(store: Any, prefix: str) -> dict[str, bytes]:
    return {k[len(prefix) :]: bytes(store[k]) for k in store.keys() if k.startswith(prefix)}


# -- v2 -> v3 -----------------------------------------------------------------------------


def test_v2_consolidated_to_v3_sharded_and_rechunked(tmp_path: pathlib.Path) -> None:
    src = zarrkit.DirectoryStore(str(tmp_path / "src.zarr"))
    _v2_hierarchy(src)
    dst = str(tmp_path / "dst.zarr")
    report = convert(
        src,
        dst,
        shards={"g/h/f8": (20, 20)},
        chunks={"g/h/f8": (5, 10), "i4be": (20,)},
        max_mem="4MB",
    )
    assert report.verified and report.consolidated and report.zarr_format == 3
    assert report.n_arrays == len(DATA)
    methods = {a.path: a.method for a in report.arrays}
    assert methods["g/h/f8"] == methods["i4be"] == "re-encoded"
    assert sum(m == "bytes" for m in methods.values()) == len(DATA) - 2
    assert sorted(report.groups) == ["", "empty", "g", "g/h"]
    assert not report.skipped_keys  # the .zmetadata is not a stray key

    out = zarrkit.open_group(dst, mode="r")
    assert out.zarr_format == 3
    _check_equal(out)
    f8 = out["g/h/f8"]
    assert f8.shards == (20, 20) and f8.chunks == (5, 10)
    assert f8.dimension_names == ("y", "x") and "_ARRAY_DIMENSIONS" not in f8.attrs
    assert out["i4be"].chunks == (20,) and out["i4be"].dtype == np.dtype(">i4")
    assert out.attrs.asdict() == {"title": "demo", "nested": {"a": [1, 2]}}
    assert out["g"].attrs["level"] == 1 and out["g/h"].attrs["deep"] is True
    assert out["text"].attrs["name"] == "text"
    assert out["fortran"].order == "F"
    assert np.isnan(out["g/h/nan"].fill_value)
    doc = json.loads((tmp_path / "dst.zarr" / "zarr.json").read_text())
    inner = doc["consolidated_metadata"]["metadata"]
    assert sorted(inner) == sorted(["empty", "g", "g/h", *DATA])
    assert not any(p.name.startswith(".z") for p in (tmp_path / "dst.zarr").rglob("*"))


@needs_zarr3
def test_v3_result_reads_in_zarr_python(tmp_path: pathlib.Path) -> None:
    import zarr

    src = zarrkit.DirectoryStore(str(tmp_path / "src.zarr"))
    _v2_hierarchy(src)
    dst = tmp_path / "dst.zarr"
    convert(src, str(dst), shards=(20, 20), chunks={"g/h/f8": (10, 10)}, max_mem="4MB")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = zarr.open_group(str(dst), mode="r")
        for path, data in DATA.items():
            got = g[path][...]
            if data.dtype == object:
                assert list(got) == list(data), path
            elif data.dtype.kind == "f":
                np.testing.assert_array_equal(got, data)
            else:
                assert np.array_equal(np.asarray(got), data), path
        assert g["g/h/f8"].shards == (20, 20)
        assert g["g/h"].attrs["deep"] is True and g.attrs["title"] == "demo"
        assert g["g/h/f8"].metadata.dimension_names == ("y", "x")
        # the consolidated metadata are what zarr-python writes for the same hierarchy
        ours = json.loads((dst / "zarr.json").read_text())
        zarr.consolidate_metadata(str(dst))
        theirs = json.loads((dst / "zarr.json").read_text())
        assert ours == theirs
        c = zarr.open_consolidated(str(dst))
        np.testing.assert_array_equal(c["g/h/f8"][...], DATA["g/h/f8"])
        # and back to v2 (unsharded by re-encoding), read by zarr-python as v2
        v2 = tmp_path / "v2.zarr"
        convert(str(dst), str(v2), zarr_format=2)
        g2 = zarr.open_consolidated(str(v2), zarr_format=2)
        np.testing.assert_array_equal(g2["g/h/f8"][...], DATA["g/h/f8"])
        assert list(g2["text"][...]) == list(DATA["text"])
        assert g2["g/h/f8"].attrs["_ARRAY_DIMENSIONS"] == ["y", "x"]


def test_metadata_only_path_copies_chunk_bytes_without_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = zarrkit.MemoryStore()
    z = zarrkit.create(
        (30, 20), chunks=(7, 9), dtype="<f4", store=src, path="a", zarr_format=2,
        compressor=numcodecs.Zstd(level=3),
    )  # fmt: skip
    z[:] = np.arange(600, dtype="f4").reshape(30, 20)
    zarrkit.group(src, zarr_format=2, path="")  # the root group
    before = _stored(src, "a/")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a chunk was decoded or encoded")

    for codec in (numcodecs.Zstd, numcodecs.Blosc):
        monkeypatch.setattr(codec, "decode", refuse)
        monkeypatch.setattr(codec, "encode", refuse)
    monkeypatch.setattr(zarrkit.Array, "__getitem__", refuse)
    monkeypatch.setattr(zarrkit.Array, "__setitem__", refuse)
    dst = zarrkit.MemoryStore()
    report = convert(src, dst, verify=False)
    monkeypatch.undo()
    assert report.n_byte_copied == 1 and report.n_re_encoded == 0
    chunks = {k: v for k, v in before.items() if not k.startswith(".")}
    assert report.bytes_copied == sum(map(len, chunks.values()))
    after = _stored(dst, "a/")
    # the same bytes, at the v3 default keys
    assert {"c/" + k.replace(".", "/"): v for k, v in chunks.items()} == {
        k: v for k, v in after.items() if k != "zarr.json"
    }
    out = zarrkit.open_array(dst, path="a", mode="r")
    np.testing.assert_array_equal(out[:], np.arange(600, dtype="f4").reshape(30, 20))


def test_v3_to_v2_roundtrip_is_byte_identical(tmp_path: pathlib.Path) -> None:
    src = zarrkit.MemoryStore()
    _v2_hierarchy(src)
    v3 = zarrkit.MemoryStore()
    convert(src, v3)
    back = zarrkit.MemoryStore()
    report = convert(v3, back, zarr_format=2)
    assert report.n_re_encoded == 0 and report.consolidated
    _check_equal(zarrkit.open_group(back, mode="r"))
    # chunks, array and group documents as they were; .zmetadata gathers the same documents
    for key in src.keys():
        if key == ".zmetadata":
            continue
        assert key in back, key
        if key.endswith((".zarray", ".zattrs", ".zgroup")):
            doc, was = json.loads(back[key]), json.loads(src[key])
            if key == "text/.zarray":  # zarr 2's fill value 0 of object arrays: v3's "0"
                assert (doc.pop("fill_value"), was.pop("fill_value")) == ("0", 0)
            assert doc == was, key
        else:
            assert bytes(back[key]) == bytes(src[key]), key
    zmeta = json.loads(back[".zmetadata"])
    assert sorted(zmeta["metadata"]) == sorted(json.loads(src[".zmetadata"])["metadata"])
    assert set(back.keys()) == set(src.keys())


def test_v3_sharded_to_v2_unshards_by_re_encoding() -> None:
    src = zarrkit.MemoryStore()
    z = zarrkit.create((50, 40), chunks=(10, 10), shards=(20, 40), dtype="i8", store=src,
                       zarr_format=3, dimension_names=("t", None))  # fmt: skip
    z[:] = np.arange(2000).reshape(50, 40)
    z.attrs["k"] = "v"
    dst = zarrkit.MemoryStore()
    report = convert(src, dst, zarr_format=2)
    assert report.n_re_encoded == 1 and not report.consolidated
    out = zarrkit.open_array(dst, mode="r")
    assert out.zarr_format == 2 and out.chunks == (10, 10)
    np.testing.assert_array_equal(out[:], z[:])
    # dimension names with a None cannot be xarray's _ARRAY_DIMENSIONS: left out
    assert out.attrs.asdict() == {"k": "v"}
    z2 = zarrkit.create((4,), chunks=(2,), dtype="u1", store={}, zarr_format=3,
                        dimension_names=("x",))  # fmt: skip
    z2[:] = 3
    out2 = zarrkit.MemoryStore()
    convert(z2, out2, zarr_format=2)
    assert zarrkit.open_array(out2).attrs["_ARRAY_DIMENSIONS"] == ["x"]


def test_v3_to_v3_reshards_and_array_source() -> None:
    src = zarrkit.create((64,), chunks=(8,), shards=(32,), dtype="f8", store={}, zarr_format=3)
    src[:] = np.arange(64.0)
    dst = zarrkit.MemoryStore()
    report = convert(src, dst, shards=(64,))
    assert report.arrays[0].shards == (64,) and report.n_re_encoded == 1
    np.testing.assert_array_equal(zarrkit.open_array(dst)[:], np.arange(64.0))
    same = zarrkit.MemoryStore()
    assert convert(src, same).n_byte_copied == 1  # same shards, same codecs: shard bytes
    assert sorted(k for k in same if k != "zarr.json") == ["c/0", "c/1"]


def test_path_and_compressor_and_progress() -> None:
    src = zarrkit.MemoryStore()
    _v2_hierarchy(src, consolidated=False)
    dst = zarrkit.MemoryStore()
    steps: list[tuple[int, int]] = []
    report = convert(
        src, dst, path="g", compressor=numcodecs.GZip(level=1), progress=lambda d, t: steps.append((d, t))
    )  # fmt: skip
    assert {a.path for a in report.arrays} == {"h/f8", "h/nan"}
    assert report.n_re_encoded == 2 and not report.consolidated
    assert steps and steps[-1][0] == steps[-1][1]
    out = zarrkit.open_group(dst, mode="r")
    assert out.attrs["level"] == 1 and out["h"].attrs["deep"] is True
    assert out["h/f8"].compressor.codec_id == "gzip"
    np.testing.assert_array_equal(out["h/f8"][:], DATA["g/h/f8"])


def test_tuple_specs_apply_to_arrays_with_that_many_dimensions() -> None:
    src = zarrkit.MemoryStore()
    _v2_hierarchy(src, consolidated=False)
    dst = zarrkit.MemoryStore()
    report = convert(src, dst, chunks=(2, 2), shards=(4, 4))
    by_path = {a.path: a for a in report.arrays}
    assert by_path["g/h/f8"].chunks == (2, 2) and by_path["g/h/f8"].shards == (4, 4)
    assert by_path["i4be"].shards is None and by_path["i2"].shards is None
    _check_equal(zarrkit.open_group(dst, mode="r"))


@pytest.mark.parametrize(
    ("shape", "chunks", "itemsize"),
    [((8000, 8000), (250, 250), 4), ((10, 10, 10), (3, 3, 3), 8), ((100000,), (7,), 1),
     ((5, 7), (5, 7), 8), ((1, 40000), (1, 3), 2), ((0, 9), (4, 4), 4)],
)  # fmt: skip
def test_auto_shards_are_whole_chunks_within_the_limit(
    shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(converting, "AUTO_SHARD_BYTES", 4096)
    shards = converting.auto_shards(shape, chunks, itemsize)
    covered = [-(-max(1, n) // c) * c for n, c in zip(shape, chunks)]
    if shards is None:  # one chunk per shard would be all the limit allows (or all there is)
        grown = [min(2 * c, n) for c, n in zip(chunks, covered)]
        assert all(g == c for g, c in zip(grown, chunks)) or np.prod(chunks) * 2 * itemsize > 4096
        return
    assert shards != chunks and all(
        s % c == 0 and s <= n for s, c, n in zip(shards, chunks, covered)
    )
    assert np.prod(shards) * itemsize <= max(4096, np.prod(chunks) * itemsize)


def test_auto_shards_in_convert_and_the_command(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(converting, "AUTO_SHARD_BYTES", 4096)
    src = zarrkit.MemoryStore()
    _v2_hierarchy(src, consolidated=False)
    dst = zarrkit.MemoryStore()
    report = convert(src, dst, shards="auto")
    by_path = {a.path: a for a in report.arrays}
    f8 = by_path["g/h/f8"]  # 40x30 f8 in 13x10 chunks: 512 items to a shard at most
    assert f8.shards == (13, 30)
    assert all(s % c == 0 for s, c in zip(f8.shards, f8.chunks))
    assert by_path["scalar"].shards is None
    _check_equal(zarrkit.open_group(dst, mode="r"))
    named = zarrkit.MemoryStore()
    report = convert(src, named, shards={"i4be": "auto"})
    assert [a.path for a in report.arrays if a.shards] == ["i4be"]
    with pytest.raises(ValueError, match="zarr_format=3"):
        convert(src, zarrkit.MemoryStore(), shards="auto", zarr_format=2)
    # the command
    big = tmp_path / "big.zarr"
    zarrkit.zeros((64, 64), chunks=(8, 8), dtype="i4", store=str(big))[:10] = 1
    code, _, err = call(capsys, "convert", str(big), str(tmp_path / "out.zarr"), "--shards", "auto")
    assert code == 0, err
    out = zarrkit.open_array(str(tmp_path / "out.zarr"), mode="r")
    assert out.shards == (16, 64) and out.chunks == (8, 8)  # 1024 items of 4 bytes
    assert int(out[:].sum()) == 10 * 64
    from zarrkit.cli.commands import _shards_argument

    assert _shards_argument(["a=auto", "g/b=4,4"]) == {"a": "auto", "g/b": (4, 4)}
    code, _, err = call(capsys, "convert", str(big), str(tmp_path / "o2"), "--shards", "auto",
                        "--shards", "4,4")  # fmt: skip
    assert code == 2 and "--shards" in err


# -- memory ---------------------------------------------------------------------------------


def test_memory_limit_is_respected(tmp_path: pathlib.Path) -> None:
    data = np.random.default_rng(0).random((1000, 1000))  # 8 MB
    src = zarrkit.DirectoryStore(str(tmp_path / "src"))
    z = zarrkit.create(data.shape, chunks=(20, 1000), dtype="f8", store=src, zarr_format=2)
    z[:] = data
    del z
    threads = zarrkit.get_num_threads()
    zarrkit.set_num_threads(2)
    limit = 2 * 2**20
    try:
        for kind, kws in (
            ("rechunk", dict(chunks=(1000, 20))),
            ("shards", dict(chunks=(50, 50), shards=(100, 500))),
            ("bytes", {}),
        ):
            dst = zarrkit.DirectoryStore(str(tmp_path / kind))
            tracemalloc.start()
            report = convert(src, dst, max_mem=limit, **kws)  # type: ignore[arg-type]
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert report.verified and report.n_re_encoded == (kind != "bytes")
            assert peak < 1.25 * limit, (kind, peak)
            np.testing.assert_array_equal(zarrkit.open_array(dst)[:], data)
    finally:
        zarrkit.set_num_threads(threads)


class _CountingStore(KVStore):
    """Remembers the largest number of value bytes one ``getitems`` call returned."""

    def __init__(self) -> None:
        super().__init__({})
        self.largest = 0

    def getitems(self, keys: Any, *, contexts: Any = None) -> dict:
        out = super().getitems(keys, contexts=contexts)
        self.largest = max(self.largest, sum(len(v) for v in out.values()))
        return out


def test_byte_copy_batches_within_the_limit() -> None:
    src = _CountingStore()
    z = zarrkit.create((400, 400), chunks=(20, 20), dtype="f8", store=src, compressor=None,
                       zarr_format=2)  # fmt: skip
    z[:] = 1.5  # 400 chunks of 3,200 bytes: 1.28 MB
    src.largest = 0
    report = convert(src, zarrkit.MemoryStore(), max_mem=64 * 2**10, verify=False)
    assert report.n_byte_copied == 1 and report.arrays[0].keys_copied == 400
    assert 0 < src.largest <= 64 * 2**10


def test_max_mem_too_small_is_refused_before_writing() -> None:
    src = zarrkit.MemoryStore()
    zarrkit.create((100, 100), chunks=(100, 100), dtype="f8", store=src, zarr_format=2)[:] = 1
    dst = zarrkit.MemoryStore()
    with pytest.raises(ValueError, match="too small"):
        convert(src, dst, chunks=(10, 10), max_mem=1000)
    assert len(dst) == 0


def test_parse_size() -> None:
    assert parse_size("256MB") == 256 * 2**20 and parse_size(10) == 10
    assert parse_size("1.5G") == int(1.5 * 2**30)
    for bad in ("lots", "0", -1):
        with pytest.raises(ValueError):
            parse_size(bad)


# -- in place -------------------------------------------------------------------------------


def test_in_place_v2_to_v3_and_back(tmp_path: pathlib.Path) -> None:
    where = str(tmp_path / "data.zarr")
    store = zarrkit.DirectoryStore(where)
    _v2_hierarchy(store)
    before = _stored(store, "")
    report = convert(store, store, chunks={"g/h/f8": (20, 30)})
    assert report.in_place and report.verified
    names = {k.rpartition("/")[2] for k in store.keys()}
    assert not names & {".zarray", ".zgroup", ".zattrs", ".zmetadata"}
    _check_equal(zarrkit.open_group(where, mode="r"))
    report = convert(where, where, zarr_format=2)  # by path: the same folder
    assert report.in_place
    assert not any(k.endswith("zarr.json") or "/c/" in k for k in store.keys())
    assert not (tmp_path / "data.zarr" / "i4be" / "c").exists()  # no empty folders left
    _check_equal(zarrkit.open_group(where, mode="r"))
    after = _stored(store, "")
    assert {k for k in after if not k.startswith("g/h/f8/")} == {
        k for k in before if not k.startswith("g/h/f8/")
    }


def test_in_place_refused_when_keys_would_meet() -> None:
    store = zarrkit.MemoryStore()
    _v2_hierarchy(store, consolidated=False)
    with pytest.raises(CopyError, match="in place"):
        convert(store, store, zarr_format=2, chunks=(5, 5))
    v3 = zarrkit.MemoryStore()
    z = zarrkit.create((10,), chunks=(5,), dtype="i4", store=v3, zarr_format=3)
    z[:] = 1
    with pytest.raises(CopyError, match="in place"):
        convert(v3, v3, zarr_format=3)
    with pytest.raises(CopyError, match="delete the source"):
        convert(store, store, overwrite=True)


def test_failed_verification_keeps_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    store = zarrkit.MemoryStore()
    _v2_hierarchy(store, consolidated=False)
    before = _stored(store, "")
    monkeypatch.setattr(converting, "_equal", lambda a, b: False)
    dst = zarrkit.MemoryStore()
    with pytest.raises(VerificationError, match="differs from the source"):
        convert(store, dst)
    assert len(dst) == 0
    with pytest.raises(VerificationError):
        convert(store, store)  # in place: the source stays as it was
    assert _stored(store, "") == before


# -- bad input ------------------------------------------------------------------------------


def test_bad_input() -> None:
    src = zarrkit.MemoryStore()
    _v2_hierarchy(src, consolidated=False)
    dst = zarrkit.MemoryStore()
    dst["junk"] = b"x"
    with pytest.raises(CopyError, match="holds 1 keys already"):
        convert(src, dst)
    assert convert(src, dst, overwrite=True).verified and "junk" not in dst
    with pytest.raises(ValueError, match=r"not a multiple of its chunks"):
        convert(src, zarrkit.MemoryStore(), shards={"g/h/f8": (15, 15)})
    with pytest.raises(ValueError, match="need Zarr format 3"):
        convert(src, zarrkit.MemoryStore(), zarr_format=2, shards=(10, 10))
    with pytest.raises(ValueError, match=r"not in the source: \['nope'\]"):
        convert(src, zarrkit.MemoryStore(), chunks={"nope": (1,)})
    with pytest.raises(ValueError, match="zarr_format must be 2 or 3"):
        convert(src, zarrkit.MemoryStore(), zarr_format=4)
    with pytest.raises(TypeError, match="compressor"):
        convert(src, zarrkit.MemoryStore(), compressor="zstd")
    # an object codec v3 has no data type for: refused before anything is written
    odd = zarrkit.MemoryStore()
    g = zarrkit.group(odd, zarr_format=2)
    g.create_dataset("ok", data=np.arange(3))
    g.create_dataset("p", data=np.array([1, "a"], dtype=object), object_codec=numcodecs.Pickle())
    out = zarrkit.MemoryStore()
    with pytest.raises(ValueError, match="array /p cannot be converted to Zarr v3"):
        convert(odd, out)
    assert len(out) == 0


# -- the command line -------------------------------------------------------------------------


def test_convert_command(tmp_path: pathlib.Path, capsys: Any) -> None:
    src = tmp_path / "src.zarr"
    _v2_hierarchy(zarrkit.DirectoryStore(str(src)))
    dst = tmp_path / "dst.zarr"
    r = run("convert", str(src), str(dst), "--zarr-format", "3", "--shards", "g/h/f8=20,30",
            "--chunks", "g/h/f8=10,10", "--max-mem", "8MB")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "re-encoded" in r.stdout and "verified; consolidated" in r.stdout
    out = zarrkit.open_group(str(dst), mode="r")
    assert out["g/h/f8"].shards == (20, 30)
    _check_equal(out)
    # the destination is in the way: exit 2, one line
    r = run("convert", str(src), str(dst))
    assert r.returncode == 2 and "holds" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    # shards that are not a multiple of the chunks
    code, _, err = call(capsys, "convert", str(src), str(tmp_path / "x"), "--shards", "7,7")
    assert code == 2 and "not a multiple of its chunks" in err
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())
    code, _, err = call(capsys, "convert", str(src), str(tmp_path / "y"), "--shards", "a,b")
    assert code == 2 and "--shards 'a,b'" in err
    code, _, err = call(capsys, "convert", str(tmp_path / "missing"), str(tmp_path / "z"))
    assert code == 2 and "no such file or directory" in err
    # --json, --no-verify, -q
    code, text, _ = call(capsys, "convert", str(src), str(tmp_path / "j"), "--json", "--no-verify")
    assert code == 0
    doc = json.loads(text)
    assert doc["verified"] is False and doc["n_arrays"] == len(DATA)
    code, text, _ = call(
        capsys, "convert", "-q", str(dst), str(tmp_path / "v2"), "--zarr-format", "2"
    )
    assert code == 0 and text == ""
    _check_equal(zarrkit.open_group(str(tmp_path / "v2"), mode="r"))


def test_convert_command_in_place_and_verification_exit_code(
    tmp_path: pathlib.Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = tmp_path / "data.zarr"
    _v2_hierarchy(zarrkit.DirectoryStore(str(where)))
    code, text, err = call(capsys, "convert", str(where), str(where))
    assert code == 0, err
    assert "in place" in text and not (where / ".zgroup").exists()
    code, _, err = call(capsys, "convert", str(where), str(where))
    assert code == 2 and "cannot convert in place" in err
    monkeypatch.setattr(converting, "_equal", lambda a, b: False)
    code, _, err = call(capsys, "convert", str(where), str(tmp_path / "o"), "--zarr-format", "2")
    assert code == 1 and "verification failed" in err


# -- copy, copy_all, copy_store across formats --------------------------------------------------


def test_copy_between_formats() -> None:
    v2 = zarrkit.group(zarrkit.MemoryStore(), zarr_format=2)
    _v2_hierarchy(v2.store, consolidated=False)
    v3 = zarrkit.group(zarrkit.MemoryStore(), zarr_format=3)
    zarrkit.copy_all(v2, v3)
    assert v3["g/h/f8"].zarr_format == 3 and "g/h/f8/zarr.json" in v3.store
    _check_equal(v3)
    assert v3.attrs["title"] == "demo" and v3["g/h"].attrs["deep"] is True
    back = zarrkit.group(zarrkit.MemoryStore(), zarr_format=2)
    zarrkit.copy(v3["g"], back)
    assert back["g/h/f8"].zarr_format == 2 and "g/h/f8/.zarray" in back.store
    np.testing.assert_array_equal(back["g/h/f8"][:], DATA["g/h/f8"])


def test_copy_v3_to_v3_keeps_shards_and_dimension_names() -> None:
    src = zarrkit.group(zarrkit.MemoryStore(), zarr_format=3)
    a = src.create_dataset("a", shape=(40,), chunks=(5,), shards=(20,), dtype="i4",
                           dimension_names=("x",))  # fmt: skip
    a[:] = np.arange(40)
    dst = zarrkit.group(zarrkit.MemoryStore(), zarr_format=3)
    zarrkit.copy(a, dst)
    assert dst["a"].shards == (20,) and dst["a"].dimension_names == ("x",)
    np.testing.assert_array_equal(dst["a"][:], np.arange(40))
    zarrkit.copy(a, dst, name="b", chunks=(8,))  # new chunks: the shards are not kept
    assert dst["b"].shards is None and dst["b"].chunks == (8,)
    v2 = zarrkit.group(zarrkit.MemoryStore(), zarr_format=2)
    zarrkit.copy(a, v2)  # into v2: unsharded, chunks of the inner chunks
    assert v2["a"].chunks == (5,) and v2["a"].zarr_format == 2


def test_copy_store_refuses_to_mix_formats() -> None:
    v2 = zarrkit.group(zarrkit.MemoryStore(), zarr_format=2)
    v2.create_dataset("a", data=np.arange(4))
    v3 = zarrkit.group(zarrkit.MemoryStore(), zarr_format=3)
    v3.create_dataset("b", data=np.arange(4))
    n = len(v3.store)
    with pytest.raises(CopyError, match="Zarr v2 and the destination at 'x' is in a Zarr v3"):
        zarrkit.copy_store(v2.store, v3.store, dest_path="x")
    with pytest.raises(CopyError, match="zarrkit.convert"):
        zarrkit.copy_store(v3.store, v2.store, source_path="b", dest_path="c")
    assert len(v3.store) == n and "c/zarr.json" not in v2.store
    # same formats, or an empty destination: copied as before
    empty: dict = {}
    assert zarrkit.copy_store(v3.store, empty)[0] == n
    other = zarrkit.group(zarrkit.MemoryStore(), zarr_format=3)
    zarrkit.copy_store(v3.store, other.store, source_path="b", dest_path="b2")
    np.testing.assert_array_equal(zarrkit.open_group(other.store)["b2"][:], np.arange(4))


# -- the compiled loop writes v3's default chunk keys ----------------------------------------


def test_native_loop_uses_v3_chunk_keys(tmp_path: pathlib.Path) -> None:
    where = tmp_path / "a.zarr"
    z = zarrkit.create((10, 12), chunks=(5, 4), dtype=">i4", store=str(where), zarr_format=3,
                       compressor=numcodecs.Blosc())  # fmt: skip
    z[:] = np.arange(120).reshape(10, 12)
    files = sorted(p.relative_to(where).as_posix() for p in where.rglob("*") if p.is_file())
    assert files == sorted(["zarr.json"] + [f"c/{i}/{j}" for i in range(2) for j in range(3)])
    # chunks written by another writer at those keys are read by the loop
    z2 = zarrkit.create((10,), chunks=(5,), dtype="<i4", store={}, zarr_format=3,
                        compressor=numcodecs.Blosc())  # fmt: skip
    z2[:] = np.arange(10)
    other = tmp_path / "b.zarr"
    for key, value in z2.store.items():
        (other / key).parent.mkdir(parents=True, exist_ok=True)
        (other / key).write_bytes(bytes(value))
    np.testing.assert_array_equal(zarrkit.open_array(str(other), mode="r")[:], np.arange(10))


def test_fill_values_v3_cannot_hold_are_not_differences() -> None:
    """A v2 array without a fill value (missing chunks read as anything) and an object array
    with zarr 2's fill value 0 (v3 stores text): the missing chunks read as the
    destination's fill value, and the comparison accepts that."""
    src = zarrkit.MemoryStore()
    g = zarrkit.group(src, zarr_format=2)
    f = g.create_dataset("f", shape=(10,), chunks=(5,), dtype="f8", fill_value=None)
    f[:5] = 1.0
    o = g.create_dataset("o", shape=(10,), chunks=(5,), dtype=object,
                         object_codec=numcodecs.VLenUTF8())  # fmt: skip
    o[:5] = "a"
    for kws in ({}, {"chunks": (3,)}):
        dst = zarrkit.MemoryStore()
        report = convert(src, dst, **kws)  # type: ignore[arg-type]
        assert report.verified
        out = zarrkit.open_group(dst, mode="r")
        np.testing.assert_array_equal(out["f"][:5], 1.0)
        assert list(out["o"][:5]) == ["a"] * 5 and out["o"].fill_value == "0"
