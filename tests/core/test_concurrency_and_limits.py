"""Robustness of the core engine: concurrency, forks, odd shapes and values, store key safety.

Each test either reproduces a bug that was found and fixed (named in its docstring) or pins
down behaviour the engine must keep under stress. Races are made deterministic with gates in
test stores and synchronizers, each bounded by a timeout so that a regression fails, never hangs.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrkit
from zarrkit import Array
from zarrkit.errors import CorruptChunkError, MissingChunkError, ReadOnlyError
from zarrkit.pipeline import executor
from zarrkit.storage import DirectoryStore, KVStore, MemoryStore
from zarrkit.sync import ProcessSynchronizer, ThreadSynchronizer

GATE_TIMEOUT = 0.5  # seconds a gate waits for the other party before giving up


def chunk_keys(store: Any) -> set[str]:
    """Keys of the store that are not metadata."""
    return {k for k in store if not k.split("/")[-1].startswith(".")}


def run_in_fork(child: Callable[[], None], timeout: float = 10.0) -> int | None:
    """Run ``child`` in a forked process; its exit code (0: no exception), None if it hung."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            child()
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


# -- lost updates under a synchronizer -----------------------------------------------------------


class GatedReadStore(MemoryStore):
    """A store whose first batched read of ``gated_key`` waits (bounded) on ``gate``."""

    def __init__(self) -> None:
        super().__init__()
        self.gated_key: str | None = None
        self.gate = threading.Event()
        self.reading = threading.Event()

    def getitems(self, keys: Any, *, contexts: Any = None) -> dict[str, Any]:
        keys = list(keys)
        found = super().getitems(keys, contexts=contexts)
        if self.gated_key in keys:
            self.gated_key = None
            self.reading.set()
            self.gate.wait(GATE_TIMEOUT)
        return found


def test_whole_chunk_write_is_not_lost_to_a_concurrent_partial_write() -> None:
    """Bug: with a synchronizer only partly written chunks were locked.

    A writer covering a whole chunk stored it without taking the chunk's lock, in the middle
    of another writer's read-modify-write of that chunk; the second writer then stored its
    merge of the old chunk, and the first writer's items outside the overlap were lost.
    """
    store = GatedReadStore()
    z = zarrkit.zeros(20, chunks=10, dtype="i4", store=store, synchronizer=ThreadSynchronizer())
    store.gated_key = "0"

    def partial_writer() -> None:
        z[5:20] = 2  # chunk 0 partly: read (gated), merge, store - under the lock of "0"

    t = threading.Thread(target=partial_writer)
    t.start()
    assert store.reading.wait(5)
    z[0:10] = 1  # chunk 0 whole
    store.gate.set()
    t.join(5)
    # in either order of the two writes, items 0-4 hold 1 and items 10-19 hold 2
    got = z[:]
    assert got[:5].tolist() == [1] * 5
    assert got[10:].tolist() == [2] * 10
    assert set(got[5:10].tolist()) <= {1, 2}


class _GatedLock:
    """A lock that, after one release in the gated thread, waits (bounded) on an event."""

    def __init__(self, lock: Any, sync: GatedSynchronizer) -> None:
        self.lock, self.sync = lock, sync

    def __enter__(self) -> None:
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()
        sync = self.sync
        if sync.gated_thread == threading.get_ident():
            sync.gated_thread = None
            sync.at_gate.set()
            sync.gate.wait(GATE_TIMEOUT * 4)


class GatedSynchronizer(ThreadSynchronizer):
    """Thread locks; the gated thread pauses right after it releases a metadata lock."""

    def __init__(self) -> None:
        super().__init__()
        self.gated_thread: int | None = None
        self.gate = threading.Event()
        self.at_gate = threading.Event()

    def __getitem__(self, key: str) -> Any:
        lock = super().__getitem__(key)
        return _GatedLock(lock, self) if key.endswith(".zarray") else lock


def test_concurrent_appends_through_two_array_objects_keep_both() -> None:
    """Bug: an edge chunk counted as whole, so a writer that knew an older shape overwrote it.

    Append A grows the array to 10 items and, before it writes them, append B (another Array
    object on the same store and synchronizer) grows it to 20 and writes items 10-19. A then
    wrote chunk 1 (items 8-15) as "whole" for its shape of 10 items, padding 10-15 with the
    fill value over B's data.
    """
    store, sync = MemoryStore(), GatedSynchronizer()
    zarrkit.zeros(0, chunks=8, dtype="i4", store=store)
    a = Array(store, synchronizer=sync)
    b = Array(store, synchronizer=sync)

    def append_a() -> None:
        sync.gated_thread = threading.get_ident()
        a.append(np.full(10, 1, dtype="i4"))

    t = threading.Thread(target=append_a)
    t.start()
    assert sync.at_gate.wait(5)  # A has grown the array and not yet written
    b.append(np.full(10, 2, dtype="i4"))
    sync.gate.set()
    t.join(5)
    np.testing.assert_array_equal(Array(store)[:], [1] * 10 + [2] * 10)


