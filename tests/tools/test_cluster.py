"""The tools on a Dask cluster (``scheduler=``, ``--scheduler``): the same results as on one
machine, with a worker dying mid-run, and an interrupted run finished by a rerun.

Needs dask.distributed (the .venv environment); skipped where it is absent (.venv-zarr2).
"""

from __future__ import annotations

import io
import os
import pathlib
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import zarrkit
import zarrkit.tools.converting
from zarrkit.cli import main
from zarrkit.storage import DirectoryStore, FSStore
from zarrkit.tools.rechunking import plan_rechunk
from zarrkit.tools.verify import verify

distributed = pytest.importorskip("dask.distributed")


def _cluster() -> Any:
    """Two worker processes of one thread each, no memory management (a shared machine's
    load must not make the nannies restart workers)."""
    cluster = distributed.LocalCluster(
        processes=True, n_workers=2, threads_per_worker=1, dashboard_address=":0", memory_limit=0
    )
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.fixture(scope="module")
def client() -> Any:
    """A cluster for the module (slow to start)."""
    yield from _cluster()


@pytest.fixture
def own_client() -> Any:
    """A cluster for one test, whose workers it may kill."""
    yield from _cluster()


@pytest.fixture(params=["dir", "s3"])
def new_store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Any:
    """``new_store(name)``: an empty store every worker reaches, a folder or an S3 prefix."""
    if request.param == "dir":
        return lambda name: DirectoryStore(str(tmp_path / name))
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return lambda name: FSStore(f"s3://{bucket}/{name}", **server.storage_options)


def contents(store: Any) -> dict[str, bytes]:
    return {k: bytes(store[k]) for k in store.keys()}


def make_hierarchy(store: Any, zarr_format: int = 2) -> zarrkit.Group:
    rng = np.random.default_rng(42)
    g = zarrkit.group(store, zarr_format=zarr_format)
    g.attrs["title"] = "cluster"
    a = g.create_dataset("x/a", shape=(40, 30), chunks=(20, 2), dtype="f8")
    a[:] = rng.random((40, 30))
    a.attrs["units"] = "m"
    b = g.create_dataset("b", shape=(50,), chunks=(8,), dtype="i4", fill_value=0)
    b[:20] = np.arange(20)  # the last chunks stay missing
    return g


# -- copy ------------------------------------------------------------------------------------


def test_copy_store_same_as_local(client: Any, new_store: Any) -> None:
    src = make_hierarchy(new_store("src"))
    local, remote = new_store("local"), new_store("remote")
    seen: list[tuple[int, int]] = []
    n_local = zarrkit.copy_store(src.store, local)
    n_remote = zarrkit.copy_store(
        src.store, remote, scheduler=client, progress=lambda d, t: seen.append((d, t))
    )
    assert n_remote == n_local
    assert contents(remote) == contents(local) == contents(src.store)
    assert seen and seen[-1] == (len(contents(local)), len(contents(local)))


def test_copy_and_copy_all_same_as_local(client: Any, new_store: Any) -> None:
    src = make_hierarchy(new_store("src"))
    local = zarrkit.group(new_store("local"))
    remote = zarrkit.group(new_store("remote"))
    logged: list[str] = []
    assert zarrkit.copy_all(src, remote, scheduler=client, log=logged.append) == zarrkit.copy_all(
        src, local
    )
    assert contents(remote.store) == contents(local.store)
    assert logged[-1].startswith("all done: 3 copied")
    # one array into a v3 group, rechunked on the way, by address
    local3 = zarrkit.group(new_store("local3"), zarr_format=3)
    remote3 = zarrkit.group(new_store("remote3"), zarr_format=3)
    zarrkit.copy(src["x/a"], local3, chunks=(10, 10))
    zarrkit.copy(src["x/a"], remote3, chunks=(10, 10), scheduler=client.scheduler.address)
    assert contents(remote3.store) == contents(local3.store)
    assert remote3["a"].attrs["units"] == "m"


def test_stores_in_memory_are_refused(client: Any, tmp_path: pathlib.Path) -> None:
    src = make_hierarchy(DirectoryStore(str(tmp_path / "src")))
    for dest in (zarrkit.MemoryStore(), {}, FSStore("memory://cluster-test.zarr")):
        with pytest.raises(ValueError, match="workers of a Dask cluster cannot reach it"):
            zarrkit.copy_store(src.store, dest, scheduler=client)
        assert list(dest.keys()) == []
    with pytest.raises(ValueError, match="workers of a Dask cluster cannot reach it"):
        verify(make_hierarchy(zarrkit.MemoryStore()).store, scheduler=client)


