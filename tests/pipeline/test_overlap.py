"""Whole reads and writes on a store over a network (``Store.requests_in_flight``): requests
overlap with the codec work (``chunks._Requests``), in flight and held bytes bounded.

Orderings are checked with events, never with timings: a request that must start before
some codec work is finished makes that work wait for it (a serial pipeline would time out).
"""

from __future__ import annotations

import threading
import tracemalloc
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrkit
from zarrkit.errors import CorruptChunkError
from zarrkit.pipeline import chunks
from zarrkit.storage import DirectoryStore, MemoryStore
from zarrkit.testing import RecordingStore

WAIT = 10.0  # seconds an ordering may take before it counts as not happening


def make(store: Any, n: int = 8, chunk: int = 10, **kw: Any) -> Any:
    """An n x n grid of chunks of chunk x chunk int32 items."""
    kw.setdefault("compressor", None)
    return zarrkit.open_array(
        store, mode="w", shape=(n * chunk, n * chunk), chunks=(chunk, chunk), dtype="i4", **kw
    )


def data(n: int = 8, chunk: int = 10) -> np.ndarray:
    return np.arange((n * chunk) ** 2, dtype="i4").reshape(n * chunk, n * chunk)


def test_capability() -> None:
    assert MemoryStore().requests_in_flight == 0
    assert RecordingStore(MemoryStore(), concurrency=12).requests_in_flight == 12
    assert chunks._group_size(MemoryStore(), 100) == 0
    assert chunks._group_size(RecordingStore(MemoryStore()), 100) == 16  # 64 / 4 calls
    assert chunks._group_size(RecordingStore(MemoryStore()), 5) == 5  # at most a batch


def test_local_stores_keep_their_pipelines(tmp_path: Any) -> None:
    """Nothing changes for local files, nor for local stores without them."""
    z = make(DirectoryStore(str(tmp_path / "d")))
    assert z._pipeline.files is not None
    assert chunks._group_size(z.store, z._pipeline.batch) == 0


def test_read_in_flight_and_values() -> None:
    mem = MemoryStore()
    make(mem)[...] = data()
    rec = RecordingStore(mem, latency=0.01, concurrency=16)
    z = zarrkit.open_array(rec, mode="r")
    rec.reset()
    assert (z[...] == data()).all()
    gets = [k for kind, k in rec.requests if kind == "GET" and not k.startswith(".")]
    assert len(gets) == 64 and len(set(gets)) == 64  # each chunk once
    assert rec.batches == 16  # groups of 16 / 4 = 4 keys
    assert 4 < rec.max_in_flight <= 16  # several groups at once, never above the store's


class _Watching(RecordingStore):
    """Sets ``started`` when a GET of one of ``watch`` starts."""

    def __init__(self, store: Any, watch: set[str], **kw: Any) -> None:
        super().__init__(store, **kw)
        self.watch = watch
        self.started = threading.Event()

    def __getitem__(self, key: str) -> Any:
        if key in self.watch:
            self.started.set()
        return super().__getitem__(key)


def test_next_batch_fetched_before_this_one_is_decoded(monkeypatch: Any) -> None:
    """Batch 1's first GET starts while batch 0's chunks are still being scattered: their
    scatter waits for it (fetching batch by batch, it would never come)."""
    mem = MemoryStore()
    make(mem)[...] = data()
    z = zarrkit.open_array(mem, mode="r")
    keys = [z._pipeline.key((i, j)) for i in range(8) for j in range(8)]
    rec = _Watching(mem, set(keys[8:16]), concurrency=8)  # groups of 2 keys
    z = zarrkit.open_array(rec, mode="r")
    z._pipeline.batch = 8  # 8 batches of 8 chunks, 2 batches requested ahead
    original = chunks.StorePipeline._scatter
    waited: list[bool] = []

    def scatter(part: range, *args: Any) -> None:
        if 0 in part:
            waited.append(rec.started.wait(WAIT))
        original(part, *args)

    monkeypatch.setattr(chunks.StorePipeline, "_scatter", staticmethod(scatter))
    assert (z[...] == data()).all()
    assert waited == [True]