def test_edge_chunk_write_keeps_items_past_a_stale_shape() -> None:
    """Bug (same cause): a write through an Array object that still caches a smaller shape.

    With a synchronizer the engine merges an edge chunk with what is stored, so items that
    another writer put past the shape this writer knows survive.
    """
    store, sync = MemoryStore(), ThreadSynchronizer()
    zarrkit.zeros(10, chunks=8, dtype="i4", store=store)
    stale = Array(store, synchronizer=sync)
    grower = Array(store, synchronizer=sync)
    grower.append(np.arange(100, 106, dtype="i4"))  # items 10-15 share chunk 1 with 8-9
    stale[8:10] = 7  # chunk 1 is "whole" for the stale shape of 10 items
    np.testing.assert_array_equal(Array(store)[8:16], [7, 7, 100, 101, 102, 103, 104, 105])


class GatedWriteStore(MemoryStore):
    """A store whose first batched write of ``gated_key`` waits (bounded) on ``gate``."""

    def __init__(self) -> None:
        super().__init__()
        self.gated_key: str | None = None
        self.gate = threading.Event()
        self.writing = threading.Event()

    def setitems(self, values: Any) -> None:
        if self.gated_key in values:
            self.gated_key = None
            self.writing.set()
            self.gate.wait(GATE_TIMEOUT * 4)
        super().setitems(values)


@pytest.mark.parametrize("same_object", [True, False])
def test_write_racing_a_shrinking_resize_leaves_no_chunk_behind(same_object: bool) -> None:
    """Bug: a write that had computed its chunks before a concurrent resize shrank the array
    stored a chunk the resize had already cut; growing the array again brought back that
    stale data instead of the fill value."""
    store, sync = GatedWriteStore(), ThreadSynchronizer()
    zarrkit.zeros(100, chunks=10, dtype="i4", store=store)
    writer = Array(store, synchronizer=sync)
    resizer = writer if same_object else Array(store, synchronizer=sync)
    store.gated_key = "9"
    t = threading.Thread(target=lambda: writer.__setitem__(slice(85, 100), 1))
    t.start()
    assert store.writing.wait(5)  # the writer holds its chunks, about to store them
    resizer.resize(50)
    store.gate.set()
    t.join(5)
    assert chunk_keys(store) == set()  # chunks 8 and 9 lie past the new shape
    resizer.resize(100)
    assert Array(store)[:].tolist() == [0] * 100


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_unaligned_writers_with_a_synchronizer_lose_nothing(kind: str, tmp_path: Any) -> None:
    store = MemoryStore() if kind == "memory" else DirectoryStore(str(tmp_path / "a.zarr"))
    z = zarrkit.zeros((40, 48), chunks=(7, 10), dtype="i4", store=store)
    z = Array(store, synchronizer=ThreadSynchronizer())

    def writer(i: int) -> None:
        for rep in range(1, 6):
            z[:, i * 6 : (i + 1) * 6] = rep * 100 + i  # 6 columns: never aligned with 10
            z.oindex[[0, 39], i * 6] = rep * 100 + i
            z[i % 40, ::7]  # reads in between

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(writer, range(8)))
    expected = np.repeat(500 + np.arange(8), 6)[None, :].repeat(40, axis=0)
    np.testing.assert_array_equal(z[:], expected)


@pytest.mark.parametrize("kind", ["memory", "kv", "directory"])
def test_chunk_aligned_writers_without_a_synchronizer_lose_nothing(
    kind: str, tmp_path: Any
) -> None:
    store = {
        "memory": MemoryStore,
        "kv": lambda: KVStore(dict()),
        "directory": lambda: DirectoryStore(str(tmp_path / "a.zarr")),
    }[kind]()
    z = zarrkit.zeros((64, 30), chunks=(8, 10), dtype="i8", store=store)

    def writer(i: int) -> None:
        for rep in range(1, 4):
            z[i * 8 : (i + 1) * 8, :] = rep * 1000 + i  # rows of whole chunks
            z.blocks[i, 1] = rep * 1000 + i
            z[i * 8 : (i + 1) * 8, ::3]

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(writer, range(8)))
    expected = np.broadcast_to(np.repeat(3000 + np.arange(8), 8)[:, None], (64, 30))
    np.testing.assert_array_equal(z[:], expected)


