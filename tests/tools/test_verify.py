"""zarrkit.verify: what it finds, on memory, directory, nested, Zip and N5 stores."""

from __future__ import annotations

import io
import os
import pathlib
from typing import Any

import numpy as np
import pytest

import zarrkit
from zarrkit.errors import PathNotFoundError
from zarrkit.verify import read_manifest, verify


def build(store: Any) -> zarrkit.Group:
    root = zarrkit.group(store, overwrite=True)
    a = root.zeros("a", shape=(10, 10), chunks=(5, 5), dtype="f8")
    a[:] = np.arange(100.0).reshape(10, 10)
    s = root.zeros("sub/scalar", shape=(), dtype="i2")
    s[()] = 3
    return root


def test_clean_store_is_ok() -> None:
    store: dict = {}
    build(store)
    report = verify(store)
    assert report.ok, report.lines()
    assert [(a.path, a.present, a.missing) for a in report.arrays] == [
        ("a", 4, 0),
        ("sub/scalar", 1, 0),
    ]
    assert report.groups == ["", "sub"]
    assert report.summary() == "OK: 2 arrays, 2 groups, 5 chunks read"


def test_findings_name_their_keys() -> None:
    store: dict = {}
    build(store)
    store["a/0.1"] = store["a/0.1"][:-7]  # truncated
    store["a/1.0"] = b"\x00" * 40  # garbage that Blosc would decode from beyond its end
    del store["a/1.1"]
    store["a/9.9"] = b"x"  # outside the grid
    store["a/0.0.0"] = b"x"  # not a key of this 2-d array
    store["sub/readme.txt"] = b"x"
    store["sub/.zattrs"] = b"[]"
    report = verify(store)
    a = report.arrays[0]
    assert [k for k, _ in a.corrupt] == ["a/0.1", "a/1.0"]
    assert "its Blosc header says" in a.corrupt[0][1]
    assert (a.missing, a.missing_keys, a.ok_chunks) == (1, ["a/1.1"], 1)
    assert report.stray_keys == ["a/0.0.0", "a/9.9", "sub/readme.txt"]
    assert report.metadata_errors == [("sub/.zattrs", "ValueError: not a JSON object")]
    assert not report.ok


def test_missing_chunks_fail_only_when_asked() -> None:
    store: dict = {}
    build(store)
    del store["a/0.0"]
    assert verify(store).ok
    assert "missing chunks read as the fill value" in verify(store).summary()
    report = verify(store, missing_is_error=True)
    assert not report.ok and report.n_missing == 1


def test_nested_separator_and_a_path_inside(tmp_path: pathlib.Path) -> None:
    store = zarrkit.NestedDirectoryStore(str(tmp_path / "n.zarr"))
    build(store)
    os.remove(tmp_path / "n.zarr" / "a" / "1" / "0")
    (tmp_path / "n.zarr" / "a" / "1" / "x").write_bytes(b"?")
    report = verify(str(tmp_path / "n.zarr"), "a")
    assert [(a.path, a.missing_keys) for a in report.arrays] == [("", ["1/0"])]
    assert report.stray_keys == ["1/x"]


def test_temporary_files_of_directory_and_zip_stores(tmp_path: pathlib.Path) -> None:
    build(str(tmp_path / "d.zarr"))
    leftover = tmp_path / "d.zarr" / "a" / f".0.0.{'ab' * 16}.partial"
    leftover.write_bytes(b"half")
    assert verify(str(tmp_path / "d.zarr")).temp_files == [f"a/.0.0.{'ab' * 16}.partial"]
    with zarrkit.ZipStore(str(tmp_path / "z.zip"), mode="w") as zs:
        build(zs)
    (tmp_path / f"z.zip.{'cd' * 16}.partial").write_bytes(b"dead writer")
    report = verify(str(tmp_path / "z.zip"))
    assert report.temp_files == [f"z.zip.{'cd' * 16}.partial"] and not report.ok


