"""zarrkit.rechunk: results against NumPy, whole-chunk reads and writes, bounded memory."""

from __future__ import annotations

import gc
import pathlib
import tracemalloc
from typing import Any

import numpy as np
import pytest

import zarrkit
from zarrkit.rechunking import plan_rechunk


class CountingStore(zarrkit.MemoryStore):
    """Records every chunk key read and written (to check whole-chunk access)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []
        self.writes: list[str] = []

    def getitems(self, keys: Any, *, contexts: Any = None) -> dict:
        keys = list(keys)
        self.reads.extend(keys)
        return super().getitems(keys)

    def setitems(self, values: Any) -> None:
        self.writes.extend(values)
        super().setitems(values)


@pytest.mark.parametrize(
    ("shape", "source", "target", "max_mem"),
    [
        ((40, 30), (1, 30), (40, 1), 12_000),  # transpose of the grid: an intermediate
        ((40, 30), (7, 4), (10, 3), 2**20),  # coprime chunk sizes, room for one stage
        ((40, 30), (7, 4), (10, 3), 6_000),  # ... and with an intermediate
        ((13, 5, 9), (2, 5, 4), (13, 1, 3), 9_000),
        ((17,), (5,), (3,), 1_000),
    ],
)
def test_results_equal_numpy_and_chunks_move_whole(shape, source, target, max_mem) -> None:
    data = np.random.default_rng(0).integers(0, 1000, size=shape).astype("i8")
    src_store, dst_store = CountingStore(), CountingStore()
    src = zarrkit.array(data, chunks=source, store=src_store, fill_value=-1)
    src.attrs["units"] = "m"
    src_store.reads.clear()
    out = zarrkit.rechunk(src, dst_store, target, max_mem=max_mem)
    # every source chunk was read once, every target chunk written once (whole, no merging)
    assert sorted(src_store.reads) == sorted(k for k in src_store if ".z" not in k)
    chunk_writes = [k for k in dst_store.writes if ".z" not in k]
    assert sorted(chunk_writes) == sorted(k for k in dst_store if ".z" not in k)
    # (metadata documents may be read: creation looks for what is there with GETs)
    assert not [k for k in dst_store.reads if ".z" not in k and k != "zarr.json"]
    assert out.chunks == target
    np.testing.assert_array_equal(out[:], data)
    assert (out.fill_value, out.compressor, out.attrs["units"]) == (-1, src.compressor, "m")


def test_plan_is_direct_when_the_grids_match_within_memory() -> None:
    p = plan_rechunk((1000, 1000), (100, 100), (200, 50), 8, 64 * 2**20, threads=4)
    assert p.intermediate is None and p.read == p.write
    assert all(b % 200 == 0 or b == 1000 for b in p.read[:1])
    p = plan_rechunk((1000, 1000), (1, 1000), (1000, 1), 8, 2**20, threads=4)
    assert p.intermediate is not None and p.memory <= 2**20
    assert p.read[1] == 1000 and p.write[0] == 1000
    with pytest.raises(ValueError, match="too small for source chunks"):
        plan_rechunk((1000, 1000), (1000, 1000), (10, 10), 8, 2**20)


def test_memory_stays_under_the_limit(tmp_path: pathlib.Path) -> None:
    shape, max_mem = (600, 500), 400_000  # 2.4 MB of float64, 0.4 MB allowed
    data = np.random.default_rng(1).standard_normal(shape)
    src = zarrkit.open(str(tmp_path / "src.zarr"), mode="w", shape=shape, chunks=(1, 500))
    src[:] = data
    del data
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = zarrkit.rechunk(src, str(tmp_path / "dst.zarr"), (600, 2), max_mem=max_mem)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < max_mem + 150_000, peak  # slack: Python objects of the pipeline and stores
    check = zarrkit.open(str(tmp_path / "src.zarr"), mode="r")[:]
    np.testing.assert_array_equal(out[:], check)


def test_groups_and_paths(tmp_path: pathlib.Path) -> None:
    root = zarrkit.open_group(str(tmp_path / "g.zarr"), mode="w")
    root.attrs["title"] = "t"
    a = root.create_dataset("x/a", data=np.arange(60).reshape(6, 10), chunks=(6, 1))
    b = root.create_dataset("b", data=np.arange(12.0).reshape(3, 4), chunks=(1, 4))
    root["x"].attrs["kind"] = "sub"
    out = zarrkit.rechunk(
        str(tmp_path / "g.zarr"), str(tmp_path / "o.zarr"), {"x/a": (2, 5)}, max_mem=10_000
    )
    assert out.attrs["title"] == "t" and out["x"].attrs["kind"] == "sub"
    assert out["x/a"].chunks == (2, 5) and out["b"].chunks == (1, 4)
    np.testing.assert_array_equal(out["x/a"][:], a[:])
    np.testing.assert_array_equal(out["b"][:], b[:])
    every = zarrkit.rechunk(root, str(tmp_path / "e.zarr"), (-1, 2))
    assert every["x/a"].chunks == (6, 2) and every["b"].chunks == (3, 2)
    with pytest.raises(ValueError, match="not in the source"):
        zarrkit.rechunk(root, str(tmp_path / "n.zarr"), {"nope": (1, 1)})


def test_object_arrays_and_n5(tmp_path: pathlib.Path) -> None:
    words = np.array(["a", "bb", "ccc", "", "e", "ff"] * 3, dtype=object)
    src = zarrkit.array(words, chunks=4, dtype=str)
    out = zarrkit.rechunk(src, zarrkit.MemoryStore(), (5,), max_mem=2**16)
    assert list(out[:]) == list(words) and out.filters == src.filters
    n5 = zarrkit.zeros(
        (9, 7), chunks=(2, 7), dtype="u2", store=zarrkit.N5Store(str(tmp_path / "a.n5"))
    )
    n5[:] = np.arange(63).reshape(9, 7)
    out = zarrkit.rechunk(n5, str(tmp_path / "from_n5.zarr"), (9, 1), max_mem=2**16)
    assert out.compressor.codec_id != "n5_wrapper"
    np.testing.assert_array_equal(out[:], n5[:])
