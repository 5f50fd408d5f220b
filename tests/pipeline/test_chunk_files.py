"""Chunk files that are not what they should be (issue 21, items 5 and 6).

Odd files at chunk paths (a FIFO, a symlink to ``/dev/zero``, a huge sparse file, a
directory) are a clear ``CorruptChunkError`` naming the key, through the compiled loop and
the Python path alike, and never a reader blocked forever or a read without end: each case
runs in a child process with a time limit and a memory limit, so a regression fails instead
of hanging the suite or filling the memory. Corrupt chunk files give the same answer through
both paths (the same values, or ``CorruptChunkError`` from both), for whole reads and for
regions; and 64-dimensional arrays go through the loop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import zarrkit
from zarrkit.errors import CorruptChunkError
from zarrkit.pipeline import codec_chain, native

posix_only = pytest.mark.skipif(
    sys.platform == "win32" or not hasattr(os, "mkfifo"), reason="FIFOs and /dev/zero: POSIX"
)

COMPRESSORS: dict[str, Any] = {
    "raw": None,
    "blosc": numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE),
    "zlib": numcodecs.Zlib(1),
}

# the child: reads (whole and a region) and a write merging into the odd chunk, with the
# loop on or off (ZARRKIT_NATIVE), and the store's own mapping protocol; prints what each did
_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    limit = 1536 * 2**20  # a read without end stops here (MemoryError), not in the machine
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import numpy as np
    import zarrkit

    root, names, mapping = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"

    def outcome(fn):
        try:
            fn()
            return ["ok", ""]
        except Exception as e:
            return [type(e).__name__, str(e), getattr(e, "key", None)]

    results = {}
    for name in names:
        z = zarrkit.open(root + "/" + name, mode="r+")
        results[name] = {
            "whole": outcome(lambda: z[...]),
            "region": outcome(lambda: z[12:14, 11:13]),
            "write": outcome(lambda: z.__setitem__((slice(12, 14), slice(11, 13)), 7)),
        }
    if mapping:
        store = zarrkit.DirectoryStore(root)
        results["mapping"] = [
            outcome(lambda: store[names[0] + "/1.1"]), names[0] + "/1.1" in store
        ]
    print(json.dumps(results))
    """
)


# what the error says about each odd file
EXPLAINED = {
    "fifo": "a FIFO is at its path",
    "dev-zero": "a character device is at its path",
    "sparse": "3221225472 bytes",
    "directory": "a directory is at its path",
}


