"""Shared fixtures for the zarrkit test suite."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

import zarrkit.storage
from zarrkit.pipeline import native as _native_module
from zarrkit.storage import DirectoryStore, KVStore, MemoryStore, NestedDirectoryStore

STORE_KINDS = ["memory", "kv", "directory", "nested"]

# run by scripts and by test_tutorial_spec.py, not collected: the conformance kit
# (scripts/conformance.sh) and the tutorial spec (its tutorial.rst is no doctest of ours)
collect_ignore_glob = ["conformance/*", "spec/*"]


# -- environment markers, defined once ------------------------------------------------------
# scripts/test.sh runs the suite in a zarr 2 and a zarr 3 environment; a test marked
# ``needs_zarr2``/``needs_zarr3`` runs in one of them and is deselected in the other (see
# ``pytest_collection_modifyitems``). Tests import these: ``from conftest import needs_zarr2``.
try:
    import zarr as _zarr_python
except ImportError:  # pragma: no cover - both environments of scripts/test.sh have zarr-python
    _zarr_python = None

ZARR2 = _zarr_python is not None and _zarr_python.__version__.startswith("2.")
"""The installed zarr-python is 2.x (the reference for byte-identical metadata)."""
needs_zarr2 = pytest.mark.skipif(not ZARR2, reason="checked in the zarr 2 environment run")
needs_zarr3 = pytest.mark.skipif(ZARR2, reason="checked in the zarr 3 environment run")
NATIVE_BUILT = _native_module._native is not None
"""The C extension (setup.py build_ext) is built and importable."""
needs_native = pytest.mark.skipif(not NATIVE_BUILT, reason="the extension is not built here")
posix_only = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX only (fork, signals, FIFOs, /dev/zero)"
)


def make_store(kind: str, tmp_path: Any) -> Any:
    """A fresh, empty store of ``kind`` (directory kinds live below ``tmp_path``)."""
    if kind == "memory":
        return MemoryStore()
    if kind == "kv":
        return KVStore(dict())
    if kind == "directory":
        return DirectoryStore(str(tmp_path / "store.zarr"))
    if kind == "nested":
        return NestedDirectoryStore(str(tmp_path / "nested.zarr"))
    raise ValueError(kind)


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """The name of each store kind in turn."""
    return request.param


@pytest.fixture
def new_store(store_kind: str, tmp_path: Any) -> Callable[[], Any]:
    """A factory of fresh stores of the current kind (each call gives a new one)."""
    counter = iter(range(10**6))

    def factory() -> Any:
        sub = tmp_path / f"s{next(counter)}"
        sub.mkdir()
        return make_store(store_kind, sub)

    return factory


@pytest.fixture(autouse=True)
def _restore_default_compressor() -> Any:
    """Tests may replace ``zarrkit.storage.default_compressor``; put it back afterwards."""
    saved = zarrkit.storage.default_compressor
    yield
    zarrkit.storage.default_compressor = saved


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that belong to the other environment's run are deselected, not skipped.

    scripts/test.sh runs the whole suite twice (zarr-python 2.x + numcodecs 0.15, and
    zarr-python 3.x + the newest numcodecs); a test marked
    ``skipif(..., reason="checked in the zarr N environment run")`` runs in exactly one of them.
    """
    keep, other_env = [], []
    for item in items:
        marks = [
            m
            for m in item.iter_markers("skipif")
            if "environment run" in str(m.kwargs.get("reason", "")) and m.args and m.args[0] is True
        ]
        (other_env if marks else keep).append(item)
    if other_env:
        config.hook.pytest_deselected(items=other_env)
        items[:] = keep


# -- servers (kv) ---------------------------------------------------------------------------
# Redis, Azurite and the nx-27017 MongoDB emulator, started once per session on free ports
# of 127.0.0.1 (tests/servers.py; scripts/install_servers.sh installs them). Missing servers
# skip their tests, unless ZARRKIT_REQUIRE_SERVERS is set (scripts/test.sh sets it): then
# they fail. ZARRKIT_TEST_MONGODB_URL adds a real MongoDB server to the emulator.
# ZARRKIT_NO_SERVERS (scripts/quick.sh) skips every test that needs a server, S3 included.
import os  # noqa: E402

import servers  # noqa: E402


def skip_without_servers() -> None:
    """Skip the test if this run starts no servers (ZARRKIT_NO_SERVERS: scripts/quick.sh)."""
    if os.environ.get("ZARRKIT_NO_SERVERS"):
        pytest.skip("no test servers in this run (ZARRKIT_NO_SERVERS is set)")


def _start_server(name: str) -> Any:
    skip_without_servers()
    try:
        return servers.start(name)
    except servers.ServerUnavailable as e:
        if os.environ.get("ZARRKIT_REQUIRE_SERVERS"):
            pytest.fail(str(e), pytrace=False)
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def redis_server() -> Any:
    """A Redis server (``servers.Server``: ``port``, ``url``)."""
    server = _start_server("redis")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite_server() -> Any:
    """An Azurite (Azure Blob Storage emulator) server; ``azure_connection_string``."""
    server = _start_server("azurite")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongodb_emulator() -> Any:
    """The nx-27017 MongoDB wire-protocol emulator (not a MongoDB server)."""
    server = _start_server("mongodb")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongodb_server_url() -> str:
    """A real MongoDB server's URL from ZARRKIT_TEST_MONGODB_URL (skips when unset)."""
    url = os.environ.get("ZARRKIT_TEST_MONGODB_URL")
    if not url:
        pytest.skip("no real MongoDB server here (set ZARRKIT_TEST_MONGODB_URL to test one)")
    return url


# -- S3 server (s3) --------------------------------------------------------------------------
# One moto server in server mode for the session, on 127.0.0.1 and a free port; clients reach
# it over HTTP like a real S3 (s3fs through fsspec, obstore through its Rust client).


class S3Server:
    """Where the test S3 server listens, and how clients reach it."""

    key = "zarrkit-test-key"
    secret = "zarrkit-test-secret"
    region = "us-east-1"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._buckets = iter(range(10**6))

    @property
    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options; no listings cache, so other clients' writes show at once."""
        return {
            "key": self.key,
            "secret": self.secret,
            "client_kwargs": {"endpoint_url": self.endpoint},
            "use_listings_cache": False,
        }

    @property
    def obstore_options(self) -> dict[str, Any]:
        """obstore ``S3Store``/``from_url`` options."""
        return {
            "endpoint": self.endpoint,
            "access_key_id": self.key,
            "secret_access_key": self.secret,
            "region": self.region,
            "client_options": {"allow_http": True},
        }

    def filesystem(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(**self.storage_options)

    def new_bucket(self) -> str:
        """A new, empty bucket's name."""
        name = f"zarrkit-{next(self._buckets)}"
        self.filesystem().mkdir(name)
        return name


@pytest.fixture(scope="session")
def s3_server() -> Any:
    """A moto S3 server (in-process, threaded) for the whole session."""
    import logging
    import os

    skip_without_servers()
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    saved = {k: os.environ.get(k) for k in ("AWS_DEFAULT_REGION", "BOTO_CONFIG")}
    # the region goes through the environment: s3fs's region_name breaks CreateBucket on moto
    os.environ["AWS_DEFAULT_REGION"] = S3Server.region
    os.environ["BOTO_CONFIG"] = os.devnull  # never a user's own boto configuration
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket on the session's S3 server."""
    return s3_server.new_bucket()
