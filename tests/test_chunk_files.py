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
from zarrkit.pipeline import native

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


def test_a_region_of_a_chunk_corrupt_elsewhere_raises_as_a_whole_read(tmp_path, monkeypatch):
    """The loop decodes the whole frame for a small region too: a chunk whose other Blosc
    blocks do not decode is corrupt for any selection, through both paths."""
    a = np.arange(40 * 40, dtype="<i4").reshape(40, 40)
    compressor = numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE, blocksize=256)
    z = zarrkit.open(
        str(tmp_path / "a"), mode="w", shape=a.shape, chunks=a.shape, dtype="<i4",
        compressor=compressor,
    )  # fmt: skip
    z[...] = a
    chunk = tmp_path / "a" / "0.0"
    frame = bytearray(chunk.read_bytes())
    frame[-20] ^= 0xFF  # in the last block
    chunk.write_bytes(bytes(frame))
    for flag in (True, False):
        monkeypatch.setattr(native, "ENABLED", flag)
        for sel in [(slice(0, 2), slice(0, 5)), (3, 4), ...]:
            with pytest.raises(CorruptChunkError, match=r"'0\.0'"):
                z[sel]


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
        @staticmethod
        def read_chunks(*args: Any) -> bytes:
            calls["reads"] += 1
            status = real.read_chunks(*args)
            assert native.DEFER not in status
            return status

        @staticmethod
        def write_chunks(*args: Any) -> bytes:
            calls["writes"] += 1
            status = real.write_chunks(*args)
            assert native.DEFER not in status
            return status

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
