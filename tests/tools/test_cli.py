"""The ``zarrkit`` command line, end to end: ``python -m zarrkit`` in a subprocess on real
stores (directory, Zip, N5, S3 on the moto server), plus in-process calls of ``main`` for the
details that need no new process."""

from __future__ import annotations

import io
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import zarrkit
from zarrkit.cli import main

SRC = str(pathlib.Path(zarrkit.__file__).resolve().parent.parent)


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m zarrkit ARGS`` with this zarrkit, no AWS credentials from the machine."""
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "BOTO_CONFIG"
    }
    environ.update(
        PYTHONPATH=os.pathsep.join([SRC, environ.get("PYTHONPATH", "")]),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_CONFIG_FILE=os.devnull,
        BOTO_CONFIG=os.devnull,
        AWS_DEFAULT_REGION="us-east-1",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "zarrkit", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def call(capsys: Any, *args: str) -> tuple[int, str, str]:
    """``main(args)`` in this process: (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(result: subprocess.CompletedProcess, *parts: str) -> None:
    """Exit code 2 and a single line on stderr naming each of ``parts``."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0], lines[0]


def make_hierarchy(store: Any) -> zarrkit.Group:
    root = zarrkit.group(store, overwrite=True)
    root.attrs["title"] = "demo"
    a = root.create_dataset(
        "foo/bar", data=np.arange(100, dtype="i4").reshape(10, 10), chunks=(3, 4)
    )
    a.attrs["units"] = "m"
    root.create_dataset("names", data=np.array(["x", "y,z", 'q"'], dtype=object), dtype=str)
    return root


@pytest.fixture
def hierarchy(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "data.zarr"
    make_hierarchy(str(path))
    return path


def test_info_tree_ls_print_what_the_library_prints(hierarchy: pathlib.Path) -> None:
    root = zarrkit.open_group(str(hierarchy), mode="r")
    r = run("info", str(hierarchy / "foo" / "bar"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == repr(zarrkit.open(str(hierarchy / "foo" / "bar"), mode="r").info)
    r = run("tree", str(hierarchy))
    assert r.returncode == 0, r.stderr
    assert r.stdout == str(root.tree()) + "\n"
    r = run("ls", "-r", str(hierarchy))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:-1] == [
        "/                        Group",
        "/foo                     Group",
        "/foo/bar                 Array {10, 10} int32 chunks {3, 4}",
        "/names                   Array {3} object chunks {3}",
    ]


@pytest.mark.parametrize("kind", ["zip", "n5"])
def test_ls_and_cat_inside_zip_and_n5(tmp_path: pathlib.Path, kind: str, capsys: Any) -> None:
    path = tmp_path / f"data.{kind}"
    store = zarrkit.ZipStore(str(path), mode="w") if kind == "zip" else zarrkit.N5Store(str(path))
    root = zarrkit.group(store)
    data = np.arange(60, dtype="u2").reshape(6, 10)
    root.create_dataset("g/a", data=data, chunks=(4, 3))
    store.close()
    code, out, _ = call(capsys, "ls", f"{path}/g")
    assert (code, out) == (0, "a                        Array {6, 10} uint16 chunks {4, 3}\n")
    out_file = tmp_path / "sel.npy"
    r = run("cat", f"{path}/g/a[1:5, ::3]", "--format", "npy", "-o", str(out_file))
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(out_file), data[1:5, ::3])
    code, out, _ = call(capsys, "verify", str(path))
    assert (code, out.splitlines()[-1]) == (0, "OK: 1 array, 2 groups, 8 chunks read")


def test_cat_csv(hierarchy: pathlib.Path, capsys: Any) -> None:
    assert main(["cat", f"{hierarchy}/foo/bar[2:4, 1:9:3]"]) == 0
    assert capsys.readouterr().out == "21,24,27\n31,34,37\n"
    assert main(["cat", f"{hierarchy}/foo/bar[-1, -1]"]) == 0
    assert capsys.readouterr().out == "99\n"
    assert main(["cat", str(hierarchy / "names")]) == 0
    assert capsys.readouterr().out == 'x\n"y,z"\n"q"""\n'
    z = zarrkit.open(str(hierarchy / "f.zarr"), mode="w", shape=(3,), dtype="f4")
    z[:] = [0.1, 1e30, np.nan]
    assert main(["cat", str(hierarchy / "f.zarr"), "-f", "csv"]) == 0
    assert capsys.readouterr().out == "0.1\n1e+30\nnan\n"


def test_every_command_has_help(capsys: Any) -> None:
    commands = ["info", "tree", "ls", "cat", "verify", "copy", "consolidate", "rechunk"]
    for command in [None, *commands]:
        with pytest.raises(SystemExit) as e:
            main([command, "--help"] if command else ["--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert "exit codes: 0 success; 1 verify found problems; 2 bad input" in out
    with pytest.raises(SystemExit) as e:
        main(["verify", "--help"])
    assert "--missing-is-error" in capsys.readouterr().out
    # the console script runs the same function
    pyproject = (pathlib.Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '[project.scripts]\nzarrkit = "zarrkit.cli:main"' in pyproject


def test_bad_input_is_one_line_and_exit_2(tmp_path: pathlib.Path, capsys: Any) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not zarr")
    one_line_error(run("info", str(empty)), str(empty), "nothing found")
    code, _, err = call(capsys, "tree", str(tmp_path / "absent"))
    assert (code, err) == (
        2,
        f"zarrkit tree: error: {tmp_path / 'absent'}: no such file or directory\n",
    )

    v3 = tmp_path / "v3.zarr"
    v3.mkdir()
    (v3 / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    # Zarr v3 is read: an empty v3 group verifies (it was refused before v3 support)
    r = run("verify", str(v3))
    assert (r.returncode, r.stdout.splitlines()[-1]) == (0, "OK: 0 arrays, 1 group, 0 chunks read")

    bad = tmp_path / "bad.zarr"
    zarrkit.open(str(bad), mode="w", shape=(4,), chunks=(2,))
    (bad / ".zarray").write_text('{"zarr_format": 2, "shape": [4')
    result = run("cat", str(bad))
    one_line_error(result, str(bad), ".zarray", "not valid JSON")
    debug = run("cat", str(bad), "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    # a corrupt .zarray inside a hierarchy is a finding of verify (exit 1), not bad input
    parent = tmp_path / "h.zarr"
    make_hierarchy(str(parent))
    (parent / "foo" / "bar" / ".zarray").write_text("{")
    r = run("verify", str(parent))
    assert r.returncode == 1
    assert (
        "bad metadata  foo/bar/.zarray: metadata at 'foo/bar/.zarray' is not valid JSON" in r.stdout
    )


def test_usage_errors_exit_2(hierarchy: pathlib.Path, capsys: Any) -> None:
    assert main(["cat", f"{hierarchy}/foo/bar[0, os.system('x')]"]) == 2
    assert "only integers, slices and ... are allowed" in capsys.readouterr().err
    assert main(["cat", str(hierarchy)]) == 2
    assert "is a group" in capsys.readouterr().err
    assert main(["info", "-S", "anon=true", str(hierarchy)]) == 2
    assert "--storage-option is only for URLs" in capsys.readouterr().err
    assert main(["rechunk", str(hierarchy), "x.zarr", "--chunks", "a,b"]) == 2
    assert "'a' is not an integer" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # argparse's own usage errors are exit code 2 too
        main(["copy", str(hierarchy)])
    assert e.value.code == 2


def damage(path: pathlib.Path) -> None:
    """Truncate chunk foo/bar/1.1, delete foo/bar/2.0, add the stray key foo/junk."""
    chunk = path / "foo" / "bar" / "1.1"
    data = chunk.read_bytes()
    chunk.write_bytes(data[: len(data) // 2])
    (path / "foo" / "bar" / "2.0").unlink()
    (path / "foo" / "junk").write_bytes(b"?")


def test_verify_reports_exactly_what_is_wrong(hierarchy: pathlib.Path, capsys: Any) -> None:
    r = run("verify", str(hierarchy))
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines()[-1] == "OK: 2 arrays, 2 groups, 13 chunks read"
    damage(hierarchy)
    r = run("verify", "--json", str(hierarchy))
    assert r.returncode == 1
    report = json.loads(r.stdout)
    bar = next(a for a in report["arrays"] if a["path"] == "foo/bar")
    assert [c[0] for c in bar["corrupt"]] == ["foo/bar/1.1"]
    assert "Blosc header" in bar["corrupt"][0][1]
    assert bar["missing_keys"] == ["foo/bar/2.0"]
    assert report["stray_keys"] == ["foo/junk"]
    assert (report["temp_files"], report["metadata_errors"], report["consolidated"]) == ([], [], [])
    assert sum(a["missing"] for a in report["arrays"]) == 1
    text = call(capsys, "verify", str(hierarchy))[1].splitlines()
    assert text[-1] == (
        "FAILED: 2 arrays, 2 groups, 12 chunks read; 1 corrupt chunk, 1 missing chunk, 1 stray key"
    )
    assert "  corrupt  foo/bar/1.1: ValueError: stored" in "\n".join(text)


def test_copy_consolidate_and_checksums(
    hierarchy: pathlib.Path, tmp_path: pathlib.Path, capsys: Any
) -> None:
    manifest = tmp_path / "data.sha256"
    code, out, _ = call(capsys, "verify", str(hierarchy), "--write-checksums", str(manifest))
    assert code == 0, out
    dest = tmp_path / "copy.zip"
    r = run("copy", str(hierarchy), str(dest))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("all done: 19 copied, 0 skipped")
    r = run("verify", str(dest), "--check-checksums", str(manifest))
    assert r.returncode == 0, r.stdout
    # a second copy is refused before writing anything; skip and dry-run work
    code, _, err = call(capsys, "copy", str(hierarchy), str(dest))
    assert code == 2 and "exists in destination; nothing was copied" in err
    code, out, _ = call(capsys, "copy", "--if-exists", "skip", str(hierarchy), str(dest))
    assert (code, out) == (0, "all done: 0 copied, 19 skipped, 0 bytes copied\n")
    code, out, _ = call(capsys, "copy", "--dry-run", str(hierarchy), str(tmp_path / "dry.zarr"))
    assert code == 0 and "copy foo/bar/0.0" in out
    assert not (tmp_path / "dry.zarr").exists()
    # consolidate, then change an attribute behind the consolidated metadata's back
    r = run("consolidate", str(dest))
    assert (r.returncode, r.stdout) == (0, "wrote .zmetadata: 6 metadata documents\n")
    assert zarrkit.open_consolidated(str(dest), mode="r")["foo/bar"].attrs["units"] == "m"
    with zarrkit.ZipStore(str(dest), mode="a") as store:
        zarrkit.open_group(store)["foo/bar"].attrs["units"] = "km"
    code, out, _ = call(capsys, "verify", str(dest), "--check-checksums", str(manifest))
    assert code == 1
    assert "consolidated metadata  foo/bar/.zattrs: differs from its copy in .zmetadata" in out
    assert "checksum  .zmetadata: not in the manifest" in out
    assert "checksum  foo/bar/.zattrs: changed since the manifest was written" in out


def test_rechunk_command(hierarchy: pathlib.Path, tmp_path: pathlib.Path, capsys: Any) -> None:
    dest = tmp_path / "re.zarr"
    r = run("rechunk", str(hierarchy), str(dest), "--chunks", "foo/bar=-1,2", "--max-mem", "64KB")
    assert r.returncode == 0, r.stderr
    out = zarrkit.open_group(str(dest), mode="r")
    assert out["foo/bar"].chunks == (10, 2) and out.attrs["title"] == "demo"
    np.testing.assert_array_equal(out["foo/bar"][:], np.arange(100).reshape(10, 10))
    code, _, err = call(capsys, "rechunk", str(hierarchy), str(dest), "--chunks", "5,5")
    assert code == 2 and "holds data already (--overwrite replaces it)" in err
    code, _, err = call(
        capsys,
        "rechunk",
        str(hierarchy / "foo" / "bar"),
        str(tmp_path / "x"),
        "--chunks",
        "10,10",
        "--max-mem",
        "100",
    )
    assert code == 2 and "max_mem=100 bytes is too small" in err


def test_s3_url_with_storage_options(
    s3_server: Any, s3_bucket: str, tmp_path: pathlib.Path
) -> None:
    url = f"s3://{s3_bucket}/data.zarr"
    make_hierarchy(zarrkit.storage.FSStore(url, **s3_server.storage_options))
    options = [
        "-S", f"key={s3_server.key}",
        "-S", f"secret={s3_server.secret}",
        "-S", f"client_kwargs.endpoint_url={s3_server.endpoint}",
    ]  # fmt: skip
    r = run("verify", url, *options)
    assert r.returncode == 0, r.stdout
    assert "array /foo/bar (10, 10) int32 chunks (3, 4): 12 of 12 chunks ok" in r.stdout
    r = run("copy", url, str(tmp_path / "local.zarr"), *options)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(
        zarrkit.open(str(tmp_path / "local.zarr" / "foo" / "bar"), mode="r")[:],
        np.arange(100).reshape(10, 10),
    )
    # no credentials: one line naming the URL
    r = run("info", url, "-S", f"client_kwargs.endpoint_url={s3_server.endpoint}")
    one_line_error(r, url, "credentials")


def test_progress_line_only_on_a_terminal(monkeypatch: Any) -> None:
    from zarrkit.cli.progress import progress_callback

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # the line drawn without tqdm

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with progress_callback("verify", "keys", quiet=False, stream=stream) as bar:
        assert bar is not None
        bar(5, 10)
        bar(10, 10)
    assert stream.getvalue().endswith("\rverify: 10/10 keys (100%)\n")
    with progress_callback("verify", "keys", quiet=True, stream=Terminal()) as bar:
        assert bar is None
    with progress_callback("verify", "keys", quiet=False, stream=io.StringIO()) as bar:
        assert bar is None


def make_v3_hierarchy(path: pathlib.Path) -> zarrkit.Group:
    root = zarrkit.open_group(str(path), mode="w", zarr_format=3)
    a = root.create(
        "img", shape=(10, 12), chunks=(2, 3), shards=(4, 6), dtype="i4", dimension_names=("y", "x")
    )
    a[:] = np.arange(120, dtype="i4").reshape(10, 12)
    root.create_group("sub").create("b", shape=(5,), chunks=(2,), dtype="f8")[:] = 1.5
    return root


def test_commands_on_zarr_v3(tmp_path: pathlib.Path, capsys: Any) -> None:
    path = tmp_path / "v3.zarr"
    root = make_v3_hierarchy(path)
    code, out, _ = call(capsys, "info", str(path / "img"))
    assert code == 0
    assert out == repr(zarrkit.open(str(path / "img"), mode="r").info)
    for row in ("Zarr format        : 3", "Shard shape        : (4, 6)", "('y', 'x')"):
        assert row in out
    code, out, _ = call(capsys, "info", str(path))
    assert code == 0 and "Zarr format : 3" in out
    code, out, _ = call(capsys, "tree", str(path))
    assert (code, out) == (0, str(root.tree()) + "\n")
    code, out, _ = call(capsys, "ls", "-r", str(path))
    assert (code, out.splitlines()) == (
        0,
        [
            "/                        Group",
            "/img                     Array {10, 12} int32 chunks {2, 3} shards {4, 6} dims {y, x}",
            "/sub                     Group",
            "/sub/b                   Array {5} float64 chunks {2}",
        ],
    )
    code, out, _ = call(capsys, "cat", f"{path}/img[3:5, 5:8]")
    assert (code, out) == (0, "41,42,43\n53,54,55\n")

    code, out, _ = call(capsys, "verify", str(path))
    assert code == 0, out
    assert out.splitlines()[-1] == "OK: 2 arrays, 2 groups, 23 chunks read"
    assert "shards (4, 6): 6 of 6 shards ok" in out

    # copy moves the bytes of v3 data too; the copy verifies
    dest = tmp_path / "copy.zip"
    r = run("copy", str(path), str(dest))
    assert r.returncode == 0, r.stderr
    code, out, _ = call(capsys, "verify", str(dest))
    assert code == 0, out
    np.testing.assert_array_equal(zarrkit.open(f"{dest}", mode="r", path="img")[:], root["img"][:])

    # consolidate: into the group's zarr.json (no .zmetadata); not on an array; a local
    # directory path names the store itself: keys are relative to it
    code, _, err = call(capsys, "consolidate", str(path / "img"))
    assert code == 2 and "is a Zarr v3 array; consolidate takes a group" in err
    code, out, _ = call(capsys, "consolidate", str(path / "sub"))
    assert (code, out) == (0, "wrote zarr.json (consolidated_metadata): 1 metadata documents\n")
    code, out, _ = call(capsys, "consolidate", str(path))
    assert (code, out) == (0, "wrote zarr.json (consolidated_metadata): 3 metadata documents\n")
    assert not (path / ".zmetadata").exists()
    assert zarrkit.open_consolidated(str(path), mode="r")["img"].shards == (4, 6)
    code, out, _ = call(capsys, "verify", str(path))
    assert code == 0, out
    doc = json.loads((path / "sub" / "b" / "zarr.json").read_text())
    doc["attributes"]["units"] = "m"
    (path / "sub" / "b" / "zarr.json").write_text(json.dumps(doc))
    code, out, _ = call(capsys, "verify", str(path))
    assert code == 1
    assert (
        "consolidated metadata  sub/b/zarr.json: differs from its copy in the consolidated "
        "metadata of zarr.json"
    ) in out
    (path / "sub" / "b" / "zarr.json").write_text(json.dumps(doc))
    assert call(capsys, "consolidate", str(path))[0] == 0

    # damage: an inner chunk, a shard's index, a stray key
    store = zarrkit.DirectoryStore(str(path))
    from zarrkit.pipeline.sharding import ShardLayout

    z = zarrkit.open_array(store, path="img", mode="r")
    layout = ShardLayout.of(z._meta)
    shard = bytearray(store["img/c/1/1"])
    (_, offset, n), *_ = layout.inner_chunks(layout.read_index(shard, "img/c/1/1"))
    shard[offset : offset + n] = b"\x00" * n
    store["img/c/1/1"] = bytes(shard)
    index_damaged = bytearray(store["img/c/0/0"])
    index_damaged[-2] ^= 1
    store["img/c/0/0"] = bytes(index_damaged)
    store["img/c/9/9"] = b"?"
    code, out, _ = call(capsys, "verify", str(path))
    assert code == 1
    assert "  corrupt  img/c/1/1 inner chunk (0, 0) (chunk (2, 2)): " in out
    assert "  corrupt  img/c/0/0: shard index: " in out
    assert "stray key  img/c/9/9" in out
    assert out.splitlines()[-1] == (
        "FAILED: 2 arrays, 2 groups, 19 chunks read; 2 corrupt chunks, 1 stray key"
    )
    code, out, _ = call(capsys, "verify", "--json", str(path))
    (img,) = (a for a in json.loads(out)["arrays"] if a["path"] == "img")
    assert img["corrupt_inner"][0] | {"reason": ""} == {
        "key": "img/c/1/1",
        "inner": [0, 0],
        "chunk": [2, 2],
        "reason": "",
    }
