"""DirectoryStore: temporary files of writes are never keys, and are cleaned when safe."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import numpy as np
import pytest

import zarrkit
from conftest import posix_only
from zarrkit.storage import DirectoryStore, NestedDirectoryStore

# a writer that dies between writing its temporary file and renaming it into place
_WRITER = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np, zarrkit
    from zarrkit.storage import DirectoryStore
    z = zarrkit.open_array(DirectoryStore(sys.argv[1]), mode="r+")
    real_replace = os.replace
    def stuck(src, dst):
        print("ready", flush=True)
        time.sleep(600)  # killed here, its temporary files written
    os.replace = stuck
    z[:] = 7
    """
)


def _killed_writer(path: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, path],
        stdout=subprocess.PIPE,
        # the Python path's os.replace is what the writer stops in (the compiled loop renames
        # in C: test_killed_native_writer_leaves_whole_chunks)
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "ZARRKIT_NATIVE": "0"},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith(b"ready")  # (parallel writers may print twice)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)


def _temp_files(root: pathlib.Path) -> list[pathlib.Path]:
    return [p for p in root.rglob("*.partial")]


@posix_only
@pytest.mark.parametrize("cls", [DirectoryStore, NestedDirectoryStore])
def test_killed_writer_leaves_no_visible_trace(tmp_path: pathlib.Path, cls: type) -> None:
    root = tmp_path / "data.zarr"
    store = cls(str(root))
    z = zarrkit.array(np.arange(40, dtype="i4").reshape(4, 10), chunks=(2, 5), store=store)
    keys, listing, nbytes = sorted(store), store.listdir(), z.nbytes_stored
    getsize = store.getsize()
    _killed_writer(str(root))
    assert _temp_files(root)  # the killed writer left its temporary files
    assert sorted(store) == keys and len(store) == len(keys)
    assert store.listdir() == listing and store.getsize() == getsize
    assert zarrkit.open_array(store, mode="r").nbytes_stored == nbytes
    assert store.keys_under("") == keys
    np.testing.assert_array_equal(zarrkit.open_array(store, mode="r")[...], z[...])
    # too recent to be sure no writer owns them: kept by default, removed with max_age=0
    assert store.clean_partial() == []
    removed = store.clean_partial(max_age=0)
    assert removed and all(r.endswith(".partial") for r in removed)
    assert _temp_files(root) == [] and sorted(store) == keys


_LOOPING_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np, zarrkit
    z = zarrkit.open_array(sys.argv[1], mode="r+")
    k = 0
    while True:
        z[:] = np.full(z.shape, k % 7, dtype=z.dtype) + np.arange(z.shape[1], dtype=z.dtype)
        k += 1
        if k == 3:
            print("ready", flush=True)
    """
)


@posix_only
def test_killed_native_writer_leaves_whole_chunks(tmp_path: pathlib.Path) -> None:
    # a writer killed at any moment of its loop over chunk files: every chunk is one whole
    # version (old or new), no key is added, only .partial files can be left
    root = tmp_path / "data.zarr"
    z = zarrkit.open_array(str(root), mode="w", shape=(400, 300), chunks=(20, 30), dtype="i4")
    z[:] = 0
    keys = sorted(DirectoryStore(str(root)))
    for delay in (0.0, 0.05, 0.13):
        proc = subprocess.Popen(
            [sys.executable, "-c", _LOOPING_WRITER, str(root)],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert proc.stdout is not None and proc.stdout.readline().startswith(b"ready")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert sorted(DirectoryStore(str(root))) == keys
        a = zarrkit.open_array(str(root), mode="r")[...]  # every chunk decodes
        cols = np.arange(300)
        for i in range(0, 400, 20):
            for j in range(0, 300, 30):
                block = a[i : i + 20, j : j + 30] - cols[j : j + 30]
                assert (block == block[0, 0]).all()  # one version of the chunk
    DirectoryStore(str(root)).clean_partial(max_age=0)
    assert not list(root.rglob("*.partial"))


def test_clean_partial_removes_only_old_temporary_files(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(str(tmp_path))
    store["a/0.0"] = b"x"
    old = tmp_path / "a" / f".0.0.{'a' * 32}.partial"
    new = tmp_path / "a" / f".0.1.{'b' * 32}.partial"
    old.write_bytes(b"torn")
    new.write_bytes(b"in progress")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    assert store.clean_partial() == [f"a/{old.name}"]
    assert new.exists() and not old.exists()
    assert store.getsize("a") == 1 and store.size_below() == 1


def test_rmdir_removes_temporary_files_with_their_folder(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(str(tmp_path))
    store["a/0.0"] = b"x"
    (tmp_path / "a" / f".0.0.{'c' * 32}.partial").write_bytes(b"torn")
    store.rmdir("a")
    assert not (tmp_path / "a").exists()


def test_a_key_named_like_partial_is_still_a_key(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(str(tmp_path))
    store["notes.partial"] = b"mine"
    assert list(store) == ["notes.partial"] and store.listdir() == ["notes.partial"]
    assert store.getsize() == 4


def test_getrange_reads_part_of_a_file(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(str(tmp_path))
    store["k"] = b"0123456789"
    assert store.partial_reads
    assert store.getrange("k", 3, 4) == b"3456" and store.getrange("k", 8) == b"89"
    with pytest.raises(KeyError):
        store.getrange("missing", 0, 1)
    assert store.getrange("k", 20) == b"" and store.getrange("k", 9, 5) == b"9"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_getrange_of_a_fifo_is_missing_at_once(tmp_path: pathlib.Path) -> None:
    """Only regular files are values: a FIFO at a key's path is no key, and never waited on."""
    store = DirectoryStore(str(tmp_path))
    os.mkfifo(tmp_path / "pipe")
    result: list[Any] = []

    def read() -> None:
        try:
            store.getrange("pipe", 0, 4)
        except KeyError as e:
            result.append(e)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive() and len(result) == 1


def test_values_without_a_buffer_are_refused_before_any_file(tmp_path):
    """A list (or another object without the buffer protocol) is a TypeError, no debris."""
    store = DirectoryStore(str(tmp_path))
    with pytest.raises(TypeError):
        store["baz"] = list(range(5))
    assert os.listdir(tmp_path) == []
    store["a"] = np.arange(3, dtype="<i2")  # buffers of any kind are written as their bytes
    assert store["a"] == np.arange(3, dtype="<i2").tobytes()


def test_creation_claims_a_new_folder_and_gives_it_back_on_refusal(tmp_path):
    # a new node's folder is made first (DirectoryStore.claim_empty): nothing was there
    store = zarrkit.DirectoryStore(str(tmp_path / "d"))
    root = zarrkit.group(store=store)
    a = root.create_dataset("a", shape=(4,), chunks=(2,), dtype="i4")
    assert store.claim_empty("b") and not store.claim_empty("b")  # made, then it is there
    store.rmdir("b")
    with pytest.raises(zarrkit.errors.ContainsArrayError):
        root.create_dataset("a", shape=(4,), dtype="i4")
    # below an array: refused, and the folder made for the new node is gone again
    with pytest.raises(zarrkit.errors.ContainsArrayError):
        zarrkit.create((3,), store=store, path="a/inner")
    assert sorted(os.listdir(tmp_path / "d" / "a")) == [".zarray"]
    a[:] = 5
    assert a[:].tolist() == [5] * 4
    assert not zarrkit.DirectoryStore(str(tmp_path / "d")).claim_empty("")