def test_batch_encoded_while_the_previous_one_is_stored(monkeypatch: Any) -> None:
    """Batch 0's PUTs wait until batch 1 is being encoded (a write storing each batch
    before encoding the next would never get there)."""
    z = make(MemoryStore())
    first = {z._pipeline.key((0, j)) for j in range(8)}
    encoding_next = threading.Event()
    waited: list[bool] = []

    class Slow(RecordingStore):
        def __setitem__(self, key: str, value: Any) -> None:
            if key in first:
                waited.append(encoding_next.wait(WAIT))
            super().__setitem__(key, value)

    rec = Slow(MemoryStore(), concurrency=8)
    z = make(rec)
    z._pipeline.write_batch = 8  # 8 batches (a row of chunks each)
    original = chunks._Write._encode_batch

    def encode(self: Any, batch: range, inline: bool) -> Any:
        if batch.start == 8:
            encoding_next.set()
        return original(self, batch, inline)

    monkeypatch.setattr(chunks._Write, "_encode_batch", encode)
    rec.reset()
    z[...] = data()
    assert waited == [True] * 8
    assert rec.count("PUT") == 64
    assert (zarrkit.open_array(rec.store, mode="r")[...] == data()).all()


def _shard_write_holding_puts(
    monkeypatch: Any, value: np.ndarray, write_batch: int, held: int, **kw: Any
) -> tuple[Any, list[int], list[bool]]:
    """Write ``value`` into a new sharded array on a store whose PUTs of the shards of the
    first ``held`` batches wait until batch ``held + 1`` is being encoded (a write that
    stores before it encodes on would time out). The store, the batch sizes encoded, and
    whether each held PUT saw that batch begin."""
    from zarrkit.pipeline import sharding

    started = threading.Event()
    waited: list[bool] = []
    first: set[str] = set()

    class Slow(RecordingStore):
        def __setitem__(self, key: str, v: Any) -> None:
            if key in first:
                waited.append(started.wait(WAIT))
            super().__setitem__(key, v)

    rec = Slow(MemoryStore(), concurrency=8)
    z = make(rec, zarr_format=3, shards=(20, 20), **kw)
    assert isinstance(z._pipeline, sharding.ShardedPipeline)
    z._pipeline.write_batch = write_batch
    original = sharding.ShardedPipeline._encode_shards
    encoded: list[int] = []

    def encode(self: Any, w: Any, batch: Any, groups: Any) -> Any:
        encoded.append(len(batch))
        if len(encoded) <= held:
            first.update(self.key(s) for s in batch)
        elif len(encoded) == held + 1:
            started.set()
        return original(self, w, batch, groups)

    monkeypatch.setattr(sharding.ShardedPipeline, "_encode_shards", encode)
    rec.reset()
    z[...] = value
    return rec, encoded, waited


def test_shards_encoded_while_the_previous_ones_are_stored(monkeypatch: Any) -> None:
    """ShardedPipeline: the first shards' PUTs wait until the next shards are being
    encoded; every shard is stored, byte for byte as one at a time."""
    serial = MemoryStore()
    make(serial, zarr_format=3, shards=(20, 20), compressor=None)[...] = data()
    # 2 shards of 4 inner chunks a batch: 8 batches
    rec, encoded, waited = _shard_write_holding_puts(
        monkeypatch, data(), write_batch=8, held=1, compressor=None
    )
    assert encoded == [2] * 8
    assert waited == [True, True]
    assert rec.count("PUT") == 16
    stored = {k: bytes(v) for k, v in rec.store.items() if not k.endswith(".json")}
    assert stored == {k: bytes(v) for k, v in serial.items() if not k.endswith(".json")}