def test_consolidated_metadata_differences() -> None:
    store: dict = {}
    root = build(store)
    zarrkit.consolidate_metadata(store)
    assert verify(store).ok
    root["a"].attrs["new"] = 1
    root.zeros("b", shape=3)
    del store["sub/scalar/.zarray"], store["sub/scalar/0"]
    assert verify(store).consolidated == [
        ("a/.zattrs", "in the store but not in .zmetadata"),
        ("b/.zarray", "in the store but not in .zmetadata"),
        ("sub/scalar/.zarray", "in .zmetadata but not in the store"),
    ]
    store[".zmetadata"] = b"{"
    assert verify(store).metadata_errors[0][0] == ".zmetadata"


def test_checksum_manifest_round_trip(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "d.zarr"
    build(str(path))
    manifest = tmp_path / "m.sha256"
    assert verify(str(path), write_checksums=str(manifest)).ok
    digests = read_manifest(str(manifest))
    assert sorted(digests) == sorted(zarrkit.DirectoryStore(str(path)).keys())
    assert verify(str(path), check_checksums=str(manifest)).ok
    (path / "a" / "0.0").unlink()
    z = zarrkit.open(str(path / "a"), mode="r+")
    z[9, 9] = -1
    (path / "extra").write_bytes(b"")
    report = verify(str(path), check_checksums=digests)
    assert report.checksums == [
        ("a/0.0", "in the manifest but not in the store"),
        ("a/1.1", "changed since the manifest was written"),
        ("extra", "not in the manifest"),
    ]
    buffer = io.StringIO()
    verify(str(path / "a"), write_checksums=buffer)
    assert [line.split("  ")[1] for line in buffer.getvalue().splitlines()] == [
        ".zarray",
        "0.1",
        "1.0",
        "1.1",
    ]
    with pytest.raises(ValueError, match="line 1 of the manifest"):
        read_manifest(io.StringIO("not a manifest\n"))


def test_n5_and_corrupt_array_metadata(tmp_path: pathlib.Path) -> None:
    n5 = zarrkit.N5Store(str(tmp_path / "d.n5"))
    root = zarrkit.group(n5)
    root.zeros("x", shape=(7, 5), chunks=(2, 2), dtype="u1")[:] = 1
    assert verify(n5).ok
    store: dict = {}
    build(store)
    store["a/.zarray"] = b'{"zarr_format": 2}'
    report = verify(store)
    assert report.metadata_errors == [
        ("a/.zarray", "metadata at 'a/.zarray' is missing required key 'shape'")
    ]
    assert [a.path for a in report.arrays] == ["sub/scalar"]
    assert report.stray_keys == []  # the chunks of an unreadable array are not strays


def test_bad_input_raises(tmp_path: pathlib.Path) -> None:
    with pytest.raises(PathNotFoundError):
        verify({"notes.txt": b"x"})
    # Zarr v3 metadata are read (no longer refused): a zarr.json that is not a node is bad
    # metadata, a finding
    report = verify({"zarr.json": b"{}"})
    assert not report.ok and [k for k, _ in report.metadata_errors] == ["zarr.json"]


def test_batches_are_bounded_by_max_mem() -> None:
    class Counting(zarrkit.MemoryStore):
        biggest = 0

        def getitems(self, keys: Any, *, contexts: Any = None) -> dict:
            keys = list(keys)
            Counting.biggest = max(Counting.biggest, len(keys))
            return super().getitems(keys)

    store = Counting()
    z = zarrkit.zeros((64, 64), chunks=(4, 4), dtype="f8", store=store)  # 128-byte chunks
    z[:] = 1
    seen = []
    report = verify(store, max_mem=1024, progress=lambda done, total: seen.append((done, total)))
    assert report.ok and report.arrays[0].present == 256
    assert Counting.biggest == 4  # 1024 bytes: 4 chunks and their stored bytes
    assert seen[-1] == (257, 257) and len(seen) > 60