def test_no_dask_import_with_zarrkit() -> None:
    code = (
        "import sys, zarrkit, zarrkit.tools.cluster, zarrkit.tools.converting, "
        "zarrkit.tools.verify, zarrkit.cli.main; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- verify ----------------------------------------------------------------------------------


def test_verify_same_report_and_finds_corruption(client: Any, new_store: Any) -> None:
    store = new_store("data")
    g = make_hierarchy(store)
    report = verify(store, scheduler=client)
    assert report.ok and report.to_dict() == verify(store).to_dict()
    store["x/a/1.2"] = b"\x02\x01\x21\x08garbage-not-blosc"
    store["x/a/0.7"] = bytes(store["x/a/0.7"])[:-4]  # truncated
    store["stray"] = b"?"
    manifest_local, manifest_remote = io.StringIO(), io.StringIO()
    local = verify(store, write_checksums=manifest_local)
    remote = verify(store, scheduler=client, write_checksums=manifest_remote)
    assert not remote.ok
    assert [k for k, _ in remote.arrays[1].corrupt] == ["x/a/0.7", "x/a/1.2"]
    assert remote.to_dict() == local.to_dict()
    assert remote.lines() == local.lines()
    assert manifest_remote.getvalue() == manifest_local.getvalue()
    assert g["b"].nchunks == remote.arrays[0].nchunks


def test_verify_sharded_v3_same_report(client: Any, tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(str(tmp_path / "v3"))
    z = zarrkit.create(
        (32, 32), chunks=(4, 4), shards=(16, 16), dtype="u2", store=store, zarr_format=3
    )
    z[:] = np.arange(32 * 32, dtype="u2").reshape(32, 32)
    store["c/1/0"] = bytes(store["c/1/0"])[:-10]  # its index cut short
    local, remote = verify(store), verify(store, scheduler=client)
    assert remote.to_dict() == local.to_dict()
    assert remote.n_corrupt == local.n_corrupt >= 1


# -- rechunk and convert -------------------------------------------------------------------


@pytest.mark.parametrize("max_mem", [2**20, 3000], ids=["direct", "intermediate"])
def test_rechunk_same_as_local(client: Any, new_store: Any, max_mem: int) -> None:
    src = make_hierarchy(new_store("src"))
    plan = plan_rechunk((40, 30), (20, 2), (2, 15), 8, max_mem)
    assert (plan.intermediate is None) == (max_mem == 2**20)
    chunks = {"x/a": (2, 15), "b": (25,)}
    blocks: list[int] = []
    zarrkit.rechunk(src, new_store("local"), chunks, max_mem=max_mem)
    remote = new_store("remote")
    zarrkit.rechunk(
        src,
        remote,
        chunks,
        max_mem=max_mem,
        scheduler=client,
        progress=lambda d, t: blocks.append(t),
    )
    assert contents(remote) == contents(new_store("local"))  # no intermediate keys left
    assert blocks and len(blocks) == blocks[-1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"zarr_format": 3},
        {"zarr_format": 3, "shards": (20, 10), "chunks": (10, 5)},
        {"zarr_format": 3, "chunks": {"x/a": (2, 15)}, "max_mem": 3000},
    ],
    ids=["bytes", "shards", "rechunk-intermediate"],
)
def test_convert_same_as_local(client: Any, new_store: Any, kwargs: dict) -> None:
    src = make_hierarchy(new_store("src"))
    local, remote = new_store("local"), new_store("remote")
    expected = zarrkit.convert(src.store, local, **kwargs)
    got = zarrkit.convert(src.store, remote, scheduler=client, **kwargs)
    assert got.lines() == expected.lines()
    assert contents(remote) == contents(local)
    # and back to v2 from the cluster's v3
    back_local, back_remote = new_store("back-local"), new_store("back-remote")
    zarrkit.convert(local, back_local, zarr_format=2)
    zarrkit.convert(remote, back_remote, zarr_format=2, scheduler=client)
    assert contents(back_remote) == contents(back_local)


