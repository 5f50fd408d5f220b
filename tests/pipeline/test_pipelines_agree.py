"""Every selection kind through each chunk pipeline implementation, against NumPy.

One random array (1 to 3 dimensions, edge chunks, a few dtypes, compressors and orders; Zarr
v3 shards, nested too, for some) gets
the same random sequence of writes and reads (basic, orthogonal, coordinate, mask and block
selections) through:

* ``native``: a DirectoryStore with the compiled loop (``native.ENABLED``; the same as
  ``files`` when the extension is not built; shards: ``compiled.NativeShardedPipeline``);
* ``files``: a DirectoryStore with the loop off (the local-files Python path);
* ``batches``: a DirectoryStore subclass that overrides ``__getitem__`` (no local files:
  chunks go through the store protocol in batches);
* ``memory``: a MemoryStore;
* ``remote``: a MemoryStore seen as an object store (``RecordingStore``, 4 requests in
  flight), batches of 2 chunks: reads and writes overlap requests with the codec work in
  groups of one key (``chunks._Requests``).

Every read must equal NumPy's result for the same operations, and afterwards every
implementation must hold the same keys with byte-identical values.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarrkit
from zarrkit.pipeline import compiled, native
from zarrkit.testing import RecordingStore

IMPLEMENTATIONS = ["native", "files", "batches", "memory", "remote"]


class ProtocolDirectoryStore(zarrkit.DirectoryStore):
    """A DirectoryStore that wants to see every read: no local files for the pipeline."""

    def __getitem__(self, key: str) -> bytes:
        return super().__getitem__(key)


@contextmanager
def native_enabled(on: bool) -> Iterator[None]:
    """The compiled loop on or off; on, it reads shards of any plan size (the small arrays
    here have plans of a few inner chunks, which it otherwise leaves to Python)."""
    saved, saved_min = native.ENABLED, compiled.SHARD_LOOP_MIN
    native.ENABLED = on and native._native is not None
    compiled.SHARD_LOOP_MIN = 1
    try:
        yield
    finally:
        native.ENABLED, compiled.SHARD_LOOP_MIN = saved, saved_min


def make_store(kind: str, folder: str) -> Any:
    if kind == "memory":
        return zarrkit.MemoryStore()
    if kind == "remote":
        return RecordingStore(zarrkit.MemoryStore(), concurrency=4)
    if kind == "batches":
        return ProtocolDirectoryStore(os.path.join(folder, kind))
    return zarrkit.DirectoryStore(os.path.join(folder, kind))


def contents(kind: str, store: Any) -> dict[str, bytes]:
    """Every key and its bytes."""
    if kind in ("memory", "remote"):
        store = getattr(store, "store", store)
        return {k: bytes(store[k]) for k in store.keys()}
    root = store.path
    out = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            p = os.path.join(folder, name)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root).replace(os.sep, "/")] = fh.read()
    return out


# -- random arrays and selections -------------------------------------------------------------
COMPRESSORS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "blosc": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
    "blosc_noshuffle": {"id": "blosc", "cname": "zstd", "clevel": 1, "shuffle": 0, "blocksize": 0},
    "zlib": {"id": "zlib", "level": 1},
}
DTYPES = ["<i4", "<f8", "|u1", ">i2"]
KINDS = ["basic", "orthogonal", "coordinate", "mask", "block"]


@st.composite
def arrays(draw: st.DrawFn) -> dict:
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 9)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, s)) for s in shape)
    sharding: dict[str, Any] = {}
    if draw(st.booleans()):  # Zarr v3 shards (nested too): shards of 1 to 3 chunks a side
        shards = [tuple(c * draw(st.integers(1, 3)) for c in chunks)]
        if draw(st.booleans()):
            shards.insert(0, tuple(s * draw(st.integers(1, 2)) for s in shards[0]))
        sharding = dict(zarr_format=3, shards=shards)
    return dict(
        shape=shape,
        chunks=chunks,
        **sharding,
        dtype=draw(st.sampled_from(DTYPES)),
        compressor=draw(st.sampled_from(sorted(COMPRESSORS))),
        order=draw(st.sampled_from("CF")),
        fill_value=draw(st.sampled_from([0, 7, None])),
        dimension_separator=draw(st.sampled_from("./")),
    )


def basic_dim(draw: st.DrawFn, n: int) -> Any:
    if draw(st.booleans()):
        return draw(st.integers(-n, n - 1))
    start = draw(st.none() | st.integers(-n - 2, n + 2))
    stop = draw(st.none() | st.integers(-n - 2, n + 2))
    step = draw(st.sampled_from([None, 1, 1, 2, 3]))
    return slice(start, stop, step)


def ortho_dim(draw: st.DrawFn, n: int, unique: bool) -> Any:
    choice = draw(st.sampled_from(["ints", "mask", "slice", "int"]))
    if choice == "ints":
        if unique:
            idx = draw(st.permutations(range(n)))[: draw(st.integers(1, n))]
        else:
            idx = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n + 2))
        return np.array(idx, dtype=np.intp)
    if choice == "mask":
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if choice == "int":
        return draw(st.integers(0, n - 1))
    return slice(draw(st.integers(0, n - 1)), None, draw(st.integers(1, 3)))


@st.composite
def operations(draw: st.DrawFn, shape: tuple[int, ...], chunks: tuple[int, ...]) -> list:
    """(kind, selection, write, seed) tuples."""
    ops = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(KINDS))
        write = draw(st.booleans())
        if kind == "basic":
            sel: Any = tuple(basic_dim(draw, n) for n in shape)
        elif kind == "orthogonal":
            sel = tuple(ortho_dim(draw, n, write) for n in shape)
        elif kind == "coordinate":
            size = int(np.prod(shape))
            if write:  # no coordinate twice: the order of repeated writes is not NumPy's
                flat = draw(st.permutations(range(size)))[: draw(st.integers(1, min(size, 6)))]
            else:
                flat = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=6))
            sel = np.unravel_index(np.array(flat, dtype=np.intp), shape)
        elif kind == "mask":
            bits = draw(
                st.lists(st.booleans(), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
            )
            sel = np.array(bits, dtype=bool).reshape(shape)
        else:
            blocks = [-(-s // n) for s, n in zip(shape, chunks)]
            parts: list[Any] = []
            for b in blocks:
                first = draw(st.integers(0, b - 1))
                if draw(st.booleans()):
                    parts.append(first)
                else:
                    parts.append(slice(first, first + draw(st.integers(1, b - first))))
            sel = tuple(parts)
        ops.append((kind, sel, write, draw(st.integers(0, 2**32 - 1))))
    return ops


def numpy_index(kind: str, sel: Any, shape: tuple[int, ...], chunks: tuple[int, ...]) -> Any:
    """The NumPy index that selects what ``kind``/``sel`` does on a zarr array."""
    if kind in ("basic", "coordinate", "mask"):
        return sel
    if kind == "orthogonal":
        idx = []
        squeeze = []
        for d, (x, n) in enumerate(zip(sel, shape)):
            if isinstance(x, (int, np.integer)):
                idx.append(np.array([x]))
                squeeze.append(d)
            elif isinstance(x, slice):
                idx.append(np.arange(n)[x])
            elif x.dtype == bool:
                idx.append(np.nonzero(x)[0])
            else:
                idx.append(x)
        return ("ix", np.ix_(*idx), tuple(squeeze))
    items = []
    for x, n, s in zip(sel, chunks, shape):
        if isinstance(x, int):
            items.append(slice(x * n, min((x + 1) * n, s)))
        else:
            items.append(slice(x.start * n, min(x.stop * n, s)))
    return tuple(items)


def np_get(a: np.ndarray, index: Any) -> np.ndarray:
    if isinstance(index, tuple) and len(index) == 3 and isinstance(index[0], str):
        out = a[index[1]]
        out = out.reshape([n for d, n in enumerate(out.shape) if d not in index[2]])
        return out[()] if out.ndim == 0 else out  # a NumPy scalar, as for a[0]
    return a[index]


def np_set(a: np.ndarray, index: Any, value: Any) -> None:
    if isinstance(index, tuple) and len(index) == 3 and isinstance(index[0], str):
        shape = a[index[1]].shape
        a[index[1]] = np.reshape(value, shape) if np.ndim(value) else value
    else:
        a[index] = value


def zarr_get(z: Any, kind: str, sel: Any) -> Any:
    if kind == "basic":
        return z[sel]
    if kind == "orthogonal":
        return z.oindex[sel]
    if kind in ("coordinate", "mask"):
        return z.vindex[sel]
    return z.blocks[sel]


def zarr_set(z: Any, kind: str, sel: Any, value: Any) -> None:
    if kind == "basic":
        z[sel] = value
    elif kind == "orthogonal":
        z.oindex[sel] = value
    elif kind in ("coordinate", "mask"):
        z.vindex[sel] = value
    else:
        z.blocks[sel] = value


def random_values(seed: int, dtype: np.dtype, shape: tuple[int, ...]) -> Any:
    rng = np.random.default_rng(seed)
    if seed % 5 == 0:  # a scalar, broadcast
        return dtype.type(rng.integers(0, 100))
    return rng.integers(0, 100, size=shape).astype(dtype)


def same(a: Any, b: Any) -> bool:
    """The same type (a NumPy scalar or an array), dtype, shape and bytes."""
    if isinstance(a, np.generic) != isinstance(b, np.generic):
        return False
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_pipelines_agree(data: st.DataObject) -> None:
    spec = data.draw(arrays(), label="array")
    ops = data.draw(operations(spec["shape"], spec["chunks"]), label="ops")
    dtype = np.dtype(spec["dtype"])
    config = COMPRESSORS[spec["compressor"]]
    kw = dict(spec, compressor=None if config is None else numcodecs.get_codec(dict(config)))
    fill = spec["fill_value"]
    if fill is None:  # what is never written is undefined (empty memory): write it all first
        ops = [("basic", (slice(None),) * len(spec["shape"]), True, 1), *ops]
    expected = np.full(spec["shape"], 0 if fill is None else fill, dtype=dtype)
    # the reads and the final contents of each implementation
    reads: dict[str, list] = {}
    stored: dict[str, dict[str, bytes]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for impl in IMPLEMENTATIONS:
            store = make_store(impl, folder)
            with native_enabled(impl == "native"):
                z = zarrkit.create(store=store, path="a", **kw)
                if impl == "remote":  # several batches and groups even on small arrays
                    z._pipeline.batch = z._pipeline.write_batch = 2
                got = []
                for kind, sel, write, seed in ops:
                    if write:
                        shape = np_get(
                            expected, numpy_index(kind, sel, spec["shape"], spec["chunks"])
                        ).shape
                        zarr_set(z, kind, sel, random_values(seed, dtype, shape))
                    else:
                        got.append(zarr_get(z, kind, sel))
                got.append(z[...])
            reads[impl] = got
            stored[impl] = contents(impl, store)
    # NumPy's results for the same operations
    want = []
    for kind, sel, write, seed in ops:
        index = numpy_index(kind, sel, spec["shape"], spec["chunks"])
        if write:
            np_set(expected, index, random_values(seed, dtype, np_get(expected, index).shape))
        else:
            want.append(np_get(expected, index).copy())
    want.append(expected)
    for impl in IMPLEMENTATIONS:
        assert len(reads[impl]) == len(want)
        for i, (g, w) in enumerate(zip(reads[impl], want)):
            assert same(g, w), (impl, i, g, w)
    reference = stored["native"]
    for impl in IMPLEMENTATIONS[1:]:
        assert sorted(stored[impl]) == sorted(reference), impl
        for key, value in reference.items():
            assert stored[impl][key] == value, (impl, key)


def test_protocol_store_has_no_local_files(tmp_path: Any) -> None:
    """The subclass really takes the batch path (and the plain class the files path)."""
    assert ProtocolDirectoryStore(str(tmp_path / "p")).local_files_at("a") is None
    assert zarrkit.DirectoryStore(str(tmp_path / "d")).local_files_at("a") is not None


@pytest.mark.skipif(native._native is None, reason="the compiled loop is not built")
def test_native_switch_restored() -> None:
    before = native.ENABLED
    with native_enabled(False):
        assert native.ENABLED is False
    assert native.ENABLED == before
