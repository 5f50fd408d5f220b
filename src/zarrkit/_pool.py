"""One shared thread pool for chunk work and parallel file I/O (a cross-cut module: the
stores and the pipeline use it, it imports nothing from zarrkit).

``zarrkit.pipeline.executor`` is this module under its older name.

Codecs (Blosc, Zstd, LZ4, ...) and file I/O release the GIL, so threads give real
parallelism. Calls made from inside a pool thread (a nested read, a store that reads its
batch in parallel from a decode task) run inline, which rules out pool deadlocks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_local = threading.local()
# pool tasks per thread in one run_parallel call: few enough to keep the per-task cost low,
# enough to even out chunks that take longer than others
_TASKS_PER_THREAD = 4


def _threads_from_environment() -> int:
    """``ZARRKIT_THREADS`` (a positive integer) or a size from the machine's core count."""
    raw = os.environ.get("ZARRKIT_THREADS", "").strip()
    if not raw:
        return max(2, min(32, os.cpu_count() or 2))
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(
            f"ZARRKIT_THREADS={raw!r} is not a positive integer: set it to the number of threads "
            "for chunk work (e.g. ZARRKIT_THREADS=4), or unset it to size the pool by core count"
        )
    return n


_max_workers = _threads_from_environment()


def set_num_threads(n: int) -> None:
    """Size of the pool used for chunk work (1 runs everything inline)."""
    global _max_workers, _pool
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"the number of threads must be a positive integer, got {n!r}")
    with _lock:
        _max_workers = int(n)
        # the old pool is dropped, not shut down: a call that has just taken it still submits
        # to it; its threads end once it is garbage collected
        _pool = None


def get_num_threads() -> int:
    return _max_workers


def _get_pool() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    pid = os.getpid()
    if _pool is None or _pool_pid != pid:  # a forked child needs its own threads
        with _lock:
            if _pool is None or _pool_pid != pid:
                _pool = ThreadPoolExecutor(
                    max_workers=_max_workers,
                    thread_name_prefix="zarrkit",
                    initializer=_mark_worker,
                )
                _pool_pid = pid
    return _pool


def _after_fork_in_child() -> None:
    # the parent's pool threads do not exist here, and another parent thread may have held
    # the lock at the fork (it would stay locked forever): start afresh
    global _lock, _pool, _pool_pid
    _lock = threading.Lock()
    _pool = None
    _pool_pid = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _mark_worker() -> None:
    _local.in_worker = True


def in_worker() -> bool:
    """True inside a pool thread."""
    return getattr(_local, "in_worker", False)


def runs_inline(n: int, *, fewest: int = 2, blosc: bool = False) -> bool:
    """Whether work on ``n`` items runs in the calling thread rather than the pool: the one
    rule, which every caller of :func:`run_parallel` goes through.

    Inline when there are fewer than ``fewest`` items (a hop to the pool costs more than a
    couple of page-cache reads or small decodes), inside a pool thread (a nested call: no
    deadlock), or with a one-thread pool. With ``blosc`` (the work is c-blosc's): also when
    numcodecs lets c-blosc use its global threads (``numcodecs.blosc.use_threads = True``:
    every call is serialised behind one mutex), and on the main thread for at most as many
    items as the pool has threads when numcodecs decides per call (``use_threads = None``:
    there one chunk already spreads over all cores).

    >>> runs_inline(1)
    True
    """
    if n < fewest or n <= 1 or _max_workers <= 1 or in_worker():
        return True
    if blosc:
        import numcodecs.blosc

        use_threads = numcodecs.blosc.use_threads
        if use_threads is True:
            return True
        if (
            use_threads is None
            and n <= _max_workers
            and threading.current_thread() is threading.main_thread()
        ):
            return True
    return False


def run_parallel(
    fn: Callable[[T], R], items: Sequence[T], inline: bool = False, *, fewest: int = 2
) -> list[R]:
    """``[fn(x) for x in items]``, spread over the pool when that helps.

    Runs inline when ``inline`` is set (the caller asked :func:`runs_inline` once for a
    whole call made of several batches) or when :func:`runs_inline` says so for these
    items (``fewest``: see there). Otherwise the items are split into a few contiguous
    groups per thread (one pool task per group, not per item: a task costs ~10-20 us, as
    much as decoding a small chunk). Every item runs even when some fail; the first
    exception in item order propagates after all the work has finished.
    """
    n = len(items)
    if inline or runs_inline(n, fewest=fewest):
        return [fn(x) for x in items]
    size = -(-n // min(n, _max_workers * _TASKS_PER_THREAD))

    def run_group(start: int) -> tuple[list[Any], BaseException | None]:
        out: list[Any] = []
        error: BaseException | None = None
        for x in items[start : start + size]:
            try:
                out.append(fn(x))
            except BaseException as e:  # noqa: BLE001 - re-raised by the caller
                if error is None:
                    error = e
                out.append(None)
        return out, error

    pool = _get_pool()
    futures = [pool.submit(run_group, start) for start in range(0, n, size)]
    results: list[Any] = []
    first_error: BaseException | None = None
    for f in futures:
        out, error = f.result()
        results.extend(out)
        if error is not None and first_error is None:
            first_error = error
    if first_error is not None:
        raise first_error
    return results