def test_object_store_on_cluster(client: Any, s3_server: Any, s3_bucket: str) -> None:
    """obstore's stores travel too (pickled to their URL and options, rebuilt in the worker)."""
    pytest.importorskip("obstore")
    from zarrkit.storage import ObjectStore

    def new(name: str) -> Any:
        return ObjectStore(f"s3://{s3_bucket}/{name}", **s3_server.obstore_options)

    src = make_hierarchy(new("src"))
    assert zarrkit.copy_store(src.store, new("remote"), scheduler=client)[0] > 0
    zarrkit.copy_store(src.store, new("local"))
    assert contents(new("remote")) == contents(new("local"))
    assert verify(new("remote"), scheduler=client).to_dict() == verify(new("remote")).to_dict()
    zarrkit.rechunk(src, new("re-remote"), {"x/a": (40, 1)}, scheduler=client)
    zarrkit.rechunk(src, new("re-local"), {"x/a": (40, 1)})
    assert contents(new("re-remote")) == contents(new("re-local"))


# -- the command line --------------------------------------------------------------------


def test_cli_scheduler(client: Any, tmp_path: pathlib.Path, capsys: Any) -> None:
    src = str(tmp_path / "src.zarr")
    make_hierarchy(DirectoryStore(src))
    address = client.scheduler.address

    def both(*args: str) -> tuple[int, int]:
        out = []
        for suffix, extra in (("local", []), ("remote", ["--scheduler", address])):
            argv = [a.replace("{}", suffix) for a in args] + extra
            out.append(main(argv))
        return out[0], out[1]

    dest = str(tmp_path / "{}")
    assert both("copy", src, dest + "-copy.zarr", "-q") == (0, 0)
    assert both("rechunk", src, dest + "-re.zarr", "--chunks", "x/a=40,1", "-q") == (0, 0)
    assert both("convert", src, dest + "-v3.zarr", "--shards", "x/a=20,10", "-q") == (0, 0)
    for name in ("-copy.zarr", "-re.zarr", "-v3.zarr"):
        local = DirectoryStore(str(tmp_path / ("local" + name)))
        remote = DirectoryStore(str(tmp_path / ("remote" + name)))
        assert contents(remote) == contents(local), name
    capsys.readouterr()
    store = DirectoryStore(src)
    store["x/a/0.0"] = b"junk"
    assert main(["verify", src, "--json"]) == 1
    local_json = capsys.readouterr().out
    assert main(["verify", src, "--json", "--scheduler", address]) == 1
    assert capsys.readouterr().out == local_json


# -- failures ------------------------------------------------------------------------------


