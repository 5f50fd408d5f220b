"""ZipStore safety: keys that would escape the archive, and atomic writes."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import zarrkit
from conftest import posix_only
from zarrkit.errors import ReadOnlyError
from zarrkit.storage import ZipStore


@pytest.mark.parametrize(
    "key",
    [
        "../../evil",
        "a/../../evil",
        "..",
        "/abs/evil",
        "\\abs\\evil",
        "C:/evil",
        "..\\evil",
        ".zarray\x00x",
    ],
)
@pytest.mark.parametrize("atomic", [True, False])
def test_refuses_keys_leaving_the_archive(tmp_path: pathlib.Path, key: str, atomic: bool) -> None:
    path = tmp_path / "x.zip"
    with ZipStore(str(path), mode="w", atomic=atomic) as store:
        store[".zarray"] = b"{}"
        with pytest.raises(ValueError, match="ZipStore key") as info:
            store[key] = b"evil"
        assert repr(key) in str(info.value)
        with pytest.raises(ValueError):
            store.setitems({"fine": b"1", key: b"evil"})
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert names == [".zarray"]  # a refused batch writes nothing
    assert not any(".." in n or n.startswith("/") for n in names)
    assert not (tmp_path.parent / "evil").exists()


def test_dotted_names_that_stay_inside_are_keys(tmp_path: pathlib.Path) -> None:
    with ZipStore(str(tmp_path / "x.zip"), mode="w") as store:
        store["a/..b/c..d/.zattrs"] = b"{}"
    assert ZipStore(str(tmp_path / "x.zip"), mode="r")["a/..b/c..d/.zattrs"] == b"{}"


def test_atomic_is_the_default_and_leaves_the_old_archive_until_close(
    tmp_path: pathlib.Path,
) -> None:
    path = str(tmp_path / "x.zip")
    with ZipStore(path, mode="w") as store:
        store["a"] = b"1"
    store = ZipStore(path, mode="a")
    assert store.atomic
    store["b"] = b"2"
    with zipfile.ZipFile(path) as zf:  # the archive on disk is still the old one, readable
        assert zf.namelist() == ["a"]
    store.close()
    assert ZipStore(path, mode="r").getitems(["a", "b"]) == {"a": b"1", "b": b"2"}
    assert os.listdir(tmp_path) == ["x.zip"]  # no temporary archive left


def test_flush_replaces_the_archive_and_writing_goes_on(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "x.zip")
    store = ZipStore(path, mode="w")
    store["a"] = b"1"
    store.flush()
    assert zipfile.ZipFile(path).read("a") == b"1"
    store["a"] = b"rewritten"
    store["b/c"] = b"2"
    del store["a"]
    store["a"] = b"3"
    store.close()
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["a", "b/c"]
        assert zf.read("a") == b"3"


def test_mode_w_keeps_the_old_archive_until_close(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "x.zip")
    with ZipStore(path, mode="w") as store:
        store["old"] = b"1"
    store = ZipStore(path, mode="w")
    store["new"] = b"2"
    assert zipfile.ZipFile(path).namelist() == ["old"]
    store.close()
    assert zipfile.ZipFile(path).namelist() == ["new"]


def test_mode_x_refuses_an_existing_archive(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "x.zip")
    ZipStore(path, mode="w").close()
    with pytest.raises(FileExistsError):
        ZipStore(path, mode="x")


def test_read_only_zip(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "x.zip")
    with ZipStore(path, mode="w") as store:
        store["a"] = b"1"
    ro = ZipStore(path, mode="r")
    for write in (lambda: ro.__setitem__("b", b"2"), lambda: ro.rmdir(""), ro.clear):
        with pytest.raises(ReadOnlyError):
            write()
    assert dict(ro) == {"a": b"1"}


def test_folder_entries_survive_a_rebuild(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "x.zip")
    with ZipStore(path, mode="w") as store:
        store["baz/"] = b""
        store["a"] = b"1"
        store["a"] = b"2"  # a rewrite: the archive is rebuilt on close
    with zipfile.ZipFile(path) as zf:
        assert oct(zf.getinfo("baz/").external_attr >> 16) == "0o40775"
        assert zf.read("a") == b"2"


_WRITER = textwrap.dedent(
    """
    import sys, numpy as np, zarrkit
    from zarrkit.storage import ZipStore
    store = ZipStore(sys.argv[1], mode="a", atomic=sys.argv[2] == "1")
    z = zarrkit.open_array(store, mode="r+")
    i = 0
    while True:  # adding entries until killed
        store[f"extra/{i}"] = bytes(1000)
        if i == 50:
            print("ready", flush=True)
        i += 1
    """
)


@posix_only
@pytest.mark.parametrize("atomic", [True, False])
def test_killed_writer(tmp_path: pathlib.Path, atomic: bool) -> None:
    """A writer killed while adding entries: atomic mode keeps the archive as it was;
    in-place mode loses it (what the README says)."""
    path = str(tmp_path / "data.zip")
    with ZipStore(path, mode="w") as store:
        zarrkit.array(np.arange(100), chunks=10, store=store)
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, path, "1" if atomic else "0"],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    if atomic:
        z = zarrkit.open_array(ZipStore(path, mode="r"), mode="r")
        np.testing.assert_array_equal(z[:], np.arange(100))
    else:
        with pytest.raises(zipfile.BadZipFile):
            zipfile.ZipFile(path)


def test_zarr2_reads_an_atomic_archive_and_zarrkit_reads_zarr2s(tmp_path: pathlib.Path) -> None:
    zarr = pytest.importorskip("zarr")
    if not zarr.__version__.startswith("2."):
        pytest.skip("zarr-python 2's ZipStore")
    data = np.arange(30, dtype="<f4").reshape(5, 6)
    ours = str(tmp_path / "ours.zip")
    with ZipStore(ours, mode="w") as store:
        zarrkit.array(data, chunks=(2, 4), store=store, path="x")
        zarrkit.open_array(store, path="x", mode="r+")[0, 0] = -1  # a rewrite: rebuilt on close
    with zarr.storage.ZipStore(ours, mode="r") as theirs:
        expected = data.copy()
        expected[0, 0] = -1
        np.testing.assert_array_equal(zarr.open_array(theirs, path="x", mode="r")[...], expected)
    made_by_zarr = str(tmp_path / "theirs.zip")
    with zarr.storage.ZipStore(made_by_zarr, mode="w") as theirs:
        zarr.array(data, chunks=(3, 3), store=theirs)
    with ZipStore(made_by_zarr, mode="r") as store:
        np.testing.assert_array_equal(zarrkit.open_array(store, mode="r")[...], data)


def test_clean_partial_removes_a_dead_writers_temporary_archive(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "x.zip")
    ZipStore(path, mode="w").close()
    dead = tmp_path / f"x.zip.{'d' * 32}.partial"
    dead.write_bytes(b"torn")
    os.utime(dead, (0, 0))
    store = ZipStore(path, mode="a")
    store["live"] = b"1"  # its own temporary archive is never removed
    assert store.clean_partial() == [str(dead)]
    assert store.clean_partial(max_age=0) == []
    store.close()
    assert sorted(os.listdir(tmp_path)) == ["x.zip"]
    assert ZipStore(path, mode="r")["live"] == b"1"
