"""The boundary of the compiled loop (_native.c): a plan that does not fit its buffers is an
error before any work (never a write out of bounds), every chunk comes back with a reason code,
deferred chunks are logged, and the per-thread scratch buffers end with their threads."""

from __future__ import annotations

import errno
import gc
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrkit
from conftest import needs_native
from zarrkit.pipeline import native
from zarrkit.pipeline.native import Reason
from zarrkit.storage.files import LocalFiles

# the temporary names' parts the pipeline passes (the rule of storage/files.py)
TEMP = LocalFiles.native_temp_rule("0" * 16)

pytestmark = needs_native

BLOSC = numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE)


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def make(root: Path, compressor: Any = BLOSC, **kw: Any) -> Any:
    """A 10 x 10 f8 array of 4 x 4 chunks (the last ones partial), all written."""
    z = zarrkit.open(
        str(root), mode="w", shape=(10, 10), chunks=(4, 4), dtype="f8", compressor=compressor,
        fill_value=-1.0, **kw,
    )  # fmt: skip
    z[...] = np.arange(100.0).reshape(10, 10)
    return z


def table(first: Any, extent: Any, at: Any) -> np.ndarray:
    return np.array([first, extent, at], dtype=np.int64).reshape(3, len(first), -1)


def one_chunk(z: Any, name: str = "0.0") -> tuple[Any, list[bytes]]:
    return z._pipeline._native, native.encode_paths(z._pipeline.files.folder, [name])


def test_the_reason_codes_are_defined_once_and_mirrored():
    assert native._native.REASONS == {r.name: r.value for r in Reason}
    assert native._native.FIRST_DEFERRED == native.FIRST_DEFERRED
    assert native._native.MAXDIM == native.MAX_NDIM


@pytest.mark.parametrize("compressor", [None, BLOSC], ids=["raw", "blosc"])
def test_a_right_plan_reads_its_chunk_even_into_a_reversed_output(tmp_path, compressor):
    z = make(tmp_path, compressor)
    codec, paths = one_chunk(z)
    out = np.full((4, 4), -7.0)[::-1]  # negative strides: offsets below the first item
    status = native.new_status(1)
    native._native.read_chunks(
        codec, table([[0, 0]], [[4, 4]], [[0, 0]]), paths, out.view("V8"),
        np.array(out.strides, dtype=np.int64), status, 0, 1,
    )  # fmt: skip
    assert status[0, 0] == Reason.DONE
    assert np.array_equal(out, np.arange(100.0).reshape(10, 10)[:4, :4])


# each wrong plan for the read of chunk 0.0 into a 4 x 4 output: table, output, strides,
# status, start, stop, and the error expected
GOOD = ([[0, 0]], [[4, 4]], [[0, 0]])


def _wrong_reads() -> dict[str, tuple[Any, ...]]:
    out = np.full((4, 4), -7.0)
    s = np.array(out.strides, dtype=np.int64)
    st = native.new_status(1)
    good = table(*GOOD)
    return {
        "placed past the end": (table([[0, 0]], [[4, 4]], [[1, 0]]), out, s, st, 0, 1, ValueError),
        "placed far past the end": (
            table([[0, 0]], [[1, 1]], [[2**61, 0]]),
            out,
            s,
            st,
            0,
            1,
            ValueError,
        ),
        "placed before the start": (
            table([[0, 0]], [[4, 4]], [[-1, 0]]),
            out,
            s,
            st,
            0,
            1,
            ValueError,
        ),
        "extent past the chunk": (
            table([[0, 0]], [[5, 4]], [[0, 0]]),
            out,
            s,
            st,
            0,
            1,
            ValueError,
        ),
        "start past the chunk": (table([[2, 0]], [[3, 4]], [[0, 0]]), out, s, st, 0, 1, ValueError),
        "negative start": (table([[-1, 0]], [[2, 4]], [[0, 0]]), out, s, st, 0, 1, ValueError),
        "zero extent": (table([[0, 0]], [[0, 4]], [[0, 0]]), out, s, st, 0, 1, ValueError),
        "too small an output": (good, np.full((3, 4), -7.0), s, st, 0, 1, ValueError),
        "strides too large": (good, out, s * 2, st, 0, 1, ValueError),
        "a table of two chunks": (
            table([[0, 0], [0, 0]], [[4, 4], [4, 4]], [[0, 0], [0, 0]]),
            out,
            s,
            st,
            0,
            1,
            ValueError,
        ),
        "a table of int32": (good.astype(np.int32), out, s, st, 0, 1, TypeError),
        "a status too short": (good, out, s, np.zeros((2, 0), np.int32), 0, 1, ValueError),
        "a run past the plan": (good, out, s, st, 0, 2, ValueError),
        "a run backwards": (good, out, s, st, 1, 0, ValueError),
        "strides of another rank": (good, out, s[:1], st, 0, 1, ValueError),
        "items of another size": (good, out.view("f4"), s, st, 0, 1, ValueError),
    }