def test_well_compressed_shards_keep_several_puts_in_flight(monkeypatch: Any) -> None:
    """The bytes a shard write holds in its requests are the encoded ones: shards that
    compress well keep several PUTs in flight (here the first three wait until the fourth
    shard is encoded) in the memory one batch of raw shards would take."""
    value = np.zeros((80, 80), dtype="i4")
    value[::7, ::3] = 5
    # the raw bytes of one shard a batch: 16 batches
    rec, encoded, waited = _shard_write_holding_puts(
        monkeypatch, value, write_batch=4, held=3, compressor=numcodecs.Zstd(1)
    )
    assert encoded == [1] * 16
    assert waited == [True, True, True]
    assert (zarrkit.open_array(rec.store, mode="r")[...] == value).all()


class _Copies(RecordingStore):
    """Every GET returns fresh bytes (as from a network); PUTs keep only the sizes, so that
    what the pipeline holds is all that tracemalloc sees."""

    def __init__(self, store: Any, **kw: Any) -> None:
        super().__init__(store, **kw)
        self.sizes: dict[str, int] = {}

    def __getitem__(self, key: str) -> Any:
        return bytes(bytearray(super().__getitem__(key)))

    def __setitem__(self, key: str, value: Any) -> None:
        if key.startswith(".") or "/." in key or key.endswith(".json"):
            super().__setitem__(key, value)
        else:
            self.sizes[key] = len(memoryview(value).cast("B"))


CHUNK_BYTES = 100 * 100 * 4


def _peak(run: Any) -> int:
    run()  # once first: threads, scratch buffers, caches
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_read_holds_at_most_two_batches() -> None:
    mem = MemoryStore()
    make(mem, chunk=100)[...] = data(chunk=100)
    store = _Copies(mem)
    z = zarrkit.open_array(store, mode="r")
    z._pipeline.batch = 4  # groups of 4 keys: 2 batches = 8 chunks held at most
    out = np.empty(z.shape, dtype=z.dtype)

    def read() -> None:
        z.get_basic_selection(..., out=out)

    peak = _peak(read)
    assert (out == data(chunk=100)).all()
    # 64 chunks of 40 kB: all of them held would be 2.5 MB
    assert peak < 8 * CHUNK_BYTES + 4 * CHUNK_BYTES, peak


def test_write_holds_at_most_two_batches() -> None:
    store = _Copies(MemoryStore())
    z = make(store, chunk=100)
    z._pipeline.write_batch = 4  # 16 batches of 4 chunks
    value = data(chunk=100)

    def write() -> None:
        z[...] = value

    peak = _peak(write)
    assert len(store.sizes) == 64 and set(store.sizes.values()) == {CHUNK_BYTES}
    assert peak < 8 * CHUNK_BYTES + 4 * CHUNK_BYTES, peak


def test_shard_write_holds_at_most_two_batches() -> None:
    store = _Copies(MemoryStore())
    z = make(store, n=8, chunk=50, zarr_format=3, shards=(100, 100))  # 16 shards of 4
    z._pipeline.write_batch = 4  # a shard a batch
    value = data(chunk=50)

    def write() -> None:
        z[...] = value

    peak = _peak(write)
    assert len(store.sizes) == 16
    shard = 4 * 50 * 50 * 4
    # all 16 shards held would be 2.5 MB
    assert peak < 2 * shard + 2 * shard + shard, peak


def test_read_error_mid_way_names_the_key() -> None:
    mem = MemoryStore()
    z = make(mem)
    z[...] = data()
    bad = z._pipeline.key((5, 3))
    mem[bad] = b"short"  # not a chunk's 400 bytes
    rec = RecordingStore(mem, concurrency=8)
    z = zarrkit.open_array(rec, mode="r")
    z._pipeline.batch = 8
    with pytest.raises(CorruptChunkError, match=bad.replace(".", r"\.")):
        z[...]

    class Refusing(RecordingStore):
        def __getitem__(self, key: str) -> Any:
            if key == bad:
                raise PermissionError(f"access denied: {key}")
            return super().__getitem__(key)

    z = zarrkit.open_array(Refusing(mem, concurrency=8), mode="r")
    z._pipeline.batch = 8
    with pytest.raises(PermissionError, match=bad.replace(".", r"\.")):
        z[...]