def _make_odd(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        os.symlink("/dev/zero", path)
    elif kind == "sparse":  # 3 GiB that take no disk space
        path.write_bytes(b"")
        os.truncate(path, 3 * 2**30)
    elif kind == "directory":
        path.mkdir()
        (path / "x").write_bytes(b"a file below it")
    else:
        raise AssertionError(kind)


def _unblock(path: Path) -> None:
    """Let a reader stuck on the FIFO at ``path`` (old code) see the end of its data."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


@posix_only
@pytest.mark.parametrize("use_native", [True, False], ids=["loop", "python"])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "sparse", "directory"])
def test_an_odd_file_at_a_chunk_path_is_a_clear_error_naming_the_key(tmp_path, kind, use_native):
    if use_native and native._native is None:
        pytest.skip("the extension is not built here")
    for name, compressor in COMPRESSORS.items():
        z = zarrkit.open(
            str(tmp_path / name),
            mode="w",
            shape=(20, 20),
            chunks=(10, 10),
            dtype="<i4",
            compressor=compressor,
        )
        z[...] = np.arange(400, dtype="<i4").reshape(20, 20)
        (tmp_path / name / "1.1").unlink()
        _make_odd(tmp_path / name / "1.1", kind)
    env = dict(os.environ, ZARRKIT_NATIVE="1" if use_native else "0")
    # (a huge regular file is a value of the mapping, whose size has no bound)
    mapping = "0" if kind == "sparse" else "1"
    args = [sys.executable, "-c", _CHILD, str(tmp_path), json.dumps(list(COMPRESSORS)), mapping]
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail(f"reading with {kind} at a chunk path did not finish within 60 s")
    finally:
        for name in COMPRESSORS:
            if kind == "fifo":
                _unblock(tmp_path / name / "1.1")
    assert child.returncode == 0, err.decode()
    results = json.loads(out)
    for name in COMPRESSORS:
        for op, (error, message, key) in results[name].items():
            assert error == "CorruptChunkError", (name, op, error, message)
            assert key == "1.1" and "'1.1'" in message, (name, op, message)
            assert EXPLAINED[kind] in message, (name, op, message)
    if kind != "sparse":  # the mapping protocol: not a key (zarr 2's isfile), no wait
        (error, _message, _key), contained = results["mapping"]
        assert error == "KeyError" and contained is False


@posix_only
def test_a_chunk_file_longer_than_any_frame_is_not_read(tmp_path, monkeypatch):
    """The Python path refuses a file longer than the array's largest valid frame before
    reading it (``read_file``'s limit); a few bytes after a frame are no error."""
    z = zarrkit.open(str(tmp_path / "a"), mode="w", shape=(20, 20), chunks=(10, 10), dtype="<i4")
    z[...] = 1
    assert z._pipeline.chain.max_stored_nbytes == 400 + 400 // 8 + 1024
    frame = (tmp_path / "a" / "0.0").read_bytes()
    with open(tmp_path / "a" / "0.0", "ab") as f:  # a valid frame and 1 MB more
        f.write(b"\0" * 2**20)
    reads: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        reads.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(native, "ENABLED", False)
    monkeypatch.setattr(os, "read", counting_read)
    with pytest.raises(CorruptChunkError, match=r"'0\.0'.*1048\d{3} bytes"):
        z[...]
    assert reads and max(reads) <= len(frame)  # the other chunks; nothing of the long one
    # trailing bytes within the bound are no error: both paths decode the frame
    monkeypatch.setattr(os, "read", real_read)
    (tmp_path / "a" / "0.0").write_bytes(frame + b"\0" * 10)
    for flag in (True, False):
        monkeypatch.setattr(native, "ENABLED", flag)
        assert (z[...] == 1).all()
        assert (z[0, :3] == 1).all()  # a region (a partial decode where it is taken) too


# -- the compiled loop and the Python path agree on corrupt chunks ---------------------------

CORRUPT_COMPRESSORS = [
    None,
    numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE, blocksize=256),
    numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE, blocksize=256),
    numcodecs.Blosc("blosclz", 1, numcodecs.Blosc.NOSHUFFLE, blocksize=128),
    numcodecs.Blosc("zstd", 0, numcodecs.Blosc.SHUFFLE),  # stored as they are (memcpyed)
]


def _region(draw: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    sel: list[Any] = []
    for n in shape:
        kind = draw(st.sampled_from(["all", "slice", "int"]))
        if kind == "all":
            sel.append(slice(None))
        elif kind == "int":
            sel.append(draw(st.integers(0, n - 1)))
        else:
            a = draw(st.integers(0, n - 1))
            sel.append(slice(a, draw(st.integers(a + 1, n))))
    return tuple(sel)


@st.composite
def corrupt_cases(draw: Any) -> dict[str, Any]:
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(4, 40), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(2, n)) for n in shape)
    damage = st.tuples(
        st.sampled_from(["flip", "truncate", "extend", "replace", "header"]),
        st.integers(0, 2**31),  # where (taken modulo the file's length)
        st.integers(1, 255),  # how (the byte flipped, a length)
    )
    return {
        "shape": shape,
        "chunks": chunks,
        "dtype": draw(st.sampled_from(["<i4", "<f8", "u1", ">i2"])),
        "order": draw(st.sampled_from("CF")),
        "compressor": draw(st.sampled_from(range(len(CORRUPT_COMPRESSORS)))),
        "damage": draw(st.lists(damage, min_size=1, max_size=4)),
        "reads": [_region(draw, shape) for _ in range(3)] + [...],
        "seed": draw(st.integers(0, 2**16)),
    }