def test_attribute_updates_from_many_threads_and_objects_lose_nothing() -> None:
    store, sync = MemoryStore(), ThreadSynchronizer()
    zarrkit.zeros(4, store=store, path="a")
    objs = [Array(store, path="a", synchronizer=sync) for _ in range(3)]

    def writer(i: int) -> None:
        for j in range(25):
            attrs = objs[i % 3].attrs
            attrs[f"k{i}_{j}"] = j
            attrs.update({f"u{i}_{j}": [i, j]})
            attrs.asdict()

    with ThreadPoolExecutor(6) as ex:
        list(ex.map(writer, range(6)))
    got = Array(store, path="a").attrs.asdict()
    assert len(got) == 6 * 25 * 2
    assert got["u5_24"] == [5, 24]


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_synchronizers_forget_the_locks_of_idle_keys(kind: str, tmp_path: Any) -> None:
    """Bug: a synchronizer kept one lock object per key ever used, for ever (about 200 bytes
    a key: 200 MB after writing a million chunks in a long-running process)."""
    import gc
    import tracemalloc

    sync: Any = ThreadSynchronizer() if kind == "thread" else ProcessSynchronizer(str(tmp_path))
    keys = [f"arr/{i}.{i}" for i in range(2000)]
    # a first round of other keys warms up whatever is created once; the second round must
    # keep nothing per key
    for k in [f"warm/{i}.{i}" for i in range(2000)]:
        with sync[k]:
            pass
    gc.collect()
    # only memory allocated under zarrkit's frames counts: session fixtures (test servers)
    # run threads of their own that allocate meanwhile
    only_ours = [
        tracemalloc.Filter(True, "*zarrkit*", all_frames=True),
        # the interpreter's table of interned strings grows with the lock files' path parts
        # (pathlib interns them) and is shared by the whole process; it holds no lock state
        tracemalloc.Filter(False, "*pathlib.py"),
    ]
    tracemalloc.start(12)
    try:
        before = tracemalloc.take_snapshot().filter_traces(only_ours)
        for k in keys:
            with sync[k]:
                pass
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces(only_ours)
    finally:
        tracemalloc.stop()
    retained = sum(d.size_diff for d in after.compare_to(before, "filename"))
    assert retained < 20 * len(keys), f"{retained / len(keys):.0f} bytes kept per idle key"


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_synchronizer_locks_exclude_each_other(kind: str, tmp_path: Any) -> None:
    sync: Any = ThreadSynchronizer() if kind == "thread" else ProcessSynchronizer(str(tmp_path))
    state = {"n": 0, "inside": 0, "max": 0}

    def bump(_: int) -> None:
        for _ in range(200):
            with sync["k"]:
                state["inside"] += 1
                state["max"] = max(state["max"], state["inside"])
                n = state["n"]
                time.sleep(0)
                state["n"] = n + 1
                state["inside"] -= 1

    with ThreadPoolExecutor(4) as ex:
        list(ex.map(bump, range(4)))
    assert state == {"n": 800, "inside": 0, "max": 1}
    lock = sync["k"]  # the lock protocol of zarr 2's synchronizers works too
    assert lock.acquire() is True
    lock.release()


def test_arrays_written_into_arrays_from_inside_pool_threads() -> None:
    """Nested use: pool tasks read one Array and write it (as the value) into another."""
    a = np.arange(48 * 40).reshape(48, 40)
    src = zarrkit.array(a, chunks=(7, 9))
    dst = zarrkit.zeros(a.shape, chunks=(5, 11), dtype=a.dtype, synchronizer=ThreadSynchronizer())

    def task(i: int) -> int:
        rows = slice(i * 6, (i + 1) * 6)
        part = zarrkit.zeros((6, 40), chunks=(4, 8), dtype=a.dtype)
        part[...] = src[rows]
        dst[rows, :] = part  # an Array as the value being written
        return int(dst[rows, ::3].sum())

    results: list[list[int]] = []
    t = threading.Thread(target=lambda: results.append(executor.run_parallel(task, range(8))))
    t.start()
    t.join(30)
    assert results, "nested reads and writes from pool threads did not finish"
    np.testing.assert_array_equal(dst[:], a)
    assert results[0] == [int(a[i * 6 : (i + 1) * 6, ::3].sum()) for i in range(8)]


# -- synchronizers and the executor across processes ----------------------------------------------


def _spawned_writer(args: tuple[str, str, int]) -> int:
    """Runs in a spawned process: writes a region that shares chunks with its neighbours."""
    path, sync_path, i = args
    z = zarrkit.open_array(path, mode="r+", synchronizer=ProcessSynchronizer(sync_path))
    for _ in range(3):
        z[i * 7 : (i + 1) * 7] = i + 1  # 7 items: never aligned with the 10-item chunks
    z.attrs[f"w{i}"] = i
    return i