def test_write_error_mid_way_stores_whole_batches_only(monkeypatch: Any) -> None:
    """A batch that fails to encode stores nothing; the batches before it are stored whole
    (as one batch at a time would leave them), none after it is begun."""
    rec = RecordingStore(MemoryStore(), concurrency=8)
    z = make(rec)
    z._pipeline.write_batch = 8
    original = chunks._Write._encode_batch

    def encode(self: Any, batch: range, inline: bool) -> Any:
        if batch.start == 24:
            raise ValueError("refused by the codec")
        return original(self, batch, inline)

    monkeypatch.setattr(chunks._Write, "_encode_batch", encode)
    with pytest.raises(ValueError, match="refused"):
        z[...] = data()
    stored = {k for k in rec.store if not k.startswith(".")}
    assert stored == {z._pipeline.key((i, j)) for i in range(3) for j in range(8)}


def test_write_error_of_a_request_names_the_key() -> None:
    bad = "4.4"

    class Refusing(RecordingStore):
        def __setitem__(self, key: str, value: Any) -> None:
            if key == bad:
                raise PermissionError(f"access denied: {key}")
            super().__setitem__(key, value)

    z = make(Refusing(MemoryStore(), concurrency=8))
    assert z._pipeline.key((4, 4)) == bad
    z._pipeline.write_batch = 8
    with pytest.raises(PermissionError, match=bad.replace(".", r"\.")):
        z[...] = data()
    assert bad not in z.store.store


def test_object_items_checked_before_anything_is_stored() -> None:
    rec = RecordingStore(MemoryStore(), concurrency=8)
    z = zarrkit.open_array(
        rec, mode="w", shape=(64,), chunks=(1,), dtype=object, object_codec=numcodecs.VLenUTF8()
    )
    z._pipeline.write_batch = 8
    value = np.array([str(i) for i in range(64)], dtype=object)
    value[40] = 5  # not a str: VLenUTF8 refuses it
    with pytest.raises(TypeError):
        z[...] = value
    assert not [k for k in rec.store if not k.startswith(".")]


def test_write_empty_chunks_and_missing_reads() -> None:
    """Fill-value chunks are deleted (in groups too) and read back as the fill value."""
    rec = RecordingStore(MemoryStore(), concurrency=8)
    z = make(rec, write_empty_chunks=False, fill_value=0)
    z._pipeline.write_batch = 8
    value = data()
    value[:40] = 0  # the first 4 rows of chunks are fill
    z[...] = data()
    rec.reset()
    z[...] = value
    assert rec.count("DELETE") == 32 and rec.count("PUT") == 32
    stored = {k for k in rec.store if not k.startswith(".")}
    assert stored == {z._pipeline.key((i, j)) for i in range(4, 8) for j in range(8)}
    assert (z[...] == value).all()


def test_strict_missing_names_the_keys() -> None:
    rec = RecordingStore(MemoryStore(), concurrency=8)
    z = make(rec)
    z[...] = data()
    gone = z._pipeline.key((6, 1))
    del rec.store[gone]
    z = zarrkit.open_array(rec, mode="r", strict_missing=True)
    with pytest.raises(zarrkit.errors.MissingChunkError, match=gone.replace(".", r"\.")):
        z[...]


def test_overridden_getitems_is_called() -> None:
    class Counting(RecordingStore):
        calls = 0

        def getitems(self, keys: Any, *, contexts: Any = None) -> dict[str, Any]:
            type(self).calls += 1
            return super().getitems(keys, contexts=contexts)

    mem = MemoryStore()
    make(mem)[...] = data()
    store = Counting(mem, concurrency=8)
    assert (zarrkit.open_array(store, mode="r")[...] == data()).all()
    assert Counting.calls == 32  # groups of 2 keys