def _damage(data: bytes, how: str, where: int, what: int, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    if how == "flip" and b:
        b[where % len(b)] ^= what
    elif how == "header" and b:  # the 16 bytes of a Blosc header
        b[where % min(16, len(b))] ^= what
    elif how == "truncate":
        del b[where % (len(b) + 1) :]
    elif how == "extend":
        b += rng.integers(0, 256, size=what, dtype=np.uint8).tobytes()
    elif how == "replace":
        b = bytearray(rng.integers(0, 256, size=where % 600, dtype=np.uint8).tobytes())
    return bytes(b)


def _outcome(z: Any, sel: Any, use_native: bool) -> tuple[str, Any]:
    native.ENABLED = use_native
    try:
        return "values", z[sel]
    except CorruptChunkError as e:
        return "CorruptChunkError", e.key
    except Exception as e:  # anything else: also the same in both paths
        return type(e).__name__, None


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=corrupt_cases())
# a region of the first Blosc block of a chunk whose last block is corrupt (blosc_getitem
# decoded only the region's block and returned values; a whole read raises)
@example(
    case={
        "shape": (40, 40),
        "chunks": (40, 40),
        "dtype": "<i4",
        "order": "C",
        "compressor": 2,
        "damage": [("flip", -5, 255)],
        "reads": [(slice(0, 2), slice(0, 5)), ...],
        "seed": 1,
    }
)
def test_the_loop_and_the_python_path_agree_on_corrupt_chunks(tmp_path_factory, case):
    if native._native is None:
        pytest.skip("the extension is not built here")
    root = tmp_path_factory.mktemp("corrupt")
    rng = np.random.default_rng(case["seed"])
    z = zarrkit.open(
        str(root / "a"),
        mode="w",
        shape=case["shape"],
        chunks=case["chunks"],
        dtype=case["dtype"],
        order=case["order"],
        compressor=CORRUPT_COMPRESSORS[case["compressor"]],
        fill_value=0,
    )
    values = rng.integers(0, 50, size=case["shape"]).astype(case["dtype"])
    z[...] = values
    files = sorted(p for p in (root / "a").iterdir() if p.name != ".zarray")
    damaged = set()
    for how, where, what in case["damage"]:
        f = files[where % len(files)]
        f.write_bytes(_damage(f.read_bytes(), how, where, what, rng))
        damaged.add(f.name)
    threads = numcodecs.blosc.use_threads
    try:
        for sel in case["reads"]:
            got = _outcome(z, sel, True)
            expected = _outcome(z, sel, False)
            event(got[0])
            assert got[0] == expected[0], (sel, got, expected)
            if got[0] == "values":
                assert np.array_equal(got[1], expected[1], equal_nan=True), sel
            elif got[0] == "CorruptChunkError":
                assert got[1] in damaged and expected[1] in damaged, (got, expected, damaged)
            # with c-blosc's own threads on the main thread too (numcodecs' call)
            numcodecs.blosc.use_threads = not numcodecs.blosc.use_threads
            again = _outcome(z, sel, False)
            assert again[0] == expected[0], (sel, again, expected)
    finally:
        native.ENABLED = True
        numcodecs.blosc.use_threads = threads


def _one_chunk_array(path: Path) -> tuple[Any, Path, np.ndarray]:
    """A 200 x 200 <i4 array in one chunk of LZ4 Blosc blocks of 64 KiB (c-blosc's least for
    split blocks: two split into 4 streams, a short last one in one stream), and its
    chunk file."""
    a = np.arange(200 * 200, dtype="<i4").reshape(200, 200)
    compressor = numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE, blocksize=512)
    z = zarrkit.open(
        str(path), mode="w", shape=a.shape, chunks=a.shape, dtype="<i4", compressor=compressor
    )
    z[...] = a
    return z, path / "0.0", a