def test_process_synchronizer_across_spawned_processes(tmp_path: Any) -> None:
    path, sync_path = str(tmp_path / "a.zarr"), str(tmp_path / "sync")
    z = zarrkit.open_array(path, mode="w", shape=7 * 8, chunks=10, dtype="i4")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        done = pool.map_async(_spawned_writer, [(path, sync_path, i) for i in range(8)])
        assert sorted(done.get(timeout=60)) == list(range(8))
    np.testing.assert_array_equal(z[:], np.repeat(np.arange(1, 9), 7))
    assert z.attrs.asdict() == {f"w{i}": i for i in range(8)}


def test_process_lock_is_released_when_taking_it_fails(tmp_path: Any) -> None:
    """Bug: a failed acquisition kept the lock's thread lock, so other threads hung forever."""
    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"")
    sync = ProcessSynchronizer(str(not_a_dir))
    with pytest.raises(OSError):
        with sync["0.0"]:
            pass
    outcome: list[str] = []

    def other_thread() -> None:
        try:
            with sync["0.0"]:
                outcome.append("acquired")
        except OSError as e:
            outcome.append(type(e).__name__)

    t = threading.Thread(target=other_thread, daemon=True)
    t.start()
    t.join(5)
    assert outcome, "another thread hung on the lock after a failed acquisition"


def test_process_synchronizer_in_a_forked_child(tmp_path: Any) -> None:
    """Bug: a lock held by another thread when the process forked could never be taken in
    the child (its thread lock was copied in the locked state); the child must instead wait
    for the parent to release the file lock, then take it."""
    sync = ProcessSynchronizer(str(tmp_path / "sync"))
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with sync["0.0"]:
            held.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    assert held.wait(5)
    acquired_at = tmp_path / "acquired"

    def child() -> None:
        with sync["0.0"]:
            acquired_at.write_text(repr(time.time()))

    threading.Timer(0.3, release.set).start()
    released_at = time.time() + 0.3
    code = run_in_fork(child)
    t.join(5)
    assert code == 0, "the child hung or failed on a lock held by a parent thread at fork time"
    assert float(acquired_at.read_text()) >= released_at - 0.05  # it did wait for the parent


def test_executor_works_in_a_child_forked_while_its_lock_was_held() -> None:
    """Bug: a child forked while another thread was creating the pool inherited the pool's
    lock in the locked state and hung on its first parallel call."""
    saved = executor.get_num_threads()
    executor.set_num_threads(max(2, saved))  # one thread would run everything inline
    entered, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with executor._lock:
            entered.set()
            release.wait(10)

    t = threading.Thread(target=hold_lock)
    t.start()
    assert entered.wait(5)

    def child() -> None:
        z = zarrkit.array(np.arange(1000), chunks=10, compressor=None)  # no Blosc threads
        assert executor.run_parallel(lambda x: x * 2, list(range(16))) == [x * 2 for x in range(16)]
        assert int(z[::3].sum()) == int(np.arange(1000)[::3].sum())

    try:
        code = run_in_fork(child)
    finally:
        release.set()
        t.join(5)
        executor.set_num_threads(saved)
    assert code == 0, "the forked child hung (or failed) using the pool"


def test_set_num_threads_while_another_thread_is_reading(monkeypatch: Any) -> None:
    """Bug: set_num_threads shut the pool down under a reader that had just taken it, whose
    read then failed with "cannot schedule new futures after shutdown"."""
    saved = executor.get_num_threads()
    real_get_pool = executor._get_pool

    def get_pool_then_resize() -> Any:
        pool = real_get_pool()
        executor.set_num_threads(max(2, saved))  # another thread, at the worst moment
        return pool

    executor.set_num_threads(max(2, saved))
    z = zarrkit.array(np.arange(1000), chunks=10, compressor=None)
    monkeypatch.setattr(executor, "_get_pool", get_pool_then_resize)
    try:
        assert int(z[:].sum()) == int(np.arange(1000).sum())
    finally:
        monkeypatch.undo()
        executor.set_num_threads(saved)
    assert executor.run_parallel(lambda x: x + 1, list(range(8))) == list(range(1, 9))


def test_executor_after_fork_gives_the_child_its_own_pool(tmp_path: Any) -> None:
    # no compressor: Blosc's own global threads do not survive a fork (see the tutorial);
    # a directory store: a forked child may not write to the parent's in-memory store
    z = zarrkit.array(
        np.arange(4000).reshape(40, 100),
        chunks=(4, 10),
        compressor=None,
        store=zarrkit.DirectoryStore(str(tmp_path / "a.zarr")),
    )
    assert int(z[:].sum()) == int(np.arange(4000).sum())  # the parent's pool exists now

    def child() -> None:
        z[:, 5] = -1
        assert int((z[:] == -1).sum()) == 40

    assert run_in_fork(child) == 0
    assert int((z[:] == -1).sum()) == 40  # the child's writes reached the store


# -- the chunk pipeline ------------------------------------------------------------------------------