WRONG_READS = _wrong_reads()


@pytest.mark.parametrize("case", list(WRONG_READS))
def test_a_wrong_read_plan_raises_before_any_work(tmp_path, case):
    z = make(tmp_path)
    codec, paths = one_chunk(z)
    tab, out, strides, status, start, stop, error = WRONG_READS[case]
    out = out.copy()
    before = out.copy()
    data = out.view("V8") if out.dtype.itemsize == 8 else out
    with pytest.raises(error):
        native._native.read_chunks(codec, tab, paths, data, strides, status, start, stop)
    if (start, stop) == (0, 1):  # (check_plan takes the whole plan)
        with pytest.raises(error):
            native._native.check_plan(codec, tab, paths, data, strides, status, None)
    assert np.array_equal(out, before)


def test_a_read_only_output_is_refused(tmp_path):
    z = make(tmp_path)
    codec, paths = one_chunk(z)
    out = np.full((4, 4), -7.0)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        native._native.read_chunks(
            codec, table(*GOOD), paths, out.view("V8"), np.array(out.strides, dtype=np.int64),
            native.new_status(1), 0, 1,
        )  # fmt: skip
    assert (out == -7).all()


def test_a_wrong_write_plan_raises_and_leaves_the_files(tmp_path):
    z = make(tmp_path)
    codec, paths = one_chunk(z)
    before = files_of(tmp_path)
    value = np.full((4, 4), 5.0)
    s = np.array(value.strides, dtype=np.int64)
    merge = np.zeros(1, dtype=bool)
    st = native.new_status(1)
    good = table(*GOOD)
    wrong = {
        "value too small": (good, value[:3], s, merge, st, TEMP),
        "placed past the end": (table([[0, 0]], [[4, 4]], [[0, 1]]), value, s, merge, st, TEMP),
        "extent past the chunk": (
            table([[1, 0]], [[4, 4]], [[0, 0]]),
            value,
            s,
            merge,
            st,
            TEMP,
        ),
        "merge of two chunks": (good, value, s, np.zeros(2, bool), st, TEMP),
        "a temporary name out of its folder": (good, value, s, merge, st, (b"../", b".", b"")),
        "a temporary name part too long": (good, value, s, merge, st, (b"x" * 65, b".", b"")),
        "a NUL in a temporary name": (good, value, s, merge, st, (b".", b"\0", b"")),
    }
    for case, (tab, val, strides, mg, status, temp) in wrong.items():
        with pytest.raises(ValueError):
            native._native.write_chunks(
                codec, tab, paths, val.view("V8"), strides, mg, status, 0, 1, False, *temp
            )
        assert files_of(tmp_path) == before, case
    # a codec without an encoder takes no writes
    raw = native._native.Codec(
        shape=np.array([4, 4]), strides=np.array([32, 8]), itemsize=8, fill=b""
    )
    with pytest.raises(ValueError, match="encoder"):
        native._native.write_chunks(
            raw, good, paths, value.view("V8"), s, merge, st, 0, 1, False, *TEMP
        )
    assert files_of(tmp_path) == before


def test_a_codec_whose_layout_does_not_fit_is_refused():
    Codec = native._native.Codec
    shape = np.array([4, 4])
    with pytest.raises(ValueError):  # strides that reach past the chunk
        Codec(shape=shape, strides=np.array([64, 8]), itemsize=8, fill=b"")
    with pytest.raises(ValueError):
        Codec(shape=shape, strides=np.array([0, 8]), itemsize=8, fill=b"")
    with pytest.raises(ValueError):  # a fill value of another size
        Codec(shape=shape, strides=np.array([32, 8]), itemsize=8, fill=b"abc")
    with pytest.raises(TypeError):
        Codec(shape=shape.astype(np.int32), strides=np.array([32, 8]), itemsize=8, fill=b"")
    c = Codec(shape=shape, strides=np.array([32, 8]), itemsize=8, fill=b"")
    assert (c.ndim, c.itemsize, c.nbytes, c.writes) == (2, 8, 128, False)