def test_shards_fetched_ahead_in_parts(monkeypatch: Any) -> None:
    """ShardedPipeline: the next shards are requested while the first ones are scattered
    (the first scatter waits for them), in parts of half a batch, several calls at once,
    and never more than two batches of inner chunks requested and not yet scattered;
    whole shards (a whole read) and ranges of them (a part of each)."""
    from zarrkit.pipeline import chunks, sharding

    class Watching(RecordingStore):
        def __init__(self, store: Any, **kw: Any) -> None:
            super().__init__(store, **kw)
            self.first: set[str] | None = None
            self.next_started = threading.Event()
            self.calls_now = self.most_calls = 0

        def getitems(self, keys: Any, *, contexts: Any = None) -> dict[str, Any]:
            keys = list(keys)
            return self._watched(set(keys), lambda: super(Watching, self).getitems(keys))

        def getranges(self, requests: Any) -> list[bytes | None]:
            keys = {k for k, _, _ in requests}
            return self._watched(keys, lambda: super(Watching, self).getranges(requests))

        def _watched(self, keys: set[str], call: Any) -> Any:
            with self._lock:
                if self.first is None:
                    self.first = keys
                elif keys - self.first:
                    self.next_started.set()
                self.calls_now += 1
                self.most_calls = max(self.most_calls, self.calls_now)
            try:
                return call()
            finally:
                with self._lock:
                    self.calls_now -= 1

    mem = MemoryStore()
    value = data()
    kw = dict(zarr_format=3, shards=(20, 20), compressor=None)
    make(mem, **kw)[...] = value
    rec = Watching(mem, latency=0.002)
    z = zarrkit.open_array(rec, mode="r")
    pipe = z._pipeline
    assert isinstance(pipe, sharding.ShardedPipeline)
    pipe.batch = 8  # 2 shards of 4 inner chunks a batch, fetched a shard a part
    original_run, original_fetch = sharding.run_parallel, pipe._fetch_batch
    waited: list[bool] = []
    count = {"requested": 0, "scattered": 0, "most": 0}
    lock = threading.Lock()

    def run(fn: Any, items: Any, *args: Any, **kw: Any) -> Any:
        if not waited:
            waited.append(rec.next_started.wait(WAIT))
        result = original_run(fn, items, *args, **kw)
        with lock:
            count["scattered"] += len(items)
        return result

    def fetch_batch(batch: Any, groups: Any, whole: bool) -> Any:
        with lock:
            count["requested"] += sum(len(groups[s]) for s in batch)
            count["most"] = max(count["most"], count["requested"] - count["scattered"])
        return original_fetch(batch, groups, whole)

    monkeypatch.setattr(sharding, "run_parallel", run)
    monkeypatch.setattr(pipe, "_fetch_batch", fetch_batch)
    for sel in (np.s_[...], np.s_[::20, ::20]):  # whole shards; one inner chunk of each
        rec.first, waited[:], rec.most_calls = None, [], 0
        rec.next_started.clear()
        count.update(requested=0, scattered=0, most=0)
        assert (z[sel] == value[sel]).all()
        assert waited == [True]
        assert 1 < rec.most_calls <= chunks._CALLS
        assert count["most"] <= 2 * pipe.batch
        assert count["requested"] == count["scattered"]


def test_lazy_source_written_ahead(monkeypatch: Any) -> None:
    """An array as the value: each batch's pieces are read from it once, before encoding."""
    source = make(MemoryStore())
    source[...] = data()
    reads: list[Any] = []
    original = type(source).__getitem__

    def counting(self: Any, sel: Any) -> Any:
        if self is source:
            reads.append(sel)
        return original(self, sel)

    monkeypatch.setattr(type(source), "__getitem__", counting)
    rec = RecordingStore(MemoryStore(), concurrency=8)
    z = make(rec)
    z._pipeline.write_batch = 8
    z[...] = source
    assert len(reads) == 64  # one piece per chunk
    assert rec.count("PUT") == 64 + 1
    monkeypatch.undo()
    assert (z[...] == data()).all()