def _stream_sizes(frame: bytes) -> list[int]:
    """The offsets of the block starts and of every stream size of a Blosc frame."""
    nbytes, blocksize = int.from_bytes(frame[4:8], "little"), int.from_bytes(frame[8:12], "little")
    nblocks, typesize = -(-nbytes // blocksize), frame[3]
    split = not frame[2] & 0x10 and typesize <= 16 and blocksize // typesize >= 128
    where = [16 + 4 * j for j in range(nblocks)]
    for j in range(nblocks):
        o = int.from_bytes(frame[16 + 4 * j : 20 + 4 * j], "little")
        short = j == nblocks - 1 and nbytes % blocksize
        for _ in range(typesize if split and not short else 1):
            where.append(o)
            o += 4 + int.from_bytes(frame[o : o + 4], "little")
    return where


REGION = (slice(0, 2), slice(0, 5))  # in the first block only


def test_a_region_read_decodes_only_its_blocks(tmp_path, monkeypatch):
    """Python path: c-blosc's blosc_getitem, once per region read of at most half a chunk;
    the loop reads the same values."""
    z, _, a = _one_chunk_array(tmp_path / "a")
    calls: list[tuple[int, int]] = []
    real = codec_chain.blosc_getitem()
    assert real is not None and z._pipeline.chain.partial_limit == a.nbytes // 2

    def counting(src: bytes, start: int, nitems: int, dest: int) -> int:
        calls.append((start, nitems))
        return real(src, start, nitems, dest)

    monkeypatch.setattr(native, "ENABLED", False)
    monkeypatch.setattr(codec_chain, "blosc_getitem", lambda: counting)
    assert np.array_equal(z[REGION], a[REGION]) and calls == [(0, 205)]
    assert np.array_equal(z[5], a[5]) and calls[1] == (1000, 200)
    assert np.array_equal(z[...], a) and len(calls) == 2  # a whole chunk: decoded whole
    assert np.array_equal(z[:150], a[:150]) and len(calls) == 2  # more than half: whole
    monkeypatch.setattr(native, "ENABLED", True)
    for sel in (REGION, 5, (slice(3, 9), 7), ...):
        assert np.array_equal(z[sel], a[sel])


def test_a_damaged_block_table_or_stream_size_is_refused_by_any_region_read(tmp_path, monkeypatch):
    """Every int32 of the block-start table and every stream size, damaged in turn: a read of
    a region in the first block refuses the chunk, through both paths, though the damage is
    in blocks it does not decode (the whole frame's structure is checked first)."""
    z, chunk, a = _one_chunk_array(tmp_path / "a")
    frame = chunk.read_bytes()
    where = _stream_sizes(frame)
    assert len(where) == 3 + 2 * 4 + 1
    for o in where:
        for value in (0, -1, len(frame), int.from_bytes(frame[o : o + 4], "little") + 1):
            b = bytearray(frame)
            b[o : o + 4] = value.to_bytes(4, "little", signed=True)
            chunk.write_bytes(bytes(b))
            for flag in (True, False):
                monkeypatch.setattr(native, "ENABLED", flag)
                with pytest.raises(CorruptChunkError, match=r"'0\.0'"):
                    z[REGION]
    chunk.write_bytes(frame)
    assert np.array_equal(z[REGION], a[REGION])


def test_corrupt_bytes_inside_a_block_are_found_by_reads_of_that_block(tmp_path, monkeypatch):
    """Compressed bytes damaged inside the last block (its structure intact): a region of the
    first block reads (only its blocks are decoded), any read touching the last block
    refuses the chunk; the same through both paths."""
    z, chunk, a = _one_chunk_array(tmp_path / "a")
    frame = bytearray(chunk.read_bytes())
    last = _stream_sizes(bytes(frame))[-1]  # the last stream of the last block
    size = int.from_bytes(frame[last : last + 4], "little")
    frame[last + 4 : last + 4 + size] = b"\xff" * size  # not an LZ4 stream
    chunk.write_bytes(bytes(frame))
    assert codec_chain.blosc_frame_ok(bytes(frame), a.nbytes)
    for flag in (True, False):
        monkeypatch.setattr(native, "ENABLED", flag)
        assert np.array_equal(z[REGION], a[REGION])
        for sel in [(199, slice(190, 200)), ...]:
            with pytest.raises(CorruptChunkError, match=r"'0\.0'"):
                z[sel]


def _frame_checks() -> list:
    checks = [pytest.param(None, id="python")]
    if codec_chain._native_frame_ok is not None:
        checks.append(pytest.param(codec_chain._native_frame_ok, id="compiled"))
    return checks


@pytest.mark.parametrize("compiled", _frame_checks())
@pytest.mark.parametrize("one_by_one", [0, 10**9])
def test_the_frame_check_takes_valid_frames_and_refuses_damaged_ones(
    monkeypatch, one_by_one, compiled
):
    """Frames numcodecs writes pass (threads, splits, short last blocks, memcpyed, item sizes
    beyond the split rule), whichever way the streams are walked; damaged ones do not; the
    same for the rule in C and in Python."""
    monkeypatch.setattr(codec_chain, "_WALK_ONE_BY_ONE", one_by_one)
    monkeypatch.setattr(codec_chain, "_native_frame_ok", compiled)
    rng = np.random.default_rng(3)
    for dtype in ("u1", "<i2", "<f8", "V20"):
        for cname, shuffle, blocksize, clevel in [
            ("lz4", 1, 0, 5), ("zstd", 2, 256, 3), ("blosclz", 0, 128, 1), ("lz4", 1, 0, 0),
        ]:  # fmt: skip
            for n in (1, 100, 5000):
                raw = rng.integers(0, 9, size=n * np.dtype(dtype).itemsize, dtype=np.uint8)
                frame = numcodecs.blosc.compress(raw.view(dtype), cname.encode(), clevel,
                                                 shuffle, blocksize)  # fmt: skip
                assert codec_chain.blosc_frame_ok(frame, raw.nbytes), (dtype, cname, n)
                assert not codec_chain.blosc_frame_ok(frame, raw.nbytes + 1)
                assert not codec_chain.blosc_frame_ok(frame[:-1], raw.nbytes)
                # bytes after the frame are ignored (as by a whole decode)
                assert codec_chain.blosc_frame_ok(frame + b"\0", raw.nbytes)
    frame = numcodecs.blosc.compress(np.arange(400, dtype="<i4"), b"lz4", 5, 1, 512)
    for o in _stream_sizes(frame):
        b = bytearray(frame)
        b[o : o + 4] = (0).to_bytes(4, "little")
        assert not codec_chain.blosc_frame_ok(bytes(b), 1600)


# -- 64 dimensions -------------------------------------------------------------------------


def test_64_dimensional_arrays_go_through_the_loop(tmp_path, monkeypatch):
    if native._native is None:
        pytest.skip("the extension is not built here")
    shape = (4, 3, 2) + (1,) * 61
    chunks = (3, 2, 1) + (1,) * 61
    a = np.arange(24, dtype="<i2").reshape(shape)
    calls: dict[str, int] = {"reads": 0, "writes": 0}
    real = native._native

    class Counting:
        Codec = real.Codec
        check_plan = real.check_plan

        @staticmethod
        def read_chunks(*args: Any) -> None:
            calls["reads"] += 1
            real.read_chunks(*args)
            status, start, stop = args[5:8]
            assert (status[0, start:stop] < native.FIRST_DEFERRED).all()

        @staticmethod
        def write_chunks(*args: Any) -> None:
            calls["writes"] += 1
            real.write_chunks(*args)
            status, start, stop = args[6:9]
            assert (status[0, start:stop] < native.FIRST_DEFERRED).all()

    monkeypatch.setattr(native, "_native", Counting)
    for compressor in (None, numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE)):
        z = zarrkit.open(
            str(tmp_path / str(compressor is None)), mode="w", shape=shape, chunks=chunks,
            dtype="<i2", compressor=compressor,
        )  # fmt: skip
        z[...] = a
        assert np.array_equal(z[...], a)
        region = (slice(1, 4), 2) + (0,) * 61
        z[region] = -a[region]
        b = a.copy()
        b[region] = -a[region]
        assert np.array_equal(z[...], b) and np.array_equal(z[region], b[region])
        monkeypatch.setattr(native, "ENABLED", False)
        assert np.array_equal(z[...], b)
        monkeypatch.setattr(native, "ENABLED", True)
    assert calls["reads"] >= 6 and calls["writes"] >= 4


@pytest.mark.skipif(codec_chain._native_frame_ok is None, reason="the extension is not built")
@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 3000),
    blocksize=st.sampled_from([0, 64, 256, 1024]),
    cname=st.sampled_from([b"lz4", b"zstd", b"blosclz"]),
    dtype=st.sampled_from(["u1", "<i4", "V12"]),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 8),
)
def test_the_compiled_and_python_frame_checks_agree(n, blocksize, cname, dtype, edits, cut):
    """One rule in two languages: on valid frames and on frames with bytes changed or cut
    off, the compiled check and the Python one give the same answer."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.random.default_rng(n).integers(0, 5, size=n * itemsize, dtype=np.uint8)
    frame = bytearray(numcodecs.blosc.compress(raw.view(dtype), cname, 5, 1, blocksize))
    for at, value in edits:
        frame[at % len(frame)] = value
    data = bytes(frame[: len(frame) - cut])
    for nbytes in (raw.nbytes, raw.nbytes - 1, raw.nbytes + 1):
        assert codec_chain._native_frame_ok(data, nbytes) == codec_chain.frame_ok_python(
            data, nbytes
        ), (nbytes, edits, cut)