def test_a_wrong_row_in_the_last_run_of_a_parallel_read_raises_before_any_chunk_is_read(
    tmp_path, monkeypatch
):
    z = make(tmp_path)
    real_plan = native.plan
    read = []

    def bad_plan(indexer: Any, separator: str, prefix: str = "") -> Any:
        p = real_plan(indexer, separator, prefix)
        p.out[-1, 0] = 1000  # the last chunk's region far outside the output
        return p

    real = native._native

    class Spy:
        Codec = real.Codec
        check_plan = real.check_plan

        @staticmethod
        def read_chunks(*args: Any) -> None:
            read.append(args[6:8])
            real.read_chunks(*args)

    monkeypatch.setattr(native, "plan", bad_plan)
    monkeypatch.setattr(native, "_native", Spy)
    before = zarrkit.get_num_threads()
    zarrkit.set_num_threads(4)
    try:
        out = np.full((10, 10), -7.0)
        with pytest.raises(ValueError, match="not inside"):
            z.get_basic_selection(..., out=out)
        assert (out == -7).all()
        assert read == []
    finally:
        zarrkit.set_num_threads(before)


# -- reason codes --------------------------------------------------------------------------


def _status_of_read(z: Any, name: str) -> tuple[int, int]:
    codec, paths = one_chunk(z, name)
    out = np.full((4, 4), -7.0)
    status = native.new_status(1)
    native._native.read_chunks(
        codec, table(*GOOD), paths, out.view("V8"), np.array(out.strides, dtype=np.int64),
        status, 0, 1,
    )  # fmt: skip
    return int(status[0, 0]), int(status[1, 0])


@pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "mkfifo"), reason="POSIX")
@pytest.mark.parametrize(
    "compressor, damage, reason",
    [
        (BLOSC, "missing", Reason.MISSING),
        (BLOSC, "garbage", Reason.FRAME_CHECK_FAILED),
        (BLOSC, "fifo", Reason.NOT_REGULAR_FILE),
        (BLOSC, "directory", Reason.NOT_REGULAR_FILE),
        (BLOSC, "too large", Reason.TOO_LARGE),
        (BLOSC, "bad stream", Reason.CODEC_ERROR),
        (None, "short", Reason.WRONG_SIZE),
        (None, "too large", Reason.TOO_LARGE),
        (None, "fifo", Reason.NOT_REGULAR_FILE),
    ],
)
def test_each_chunk_comes_back_with_its_reason(tmp_path, compressor, damage, reason):
    z = make(tmp_path / "a", compressor)
    path = tmp_path / "a" / "0.0"
    data = path.read_bytes()
    path.unlink()
    if damage == "garbage":
        path.write_bytes(b"\x07" * 64)
    elif damage == "fifo":
        os.mkfifo(path)
    elif damage == "directory":
        path.mkdir()
    elif damage == "too large":
        path.write_bytes(data + bytes(200))
    elif damage == "short":
        path.write_bytes(data[:-1])
    elif damage == "bad stream":
        # a frame whose header checks out but whose compressed bytes do not decode: the
        # sizes in the header kept, the rest of the frame scrambled
        b = bytearray(data)
        for i in range(16 + 4, len(b)):
            b[i] = 0xFF
        path.write_bytes(bytes(b))
    got, err = _status_of_read(z, "0.0")
    if damage == "bad stream":
        assert got in (Reason.CODEC_ERROR, Reason.FRAME_CHECK_FAILED)
    else:
        assert got == reason
    assert err == 0


def test_a_system_error_keeps_its_errno(tmp_path):
    z = make(tmp_path / "a", dimension_separator="/")
    # a file where the chunk's folder should be
    for p in sorted((tmp_path / "a" / "0").iterdir()):
        p.unlink()
    (tmp_path / "a" / "0").rmdir()
    (tmp_path / "a" / "0").write_bytes(b"not a folder")
    assert _status_of_read(z, "0/0") == (Reason.OS_ERROR, errno.ENOTDIR)


