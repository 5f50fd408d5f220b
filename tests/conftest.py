"""Shared fixtures for the zarrkit test suite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import zarrkit.storage
from zarrkit.storage import DirectoryStore, KVStore, MemoryStore, NestedDirectoryStore

STORE_KINDS = ["memory", "kv", "directory", "nested"]


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
import os  # noqa: E402

import servers  # noqa: E402


def _start_server(name: str) -> Any:
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
