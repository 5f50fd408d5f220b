"""An array's chunk pipeline is chosen once, by ``pipeline_for``, from the store, the codec
chain and the options; the array never asks which one it has."""

from __future__ import annotations

from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrkit
from zarrkit.pipeline import native
from zarrkit.pipeline.base import ChunkPipeline
from zarrkit.pipeline.chunks import FilesPipeline, StorePipeline
from zarrkit.pipeline.compiled import NativePipeline, NativeShardedPipeline
from zarrkit.pipeline.sharding import ShardedPipeline
from zarrkit.storage import DirectoryStore, MemoryStore

BUILT = native._native is not None


def _array(store: Any, **kwargs: Any) -> Any:
    kwargs = {"compressor": numcodecs.Blosc(), "dtype": "i4", **kwargs}
    return zarrkit.open_array(store, mode="w", shape=(20, 20), chunks=(5, 5), **kwargs)


def _kind(z: Any) -> type:
    pipe = z._pipeline
    assert isinstance(pipe, ChunkPipeline)
    return type(pipe)


def test_a_store_without_local_files_gets_the_store_pipeline():
    assert _kind(_array(MemoryStore())) is StorePipeline


def test_local_files_get_the_compiled_loop_where_it_applies(tmp_path):
    z = _array(DirectoryStore(str(tmp_path)))
    assert _kind(z) is (NativePipeline if BUILT else FilesPipeline)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"compressor": numcodecs.Zlib()},  # a codec the loop does not run
        {"filters": [numcodecs.Delta(dtype="i4")]},  # filters
        {"dtype": object, "object_codec": numcodecs.JSON()},  # object items
    ],
)
def test_local_files_outside_the_loop_get_the_files_pipeline(tmp_path, kwargs):
    assert _kind(_array(DirectoryStore(str(tmp_path)), **kwargs)) is FilesPipeline


def test_strict_missing_with_a_synchronizer_leaves_nothing_to_the_loop(tmp_path):
    # reads with strict_missing and writes under a synchronizer take the Python path
    _array(DirectoryStore(str(tmp_path)))
    sync = zarrkit.ThreadSynchronizer()
    z = zarrkit.open_array(str(tmp_path), mode="r+", strict_missing=True, synchronizer=sync)
    assert _kind(z) is FilesPipeline


@pytest.mark.skipif(not BUILT, reason="the extension is not built here")
def test_the_loop_switched_off_after_the_array_exists(tmp_path, monkeypatch):
    z = _array(DirectoryStore(str(tmp_path)))
    a = np.arange(400, dtype="i4").reshape(20, 20)
    monkeypatch.setattr(native, "ENABLED", False)
    z[:] = a
    assert _kind(z) is NativePipeline
    np.testing.assert_array_equal(z[:], a)


def test_meta_array_reaches_the_store_pipeline_made_anew():
    z = _array(MemoryStore())
    first = z._pipeline
    z._meta_array = np.empty(())
    assert z._pipeline is not first
    assert z._pipeline.context == {"meta_array": z._meta_array}


@pytest.mark.parametrize("nested", [False, True])
def test_shards_on_local_files_get_the_compiled_loop_where_it_applies(tmp_path, nested):
    shards: Any = [(10, 10), (10, 5)] if nested else (10, 10)
    kw = dict(zarr_format=3, shards=shards)
    assert _kind(_array(MemoryStore(), **kw)) is ShardedPipeline
    z = _array(DirectoryStore(str(tmp_path / "a")), **kw)
    assert _kind(z) is (NativeShardedPipeline if BUILT else ShardedPipeline)
    for more in ({"compressor": numcodecs.Zstd()}, {"filters": [numcodecs.Delta(dtype="i4")]}):
        path = str(tmp_path / str(len(more)) / next(iter(more)))
        assert _kind(_array(DirectoryStore(path), **kw, **more)) is ShardedPipeline
