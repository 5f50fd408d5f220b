"""Running the tools' chunk work on a Dask cluster (``scheduler=`` of copy, verify, rechunk
and convert; ``--scheduler`` of the command line).

The driver (the process that calls the tool) does everything about metadata: it plans,
creates the destination's arrays and groups and writes their attributes. The chunk work is
cut into tasks that each handle a bounded set of stored units (keys, chunks, shards or the
blocks of a rechunk plan, each task within the tool's memory limit) and are submitted to the
cluster. A task opens the stores itself: stores travel to the workers pickled (a store
pickles to its constructor parameters, never to open handles), so both ends must be stores
every worker reaches: a folder on a shared file system, S3, GCS, Azure... A store that lives
in one process (``MemoryStore``, a ``dict``, a Zip file, DBM) is refused.

Finished tasks are counted with ``as_completed`` for the progress display. Dask reschedules
the tasks of a worker that dies; every chunk write is one atomic store write (a file renamed
into place, one object PUT), so a task run twice writes the same bytes twice. When a task
fails for good, the tasks still pending are cancelled and the error is raised on the driver.

dask is imported only here, and only when a scheduler is given.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["connect", "run_tasks", "check_shared"]


@contextlib.contextmanager
def connect(scheduler: Any) -> Iterator[Any]:
    """A ``dask.distributed.Client`` for ``scheduler`` (None stays None).

    ``scheduler`` is a ``Client`` (used as it is, left open) or a scheduler address
    (``'tcp://10.0.0.5:8786'``), for which a client is made and closed at the end.

    >>> with connect(None) as client:
    ...     print(client)
    None
    """
    if scheduler is None:
        yield None
        return
    if isinstance(scheduler, str):
        try:
            from dask.distributed import Client
        except ImportError:
            raise ImportError(
                "scheduler= needs dask.distributed: pip install 'zarrkit[distributed]'"
            ) from None
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    if not hasattr(scheduler, "submit") or not hasattr(scheduler, "cancel"):
        raise TypeError(
            f"scheduler must be a dask.distributed.Client or an address string, not {scheduler!r}"
        )
    yield scheduler


def check_shared(store: Any, what: str) -> None:
    """Refuse a store the cluster's workers cannot reach (one that lives in one process).

    >>> import zarrkit
    >>> check_shared(zarrkit.MemoryStore(), "dest")
    Traceback (most recent call last):
    ...
    ValueError: dest is a MemoryStore, which lives in this process: the workers of a Dask cluster cannot reach it (use a folder every worker sees, or an object store)
    """
    in_memory = False
    if isinstance(getattr(type(store), "fs", None), property):  # fsspec's memory://
        protocol = getattr(store.fs, "protocol", ())
        in_memory = "memory" in ((protocol,) if isinstance(protocol, str) else protocol)
    if not getattr(store, "multiprocess_safe", False) or isinstance(store, dict) or in_memory:
        raise ValueError(
            f"{what} is a {type(store).__name__}, which lives in this process: the workers "
            "of a Dask cluster cannot reach it (use a folder every worker sees, or an object "
            "store)"
        )


def run_tasks(
    client: Any,
    fn: Callable[..., Any],
    tasks: Sequence[tuple],
    progress: Callable[[int], None] | None = None,
    weight: Callable[[tuple, Any], int] | None = None,
) -> list[Any]:
    """``[fn(*args) for args in tasks]`` on the cluster of ``client``, the results in the
    order of ``tasks``. ``progress(n)`` is called as each task finishes, with
    ``weight(args, result)`` (default 1). A failed task cancels the others and raises.

    >>> run_tasks(None, pow, [(2, 3), (3, 2)])
    [8, 9]
    """
    if client is None:
        out = []
        for args in tasks:
            result = fn(*args)
            out.append(result)
            if progress is not None:
                progress(1 if weight is None else weight(args, result))
        return out
    if not tasks:
        return []
    from dask.distributed import as_completed

    token = f"zarrkit-{getattr(fn, '__name__', 'task')}-{time.time_ns():x}"
    futures = [
        client.submit(fn, *args, key=f"{token}-{i}", pure=False) for i, args in enumerate(tasks)
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    try:
        for future in as_completed(futures):
            i = index[future.key]
            results[i] = future.result()  # raises the task's error
            future.release()
            if progress is not None:
                progress(1 if weight is None else weight(tasks[i], results[i]))
    except BaseException:
        client.cancel(futures)
        raise
    return results


def array_spec(z: Any, what: str, metadata_travels: bool = False) -> tuple:
    """What a task needs to open array ``z`` itself: ``(store, path, chunk_store,
    write_empty_chunks)``; the stores are checked to be reachable from the workers, except
    the metadata store with ``metadata_travels`` (a ``MemoryStore`` of documents, copied to
    each task: its array is only read or written through its chunk store).

    >>> import zarrkit, tempfile
    >>> z = zarrkit.open_array(tempfile.mkdtemp(), mode="w", shape=4, chunks=2, dtype="i1")
    >>> store, path, chunk_store, write_empty_chunks = array_spec(z, "source")
    >>> path, chunk_store, write_empty_chunks
    ('', None, True)
    """
    chunk_store = getattr(z, "_chunk_store", None)
    if not metadata_travels or chunk_store is None:
        check_shared(z.store, what)
    if chunk_store is not None:
        check_shared(chunk_store, what + " (chunk store)")
    return z.store, z.path, chunk_store, bool(getattr(z, "_write_empty_chunks", True))


def open_array(spec: tuple, read_only: bool) -> Any:
    """The array of an :func:`array_spec`, opened in this process (a task's worker).

    >>> import zarrkit, tempfile
    >>> z = zarrkit.open_array(tempfile.mkdtemp(), mode="w", shape=4, chunks=2, dtype="i1")
    >>> open_array(array_spec(z, "source"), read_only=True).shape
    (4,)
    """
    from ..core import Array

    store, path, chunk_store, write_empty_chunks = spec
    return Array(
        store,
        path=path,
        read_only=read_only,
        chunk_store=chunk_store,
        write_empty_chunks=write_empty_chunks,
    )


def copy_region(source: tuple, dest: tuple, region: tuple[slice, ...], itemsize: int = 1) -> int:
    """A task: ``dest[region] = source[region]`` (arrays by :func:`array_spec`); returns the
    items copied times ``itemsize``.

    >>> import zarrkit, tempfile
    >>> a = zarrkit.open_array(tempfile.mkdtemp(), mode="w", shape=4, chunks=2, dtype="i1")
    >>> a[:] = 7
    >>> b = zarrkit.open_array(tempfile.mkdtemp(), mode="w", shape=4, chunks=4, dtype="i1")
    >>> copy_region(array_spec(a, "s"), array_spec(b, "d"), (slice(0, 4),)), b[:].tolist()
    (4, [7, 7, 7, 7])
    """
    src = open_array(source, read_only=True)
    dst = open_array(dest, read_only=False)
    dst[region] = src[region]
    n = itemsize
    for s in region:
        n *= s.stop - s.start
    return n