def test_deferred_chunks_are_logged_with_their_reason(tmp_path, caplog):
    z = make(tmp_path / "a")
    (tmp_path / "a" / "1.1").write_bytes(b"\x07" * 64)
    with caplog.at_level(logging.DEBUG, logger="zarrkit.pipeline.native"):
        with pytest.raises(Exception, match="1.1"):
            z[...]
    messages = [r.getMessage() for r in caplog.records if r.name == "zarrkit.pipeline.native"]
    assert any("1.1" in m and "FRAME_CHECK_FAILED" in m for m in messages), messages


def test_a_write_into_a_missing_folder_is_deferred_with_enoent(tmp_path):
    z = make(tmp_path / "a")
    codec, _ = one_chunk(z)
    paths = native.encode_paths(str(tmp_path / "nowhere") + "/", ["0.0"])
    status = native.new_status(1)
    value = np.full((4, 4), 5.0)
    native._native.write_chunks(
        codec, table(*GOOD), paths, value.view("V8"), np.array(value.strides, dtype=np.int64),
        np.zeros(1, bool), status, 0, 1, False, *TEMP,
    )  # fmt: skip
    assert (status[0, 0], status[1, 0]) == (Reason.OS_ERROR, errno.ENOENT)


# -- scratch buffers -----------------------------------------------------------------------


def _pool_threads() -> int:
    """Threads of the shared pool (``zarrkit_<n>``; not the long-lived ``zarrkit-obstore``,
    ``zarrkit-abs``, ... threads of stores that earlier tests used)."""
    return sum(t.name.startswith("zarrkit_") for t in threading.enumerate())


def test_scratch_buffers_end_with_their_threads(tmp_path):
    z = make(tmp_path)
    count = native._native.scratch_count
    before = zarrkit.get_num_threads()
    # threads that earlier tests left alive (a dask scheduler's pool, ...) keep theirs
    others = count()
    try:
        for n in (3, 4, 2, 5, 3, 4, 2, 5):
            zarrkit.set_num_threads(n)
            assert np.array_equal(z[...], np.arange(100.0).reshape(10, 10))
            z[...] = np.arange(100.0).reshape(10, 10)
        # the replaced pools' threads end once their pools are collected; each live thread
        # (the pool's, this one) keeps at most three buffers
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            gc.collect()
            if count() <= others + 3 * (_pool_threads() + 1) and _pool_threads() <= 5:
                break
            time.sleep(0.05)
        assert count() <= others + 3 * (_pool_threads() + 1)
        assert _pool_threads() <= 5
    finally:
        zarrkit.set_num_threads(before)


def test_a_thread_that_ends_frees_its_scratch(tmp_path):
    z = make(tmp_path)
    count = native._native.scratch_count
    seen = []

    def work() -> None:
        z[...]  # a pool-less read in this thread: its own scratch
        seen.append(count())

    before = zarrkit.get_num_threads()
    zarrkit.set_num_threads(1)
    try:
        deadline = time.monotonic() + 10
        while _pool_threads() and time.monotonic() < deadline:  # the old pool's threads end
            gc.collect()
            time.sleep(0.05)
        start = count()
        for _ in range(5):
            t = threading.Thread(target=work)
            t.start()
            t.join()
    finally:
        zarrkit.set_num_threads(before)
    assert all(s > start for s in seen)
    # (join returns as Python lets go of the thread: its pthread ends, and frees, just after)
    deadline = time.monotonic() + 10
    while count() > start and time.monotonic() < deadline:
        time.sleep(0.01)
    assert count() <= start


# -- read_ranges: the inner chunks of shard files ------------------------------------------------
def make_sharded(root: Path, compressor: Any = BLOSC) -> Any:
    """A 10 x 10 f8 array of 4 x 4 chunks in shards of 8 x 8, all written."""
    z = zarrkit.open(
        str(root), mode="w", shape=(10, 10), chunks=(4, 4), shards=(8, 8), dtype="f8",
        compressor=compressor, fill_value=-1.0, zarr_format=3,
    )  # fmt: skip
    z[...] = np.arange(100.0).reshape(10, 10)
    return z