class DyingStore(DirectoryStore):
    """A folder whose first chunk write in a worker kills that worker (once: the marker
    file ``<folder>.died`` is made atomically by the one that dies)."""

    local_files = False  # every write goes through setitems / __setitem__

    def _maybe_die(self, keys: Any) -> None:
        if not any(k.rpartition("/")[2][:1].isdigit() or "/c/" in k for k in keys):
            return
        try:
            distributed.get_worker()
        except ValueError:
            return  # the driver (the test process) never dies
        try:
            fd = os.open(self.path.rstrip("/") + ".died", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(1)

    def __setitem__(self, key: str, value: Any) -> None:
        self._maybe_die([key])
        super().__setitem__(key, value)

    def setitems(self, values: Any) -> None:
        self._maybe_die(list(values))
        super().setitems(values)


class FailingStore(DirectoryStore):
    """A folder that refuses the chunks of ``x/a`` while the file ``<folder>.fail`` exists
    (an interrupted run)."""

    local_files = False

    def _check(self, keys: Any) -> None:
        if os.path.exists(self.path.rstrip("/") + ".fail") and any(
            k.startswith("x/a/") and k.rpartition("/")[2] not in (".zarray", ".zattrs", "zarr.json")
            for k in keys
        ):
            raise OSError("the disk went away (test)")

    def __setitem__(self, key: str, value: Any) -> None:
        self._check([key])
        super().__setitem__(key, value)

    def setitems(self, values: Any) -> None:
        self._check(list(values))
        super().setitems(values)


class ChangingStore(DirectoryStore):
    """A folder whose chunk ``x/a/1.1`` reads as it is the first time, then as chunk
    ``x/a/0.0`` (the marker file ``<folder>.read`` says it was read)."""

    local_files = False

    def _later(self, key: str, value: Any) -> Any:
        if key != "x/a/1.1":
            return value
        try:
            fd = os.open(self.path.rstrip("/") + ".read", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().__getitem__("x/a/0.0")
        os.close(fd)
        return value

    def __getitem__(self, key: str) -> Any:
        return self._later(key, super().__getitem__(key))

    def getitems(self, keys: Any, *, contexts: Any = None) -> dict:
        found = super().getitems(keys, contexts=contexts)
        return {k: self._later(k, v) for k, v in found.items()}


def test_convert_verification_fails_as_locally(client: Any, tmp_path: pathlib.Path) -> None:
    """The comparison runs on the cluster and names the same first differing block."""
    errors = []
    for name, kwargs in (("local", {}), ("remote", {"scheduler": client})):
        make_hierarchy(DirectoryStore(str(tmp_path / f"src-{name}")))
        src = ChangingStore(str(tmp_path / f"src-{name}"))
        dest = DirectoryStore(str(tmp_path / f"dest-{name}"))
        with pytest.raises(zarrkit.tools.converting.VerificationError) as info:
            zarrkit.convert(src, dest, **kwargs)
        errors.append(str(info.value))
        assert list(dest.keys()) == []  # nothing kept
    assert errors[0] == errors[1]
    assert "array 'x/a' differs from the source" in errors[0]


@pytest.mark.parametrize("tool", ["copy_store", "copy_all", "rechunk", "convert"])
def test_worker_killed_mid_run(own_client: Any, tmp_path: pathlib.Path, tool: str) -> None:
    src = make_hierarchy(DirectoryStore(str(tmp_path / "src")))
    local = DirectoryStore(str(tmp_path / "local"))
    dying = DyingStore(str(tmp_path / "dying"))
    run = {
        "copy_store": lambda dst, **kw: zarrkit.copy_store(src.store, dst, **kw),
        "copy_all": lambda dst, **kw: zarrkit.copy_all(src, zarrkit.group(dst), **kw),
        "rechunk": lambda dst, **kw: zarrkit.rechunk(src, dst, {"x/a": (40, 1)}, 20_000, **kw),
        "convert": lambda dst, **kw: zarrkit.convert(src.store, dst, shards=(20, 10), **kw),
    }[tool]
    run(local)
    run(dying, scheduler=own_client)
    assert os.path.exists(str(tmp_path / "dying.died"))  # a worker did die
    assert contents(DirectoryStore(str(tmp_path / "dying"))) == contents(local)


@pytest.mark.parametrize("tool", ["copy_store", "copy_all", "rechunk", "convert"])
def test_interrupted_run_then_rerun(client: Any, tmp_path: pathlib.Path, tool: str) -> None:
    src = make_hierarchy(DirectoryStore(str(tmp_path / "src")))
    local = DirectoryStore(str(tmp_path / "local"))
    failing = FailingStore(str(tmp_path / "dest"))
    first, rerun = {
        "copy_store": ({}, {"if_exists": "skip"}),
        "copy_all": ({}, {"if_exists": "replace"}),
        "rechunk": ({}, {"overwrite": True}),
        "convert": ({}, {"overwrite": True}),
    }[tool]
    run = {
        "copy_store": lambda dst, **kw: zarrkit.copy_store(src.store, dst, **kw),
        "copy_all": lambda dst, **kw: zarrkit.copy_all(src, zarrkit.open_group(dst), **kw),
        "rechunk": lambda dst, **kw: zarrkit.rechunk(src, dst, {"x/a": (40, 1)}, **kw),
        "convert": lambda dst, **kw: zarrkit.convert(src.store, dst, chunks=(10, 10), **kw),
    }[tool]
    run(local)
    (tmp_path / "dest.fail").touch()
    with pytest.raises(OSError, match="the disk went away"):
        run(failing, scheduler=client, **first)
    (tmp_path / "dest.fail").unlink()
    if tool == "convert":
        # convert cleans up after a failure; a driver killed mid-run leaves chunks and no
        # documents: what the rerun with overwrite=True must cope with
        assert contents(failing) == {}
        for k, v in contents(local).items():
            if "/c/" in k and k.endswith("0"):
                failing[k] = b"stale " + v
    assert contents(failing) != contents(local)
    run(failing, scheduler=client, **rerun)
    assert contents(failing) == contents(local)