def _compressors() -> list[Any]:
    out = [numcodecs.Blosc(), numcodecs.Zstd(), numcodecs.GZip(), numcodecs.Zlib(), None]
    if hasattr(numcodecs, "LZ4"):
        out.append(numcodecs.LZ4())
    return out


@pytest.mark.parametrize("compressor", _compressors(), ids=lambda c: type(c).__name__)
@pytest.mark.parametrize("n_stored", [4, 12])
def test_short_or_long_chunk_is_reported_never_half_read(compressor: Any, n_stored: int) -> None:
    """Bug: Zstd, LZ4 and GZip decode a short chunk straight into the output without error,
    leaving the rest of the output as it was (uninitialised memory for a plain read)."""
    store: dict[str, Any] = {}
    z = zarrkit.zeros(8, chunks=8, dtype="i4", store=store, compressor=compressor)
    raw = np.arange(n_stored, dtype="i4")
    store["0"] = raw.tobytes() if compressor is None else compressor.encode(raw)
    for read in (lambda: z[:], lambda: z.get_basic_selection(..., out=np.full(8, -7, "i4"))):
        with pytest.raises(CorruptChunkError, match="'0'"):
            read()


@pytest.mark.parametrize("compressor", _compressors(), ids=lambda c: type(c).__name__)
@pytest.mark.parametrize("order", ["C", "F"])
def test_whole_chunks_decode_into_the_output_for_every_compressor(
    compressor: Any, order: str
) -> None:
    a = np.arange(15 * 12, dtype="f8").reshape(15, 12)
    z = zarrkit.array(a, chunks=(5, 4), order=order, compressor=compressor)
    np.testing.assert_array_equal(z[:], a)
    out = np.zeros((10, 8), order=order)
    z.get_basic_selection((slice(5, 15), slice(4, 12)), out=out)
    np.testing.assert_array_equal(out, a[5:15, 4:12])


def test_write_empty_chunks_false_keeps_complex_values_next_to_a_nan_fill() -> None:
    """Bug: a complex NaN fill made every chunk with a NaN in either part count as empty, so
    a chunk of nan+5j was dropped and read back as the fill nan+0j."""
    fill = complex(np.nan, 0)
    z = zarrkit.full(10, fill, chunks=5, dtype="c16", write_empty_chunks=False)
    z[:5] = complex(np.nan, 5)
    z[5:] = complex(1, np.nan)
    got = z[:]
    np.testing.assert_array_equal(got.imag, [5.0] * 5 + [np.nan] * 5)
    np.testing.assert_array_equal(got.real, [np.nan] * 5 + [1.0] * 5)
    assert chunk_keys(z.store) == {"0", "1"}
    z[:] = fill  # chunks equal to the fill value (NaN equal to NaN) are still dropped
    assert chunk_keys(z.store) == set()
    np.testing.assert_array_equal(z[:].imag, np.zeros(10))


@pytest.mark.parametrize("fill", [np.nan, -np.inf, 0.0])
def test_write_empty_chunks_false_structured_dtype(fill: float) -> None:
    dt = np.dtype([("a", "f8"), ("b", "i2", (2,)), ("t", "M8[s]")])
    fill_item = np.array((fill, [1, 2], np.datetime64("NaT", "s")), dtype=dt)[()]
    z = zarrkit.full(10, fill_item, chunks=5, dtype=dt, write_empty_chunks=False)
    z[:] = fill_item
    assert chunk_keys(z.store) == set()
    z["a"] = 1.5  # a field write makes every chunk non-empty
    assert chunk_keys(z.store) == {"0", "1"}
    z[0:5, "a"] = fill  # chunk 0 back to the fill value: dropped
    assert chunk_keys(z.store) == {"1"}
    got = z[:]
    np.testing.assert_array_equal(got["a"], [fill] * 5 + [1.5] * 5)
    assert got["b"].tolist() == [[1, 2]] * 10 and np.isnat(got["t"]).all()


def test_write_empty_chunks_false_with_a_synchronizer() -> None:
    z = zarrkit.zeros(
        (6, 6),
        chunks=(3, 3),
        dtype="i4",
        write_empty_chunks=False,
        synchronizer=ThreadSynchronizer(),
    )
    z[:4, :4] = 1
    assert chunk_keys(z.store) == {"0.0", "0.1", "1.0", "1.1"}
    z[:, :] = 0
    assert chunk_keys(z.store) == set()


# -- shapes, selections, values ---------------------------------------------------------------------


def test_strided_slice_over_a_huge_number_of_chunks_is_fast() -> None:
    """Bug: a step larger than the chunk visited every chunk between the selected items
    (2e7 chunks for 200 items here: seconds for each read and write)."""
    z = zarrkit.zeros(2 * 10**8, chunks=10, dtype="u1")
    start = time.perf_counter()
    z[3 :: 10**6] = 1
    got = z[3 :: 10**6]
    assert time.perf_counter() - start < 1.0
    assert got.shape == (200,) and got.min() == 1
    assert z.nchunks_initialized == 200
    assert int(z[:: 10**6].sum()) == 0