def shard_ranges(z: Any, inner: int = 0) -> tuple[Any, list[bytes], int, int]:
    """The codec, the shard file c/0/0 as paths, and the offset and length of its inner
    chunk ``inner``."""
    p = z._pipeline
    assert type(p).__name__ == "NativeShardedPipeline"
    raw = (Path(p._folder) / "c" / "0" / "0").read_bytes()
    table_ = p.layout.decode_index(p.layout.index_of(raw), "c/0/0")
    return (
        p._native,
        [os.fsencode(p._folder + "c/0/0")],
        int(table_[inner, 0]),
        int(table_[inner, 1]),
    )


def read_range(codec: Any, paths: list[bytes], ranges: Any, out: np.ndarray, status: Any) -> None:
    native._native.read_ranges(
        codec, table(*GOOD), paths, np.asarray(ranges, dtype=np.int64).reshape(2, -1),
        out.view("V8"), np.array(out.strides, dtype=np.int64), status, 0, 1,
    )  # fmt: skip


@pytest.mark.parametrize("compressor", [None, BLOSC], ids=["raw", "blosc"])
def test_read_ranges_reads_an_inner_chunk_and_fills_an_absent_one(tmp_path, compressor):
    z = make_sharded(tmp_path, compressor)
    codec, paths, offset, length = shard_ranges(z)
    out = np.full((4, 4), -7.0)
    status = native.new_status(1)
    read_range(codec, paths, [offset, length], out, status)
    assert status[0, 0] == Reason.DONE
    assert np.array_equal(out, np.arange(100.0).reshape(10, 10)[:4, :4])
    read_range(codec, paths, [-1, -1], out, status)
    assert status[0, 0] == Reason.MISSING and (out == -1.0).all()


@pytest.mark.parametrize(
    "ranges",
    [[-2, 10], [0, -1], [-1, 5], [5, -1], [2**63 - 10, 11]],
    ids=["negative offset", "negative length", "half absent", "half absent 2", "end overflows"],
)
def test_a_wrong_range_plan_is_a_value_error_before_any_work(tmp_path, ranges):
    z = make_sharded(tmp_path)
    codec, paths, _, _ = shard_ranges(z)
    out = np.full((4, 4), -7.0)
    status = native.new_status(1)
    with pytest.raises(ValueError, match="not a byte range"):
        read_range(codec, paths, ranges, out, status)
    assert (out == -7.0).all() and not status.any()


def test_wrong_range_buffers_are_value_errors(tmp_path):
    z = make_sharded(tmp_path)
    codec, paths, offset, length = shard_ranges(z)
    out = np.full((4, 4), -7.0)
    status = native.new_status(1)
    for ranges in (
        np.array([offset], dtype=np.int64),
        np.array([[offset, length]], dtype=np.int32),
    ):
        with pytest.raises((ValueError, TypeError)):
            native._native.read_ranges(
                codec, table(*GOOD), paths, ranges, out.view("V8"),
                np.array(out.strides, dtype=np.int64), status, 0, 1,
            )  # fmt: skip
    assert (out == -7.0).all()


@pytest.mark.parametrize("compressor", [None, BLOSC], ids=["raw", "blosc"])
def test_ranges_past_the_file_or_wrong_are_deferred(tmp_path, compressor):
    z = make_sharded(tmp_path, compressor)
    codec, paths, offset, length = shard_ranges(z)
    size = os.path.getsize(paths[0])
    out = np.full((4, 4), -7.0)
    status = native.new_status(1)
    read_range(codec, paths, [size - length + 1, length], out, status)
    assert status[0, 0] == Reason.RANGE_OUT_OF_FILE
    read_range(codec, paths, [size + 100, 0], out, status)
    assert status[0, 0] == Reason.RANGE_OUT_OF_FILE
    read_range(codec, paths, [offset, length - 1], out, status)
    assert status[0, 0] == (Reason.WRONG_SIZE if compressor is None else Reason.FRAME_CHECK_FAILED)
    read_range(codec, paths, [0, 0], out, status)
    assert status[0, 0] >= Reason.NOT_REGULAR_FILE
    assert (out == -7.0).all()
    missing = [os.fsencode(str(tmp_path / "c" / "9" / "9"))]
    read_range(codec, missing, [0, 10], out, status)
    assert status[0, 0] == Reason.MISSING and (out == -1.0).all()