@pytest.mark.parametrize("chunk", [1, 3, 7])
@pytest.mark.parametrize("order", ["C", "F"])
def test_steps_larger_than_the_chunk_match_numpy(chunk: int, order: str) -> None:
    a = np.arange(50 * 6).reshape(50, 6)
    z = zarrkit.array(a, chunks=(chunk, 4), order=order)
    b = a.copy()
    for start, stop, step in [(0, None, 8), (3, 47, 9), (None, None, 49), (49, None, 10)]:
        sel = (slice(start, stop, step), slice(1, None, 5))
        np.testing.assert_array_equal(z[sel], b[sel])
        np.testing.assert_array_equal(z.oindex[sel], b[sel])
        z[sel] = -np.arange(b[sel].size).reshape(b[sel].shape) - step
        b[sel] = -np.arange(b[sel].size).reshape(b[sel].shape) - step
    np.testing.assert_array_equal(z[:], b)


def test_chunk_counts_and_selection_lengths_are_exact_past_2_to_the_53() -> None:
    """Bug: chunk counts and slice lengths used float division, wrong past 2**53: the last
    chunk was missing from the grid (a shrink left it behind, blocks[-1] named the one before)
    and strided selections had the wrong length."""
    n = 2**53 + 1
    z = zarrkit.zeros(n, chunks=1, dtype="u1")
    assert z.cdata_shape == (n,) and z.nchunks == n
    z[-1] = 5
    z.resize(n - 2)  # cuts the chunks n - 2 and n - 1 (the last one)
    z.resize(n)
    assert z[-1] == 0 and z.nchunks_initialized == 0
    z[-1] = 7
    assert z.blocks[-1].tolist() == [7]
    from zarrkit.indexing import BasicIndexer, BlockIndexer

    big = 10**17
    assert BasicIndexer(slice(1, None, 3), (big,), (10**6,)).shape == (len(range(1, big, 3)),)
    parts = list(BasicIndexer(slice(big - 12, None, 2), (big,), (7,)))
    assert [p.chunk_coords[0] for p in parts] == sorted({x // 7 for x in range(big - 12, big, 2)})
    assert sum(p.out_selection[0].stop - p.out_selection[0].start for p in parts) == 6
    assert [p.chunk_coords for p in BlockIndexer(-1, (big + 1,), (3,))] == [(big // 3,)]


def test_resizing_an_array_of_a_million_chunks_is_fast() -> None:
    z = zarrkit.zeros((1000, 1000), chunks=(1, 1), dtype="u1")
    z[999, 999] = 9
    start = time.perf_counter()
    z.resize(1000, 1100)  # growing touches no chunk
    z.resize(1000, 999)  # the cut is computed from ranges: the 1e5 keys it could hold only
    z.append(np.ones((1, 999), dtype="u1"))
    assert time.perf_counter() - start < 2.0
    assert z.shape == (1001, 999) and z[1000, 5] == 1 and z.nchunks_initialized == 999


def test_failed_append_leaves_the_array_unchanged() -> None:
    """Bug: data that cannot become the array's dtype grew the array before the write failed."""
    z = zarrkit.zeros((2, 3), chunks=(2, 3), dtype="i4")
    with pytest.raises(ValueError, match="int32"):
        z.append(np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError):
        z.append([[1, 2, "x"]])
    assert z.shape == (2, 3)
    z.append(np.array([[1, 2, 3]], dtype="i8"))  # a castable dtype still appends
    np.testing.assert_array_equal(z[:], [[0, 0, 0], [0, 0, 0], [1, 2, 3]])


@pytest.mark.parametrize("order", ["C", "F"])
def test_every_selection_kind_in_both_orders_matches_numpy(order: str) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 1000, size=(9, 8, 5)).astype("i4")
    z = zarrkit.array(a, chunks=(4, 3, 2), order=order)
    sels: list[tuple[str, Any, Any]] = [
        ("basic", (slice(1, 8, 3), 2, slice(None)), a[1:8:3, 2, :]),
        ("basic", (Ellipsis, 4), a[..., 4]),
        ("oindex", ([8, 0, 3], slice(1, 7, 2), 3), a[[8, 0, 3]][:, 1:7:2, 3]),
        (
            "oindex",
            (a[:, 0, 0] > 500, [7, 1], [0, 4]),
            a[a[:, 0, 0] > 500][:, [7, 1]][:, :, [0, 4]],
        ),
        ("vindex", ([0, 8, 4], [7, 0, 3], [4, 1, 2]), a[[0, 8, 4], [7, 0, 3], [4, 1, 2]]),
        ("vindex", (a % 7 == 0,), a[a % 7 == 0]),
        ("blocks", (1, slice(1, 3), 2), a[4:8, 3:8, 4:5]),
    ]
    for kind, sel, expected in sels:
        view = {"basic": z, "oindex": z.oindex, "vindex": z.vindex, "blocks": z.blocks}[kind]
        key = sel[0] if kind == "vindex" and len(sel) == 1 else sel
        np.testing.assert_array_equal(view[key], expected, err_msg=f"{kind} {sel}")
        w = zarrkit.zeros(a.shape, chunks=(4, 3, 2), dtype="i4", order=order)
        {"basic": w, "oindex": w.oindex, "vindex": w.vindex, "blocks": w.blocks}[kind][key] = (
            expected + 1
        )
        np.testing.assert_array_equal(
            {"basic": w, "oindex": w.oindex, "vindex": w.vindex, "blocks": w.blocks}[kind][key],
            expected + 1,
            err_msg=f"write {kind} {sel}",
        )


@pytest.mark.parametrize(
    "read",
    [
        lambda z: z[:],
        lambda z: z[0, 1:3],
        lambda z: z.oindex[[0, 5], :],
        lambda z: z.vindex[[0, 5], [1, 4]],
        lambda z: z.vindex[np.eye(6, dtype=bool)],
        lambda z: z.blocks[1, 0],
        lambda z: z.get_basic_selection(..., out=np.empty((6, 6), "i4")),
        lambda z: list(z),
        lambda z: np.asarray(z),
    ],
)
def test_strict_missing_raises_for_every_selection_kind(read: Callable[[Any], Any]) -> None:
    z = zarrkit.zeros((6, 6), chunks=(3, 3), dtype="i4", strict_missing=True)
    z[3:, 3:] = 1  # only chunk 1.1 exists
    with pytest.raises(MissingChunkError, match=r"'0\.0'|'1\.0'|'0\.1'"):
        read(z)
    assert z[3:, 3:].tolist() == [[1] * 3] * 3  # selections of present chunks read


def test_fill_value_none_reads_written_items_and_merges_partial_writes() -> None:
    z = zarrkit.empty((6,), chunks=(4,), dtype="i4", order="F")
    assert z.fill_value is None
    z[1:3] = 5  # a partial write of a missing chunk starts from zeros, as in zarr 2
    z[4:6] = 7
    assert z[:].tolist() == [0, 5, 5, 0, 7, 7]
    o = zarrkit.empty(3, chunks=2, dtype=object, object_codec=numcodecs.JSON())
    o[0] = [1, 2]
    assert o[:].tolist() == [[1, 2], None, None]


def test_zero_dimensional_and_zero_length_arrays() -> None:
    z = zarrkit.full((), 3.5, dtype="f8", write_empty_chunks=False)
    assert z[()] == 3.5 and z[...].shape == () and z.nchunks == 1
    z[...] = 1.0
    assert z[()] == 1.0 and z.nchunks_initialized == 1
    z[()] = 3.5  # back to the fill value: the only chunk goes
    assert z.nchunks_initialized == 0 and z[()] == 3.5
    e = zarrkit.zeros((0, 4), chunks=(2, 2), dtype="i4", order="F")
    assert e[:].shape == (0, 4) and e.oindex[[], 1:].shape == (0, 3) and e.nchunks == 0
    e[:] = 5  # writing nothing is fine
    e.append(np.ones((3, 4), dtype="i4"))
    assert e[:].tolist() == [[1] * 4] * 3
    e.resize(0, 4)
    assert e.nchunks_initialized == 0


def test_cache_metadata_false_follows_changes_made_elsewhere() -> None:
    store = MemoryStore()
    zarrkit.zeros(10, chunks=4, dtype="i4", store=store)
    fresh = Array(store, cache_metadata=False)
    writer = Array(store)
    writer.fill_value = 9
    assert fresh[:].tolist() == [9] * 10  # reads use the fill value now in the store
    writer.resize(3)
    fresh[2] = 1
    assert fresh[:].tolist() == [9, 9, 1] and fresh.nchunks == 1
    with pytest.raises(IndexError):
        fresh[5] = 1  # the write is checked against the shape in the store


def test_read_only_is_enforced_everywhere() -> None:
    z = zarrkit.zeros(10, chunks=5, dtype="i4")
    z[:] = 1
    r = Array(z.store, read_only=True)
    writes: list[Callable[[], Any]] = [
        lambda: r.__setitem__(0, 1),
        lambda: r.oindex.__setitem__([1], 1),
        lambda: r.vindex.__setitem__([1], 1),
        lambda: r.blocks.__setitem__(0, 1),
        lambda: r.resize(3),
        lambda: r.append([1]),
        lambda: setattr(r, "fill_value", 3),
        lambda: r.attrs.__setitem__("a", 1),
        lambda: r.attrs.update(a=1),
        lambda: r.attrs.__delitem__("a"),
    ]
    for write in writes:
        with pytest.raises(ReadOnlyError):
            write()
    assert z.shape == (10,) and z[:].tolist() == [1] * 10 and dict(z.attrs) == {}
    r.read_only = False  # both the array and its attributes become writable
    r.attrs["a"] = 1
    r[0] = 2
    assert z[0] == 2 and Array(z.store).attrs["a"] == 1


def test_overwriting_a_parent_array_with_a_group_removes_the_array(tmp_path: Any) -> None:
    """Bug: creating 'a/b' with overwrite=True over an array 'a' deleted only a/.zarray, so the
    new group 'a' kept the old array's attributes and chunk files."""
    for store in (MemoryStore(), DirectoryStore(str(tmp_path / "x.zarr"))):
        old = zarrkit.zeros(10, chunks=5, store=store, path="a")
        old[:] = 1
        old.attrs["old"] = True
        zarrkit.zeros(3, store=store, path="a/b", overwrite=True)
        assert sorted(store) == [".zgroup", "a/.zgroup", "a/b/.zarray"]
        assert dict(zarrkit.open_group(store, path="a", mode="r").attrs) == {}


# -- DirectoryStore key safety -------------------------------------------------------------------


ESCAPES = ["../outside", "a/../../outside", "..", "a/..", "./x", "a\\..\\..\\outside"]


@pytest.mark.parametrize("key", ESCAPES)
def test_directory_store_refuses_keys_that_leave_its_root(key: str, tmp_path: Any) -> None:
    root = tmp_path / "root" / "store.zarr"
    store = DirectoryStore(str(root))
    store["a/x"] = b"1"
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    attempts: list[Callable[[], Any]] = [
        lambda: store.__setitem__(key, b"2"),
        lambda: store.__getitem__(key),
        lambda: store.__delitem__(key),
        lambda: store.setitems({key: b"2"}),
        lambda: store.getitems([key]),
        lambda: store.delitems([key]),
        lambda: store.listdir(key),
        lambda: store.rmdir(key),
        lambda: store.getsize(key),
        lambda: store.rename("a", key),
        lambda: store.rename(key, "b"),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError, match=r"'\.'|'\.\.'"):
            attempt()
    assert key not in store
    after = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert after == before and store["a/x"] == b"1"


def test_directory_store_keeps_absolute_keys_inside_its_root(tmp_path: Any) -> None:
    store = DirectoryStore(str(tmp_path / "store.zarr"))
    store["/etc/zarrkit-test"] = b"1"  # a leading '/' is dropped, as zarr 2 does
    assert (tmp_path / "store.zarr" / "etc" / "zarrkit-test").read_bytes() == b"1"
    assert not os.path.exists("/etc/zarrkit-test")
    assert store["etc/zarrkit-test"] == b"1" and list(store) == ["etc/zarrkit-test"]
    del store["/etc/zarrkit-test"]
    assert list(store) == []


def test_directory_store_normalize_keys_applies_to_paths_too(tmp_path: Any) -> None:
    """Bug: with normalize_keys=True, keys were lower-cased but listdir, rmdir, getsize,
    rename and keys_under used the path as given, so ``del group['Arr']`` deleted nothing."""
    store = DirectoryStore(str(tmp_path / "s.zarr"), normalize_keys=True)
    store["Foo/Bar"] = b"12"
    assert list(store) == ["foo/bar"] and "FOO/BAR" in store
    assert store.listdir("Foo") == ["bar"] and store.getsize("Foo") == 2
    assert store.keys_under("FOO") == ["bar"]
    store.rename("Foo", "Baz")
    assert list(store) == ["baz/bar"]
    store.rmdir("BAZ")
    assert list(store) == []
    g = zarrkit.group(store=store)
    g.zeros("Arr", shape=3)
    assert "Arr" in g
    del g["Arr"]
    assert list(store) == [".zgroup"]


def test_directory_store_listdir_and_rmdir_edge_cases(tmp_path: Any) -> None:
    store = DirectoryStore(str(tmp_path / "missing.zarr"))
    assert store.listdir() == [] and list(store) == [] and store.getsize() == 0
    store.rmdir("nothing/here")  # removing what is not there is fine
    store["a/b/c"] = b"1"
    store["a/d"] = b"22"
    assert store.listdir("a/d") == []  # a key is not a directory
    assert store.listdir("/a/") == ["b", "d"]
    store.rmdir("a/d")  # a key, not a directory: left alone (as zarr 2)
    assert store["a/d"] == b"22"
    store.rmdir("a/b")
    assert list(store) == ["a/d"] and store.listdir("a") == ["d"]
    store.rmdir()
    assert list(store) == [] and store.listdir() == []
