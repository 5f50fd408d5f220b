"""zarrkit.testing's store conformance suite, run against every store zarrkit ships.

To add a store, append a :class:`StoreCase` to ``STORE_CASES``: ``create(path, **fixtures)``
returns a new, empty, writable store (``path`` is a fresh empty folder; ``fixtures`` names
pytest fixtures, e.g. a session-scoped server, passed as keyword arguments). Optional:
``read_only(path, items, **fixtures)`` for a read-only store holding ``items``, ``failing``
to make a chunk read fail inside the store itself, ``persistent`` when an unpickled copy
sees the original's writes.
"""

from __future__ import annotations

import dbm
import dbm.dumb
import os
import pathlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

import servers
import zarrkit
from zarrkit.n5 import N5FSStore, N5Store
from zarrkit.storage import (
    ABSStore,
    ConsolidatedMetadataStore,
    DBMStore,
    DirectoryStore,
    FSStore,
    KVStore,
    LMDBStore,
    LRUStoreCache,
    MemoryStore,
    MongoDBStore,
    NestedDirectoryStore,
    RedisStore,
    SQLiteStore,
    Store,
    TempStore,
    ZipStore,
)
from zarrkit.testing import StoreConformance, check_store


@dataclass
class StoreCase:
    id: str
    create: Callable[..., Store]
    read_only: Callable[..., Store | None] | None = None
    failing: Callable[[Store, str], Store] | None = None
    persistent: bool = False
    writable: bool = True
    fixtures: tuple[str, ...] = ()


def _flagged_read_only(store: Store, items: Mapping[str, bytes]) -> Store:
    """``store`` holding ``items``, then read-only through the protocol's flag."""
    store.setitems(items)
    store._read_only = True
    return store


def _broken_file(store: Store, key: str) -> Store:
    """The file of ``key`` replaced by a symbolic link to itself: reading it is an OSError
    (too many levels of links) that is not "not found"."""
    file = os.path.join(store.path, *key.split("/"))  # type: ignore[attr-defined]
    os.remove(file)
    os.symlink(file, file)
    return store


def _zip(path: pathlib.Path, atomic: bool) -> ZipStore:
    return ZipStore(str(path / "data.zip"), mode="w", atomic=atomic)


def _zip_read_only(path: pathlib.Path, items: Mapping[str, bytes]) -> ZipStore:
    with ZipStore(str(path / "ro.zip"), mode="w") as w:
        w.setitems(items)
    return ZipStore(str(path / "ro.zip"), mode="r")


def _lmdb_read_only(path: pathlib.Path, items: Mapping[str, bytes]) -> LMDBStore:
    w = LMDBStore(str(path / "ro.lmdb"), map_size=2**24)
    w.setitems(items)
    w.close()
    return LMDBStore(str(path / "ro.lmdb"), readonly=True, map_size=2**24)


def _dbm(open: Callable) -> Callable[[pathlib.Path], DBMStore]:  # noqa: A002 - dbm's name
    return lambda path: DBMStore(str(path / "db"), flag="n", open=open)


def _dbm_read_only(path: pathlib.Path, items: Mapping[str, bytes]) -> DBMStore:
    with DBMStore(str(path / "ro"), flag="n", open=dbm.dumb.open) as w:
        w.setitems(items)
    return DBMStore(str(path / "ro"), flag="r", open=dbm.dumb.open)


def _consolidated(path: pathlib.Path, items: Mapping[str, bytes]) -> Store:
    inner = MemoryStore()
    inner.setitems(items)
    zarrkit.consolidate_metadata(inner)
    return ConsolidatedMetadataStore(inner)


def _memory_url(path: pathlib.Path) -> FSStore:
    return FSStore(f"memory://conformance-{uuid.uuid4().hex}")


def _fs_read_only(path: pathlib.Path, items: Mapping[str, bytes]) -> FSStore:
    FSStore(f"file://{path}/ro").setitems(items)
    return FSStore(f"file://{path}/ro", mode="r")


# -- stores on servers: each store in its own namespace (prefix, collection, folder) -----------
def _name(path: pathlib.Path) -> str:
    return f"c{uuid.uuid4().hex[:12]}"


def _redis(path: pathlib.Path, redis_server: Any) -> Store:
    pytest.importorskip("redis")
    return RedisStore(prefix=_name(path), host=servers.HOST, port=redis_server.port)


def _mongodb(path: pathlib.Path, mongodb_emulator: Any) -> Store:
    pytest.importorskip("pymongo")
    return MongoDBStore(database="zarrkit", collection=_name(path), host=mongodb_emulator.url)


def _abs(path: pathlib.Path, azurite_server: Any) -> Store:
    blob = pytest.importorskip("azure.storage.blob")
    from azure.core.exceptions import ResourceExistsError

    service = blob.BlobServiceClient.from_connection_string(azurite_server.azure_connection_string)
    try:
        client = service.create_container("conformance")
    except ResourceExistsError:
        client = service.get_container_client("conformance")
    return ABSStore(client=client, prefix=_name(path))


def _s3fs(path: pathlib.Path, s3_server: Any, s3_bucket: str) -> Store:
    return FSStore(f"s3://{s3_bucket}/{_name(path)}", **s3_server.storage_options)


def _s3fs_read_only(
    path: pathlib.Path, items: Mapping[str, bytes], s3_server: Any, s3_bucket: str
) -> Store:
    url = f"s3://{s3_bucket}/{_name(path)}"
    FSStore(url, **s3_server.storage_options).setitems(items)
    return FSStore(url, mode="r", **s3_server.storage_options)


def _obstore(path: pathlib.Path, s3_server: Any, s3_bucket: str) -> Store:
    pytest.importorskip("obstore")
    from zarrkit.storage.obstore import ObjectStore

    return ObjectStore(f"s3://{s3_bucket}/{_name(path)}", **s3_server.obstore_options)


def _obstore_read_only(
    path: pathlib.Path, items: Mapping[str, bytes], s3_server: Any, s3_bucket: str
) -> Store:
    pytest.importorskip("obstore")
    from zarrkit.storage.obstore import ObjectStore

    url = f"s3://{s3_bucket}/{_name(path)}"
    ObjectStore(url, **s3_server.obstore_options).setitems(items)
    return ObjectStore(url, mode="r", **s3_server.obstore_options)


STORE_CASES: list[StoreCase] = [
    StoreCase(
        "MemoryStore",
        lambda path: MemoryStore(),
        read_only=lambda path, items: _flagged_read_only(MemoryStore(), items),
    ),
    StoreCase("KVStore-dict", lambda path: KVStore(dict())),
    StoreCase(
        "DirectoryStore",
        lambda path: DirectoryStore(str(path)),
        read_only=lambda path, items: _flagged_read_only(DirectoryStore(str(path / "ro")), items),
        failing=_broken_file,
        persistent=True,
    ),
    StoreCase(
        "NestedDirectoryStore",
        lambda path: NestedDirectoryStore(str(path)),
        failing=_broken_file,
        persistent=True,
    ),
    StoreCase("TempStore", lambda path: TempStore(dir=str(path)), persistent=True),
    StoreCase("ZipStore", lambda path: _zip(path, atomic=True), read_only=_zip_read_only),
    StoreCase("ZipStore-in-place", lambda path: _zip(path, atomic=False)),
    StoreCase("SQLiteStore", lambda path: SQLiteStore(str(path / "db.sqlite")), persistent=True),
    StoreCase(
        "LMDBStore",
        lambda path: LMDBStore(str(path / "db.lmdb"), map_size=2**24),
        read_only=_lmdb_read_only,
        persistent=True,
    ),
    StoreCase("DBMStore-dumb", _dbm(dbm.dumb.open), read_only=_dbm_read_only, persistent=True),
    StoreCase("DBMStore-default", _dbm(dbm.open), persistent=True),
    StoreCase(
        "LRUStoreCache",
        lambda path: LRUStoreCache(MemoryStore(), max_size=2**20),
        read_only=lambda path, items: LRUStoreCache(_zip_read_only(path, items), max_size=None),
    ),
    StoreCase(
        "LRUStoreCache-directory",
        lambda path: LRUStoreCache(DirectoryStore(str(path)), max_size=2**10),
        persistent=True,
    ),
    StoreCase(
        "ConsolidatedMetadataStore",
        lambda path: MemoryStore(),  # unused: not writable
        read_only=_consolidated,
        writable=False,
    ),
    StoreCase("N5Store", lambda path: N5Store(str(path / "data.n5")), persistent=True),
    StoreCase("N5FSStore", lambda path: N5FSStore(f"file://{path}/data.n5"), persistent=True),
    StoreCase(
        "FSStore-file",
        lambda path: FSStore(f"file://{path}"),
        read_only=_fs_read_only,
        persistent=True,
    ),
    StoreCase("FSStore-memory", _memory_url, persistent=True),
    StoreCase("RedisStore", _redis, persistent=True, fixtures=("redis_server",)),
    StoreCase("MongoDBStore-emulator", _mongodb, persistent=True, fixtures=("mongodb_emulator",)),
    StoreCase("ABSStore-azurite", _abs, persistent=True, fixtures=("azurite_server",)),
    StoreCase(
        "FSStore-s3fs",
        _s3fs,
        read_only=_s3fs_read_only,
        persistent=True,
        fixtures=("s3_server", "s3_bucket"),
    ),
    StoreCase(
        "ObjectStore-s3",
        _obstore,
        read_only=_obstore_read_only,
        persistent=True,
        fixtures=("s3_server", "s3_bucket"),
    ),
]


@pytest.fixture(params=STORE_CASES, ids=lambda case: case.id)
def store_case(request: pytest.FixtureRequest) -> StoreCase:
    return request.param


class TestEveryStore(StoreConformance):
    """The suite, once per entry of ``STORE_CASES``."""

    @pytest.fixture(autouse=True)
    def _bind(
        self, store_case: StoreCase, tmp_path: pathlib.Path, request: pytest.FixtureRequest
    ) -> Iterator[None]:
        self.case = store_case
        self.writable = store_case.writable
        self.persistent = store_case.persistent
        self.tmp_path = tmp_path
        self.fixtures = {name: request.getfixturevalue(name) for name in store_case.fixtures}
        self.made: list[Store] = []
        self.count = 0
        yield
        for store in self.made:
            try:
                store.close()
            except Exception:  # noqa: BLE001, S110 - a test may have closed or broken it
                pass

    def _folder(self) -> pathlib.Path:
        self.count += 1
        folder = self.tmp_path / f"s{self.count}"
        folder.mkdir()
        return folder

    def create_store(self) -> Store:
        store = self.case.create(self._folder(), **self.fixtures)
        self.made.append(store)
        return store

    def create_read_only_store(self, items: Mapping[str, bytes]) -> Store | None:
        if self.case.read_only is None:
            return None
        store = self.case.read_only(self._folder(), items, **self.fixtures)
        if store is not None:
            self.made.append(store)
        return store

    def make_failing(self, store: Store, key: str) -> Store:
        if self.case.failing is None:
            return super().make_failing(store, key)
        return self.case.failing(store, key)


# -- the suite itself -----------------------------------------------------------------------------


def test_check_store_reports_a_broken_store() -> None:
    """A store that reads an I/O error as missing fails the suite, by name."""

    class Swallowing(MemoryStore):
        def getitems(self, keys: Any, *, contexts: Any = None) -> dict:
            return {}  # every key 'missing': an error would read as fill values

    report = check_store(Swallowing, only=["test_array_round_trip", "test_listdir"])
    assert [name for name, _ in report.failed] == ["test_array_round_trip"]
    assert report.passed == ["test_listdir"]
    with pytest.raises(AssertionError, match="test_array_round_trip"):
        report.raise_on_failure()


def test_check_store_passes_a_user_store_and_skips_what_it_lacks() -> None:
    report = check_store(lambda: KVStore(dict()))
    assert report.failed == []
    assert "test_read_only_reads" in report.skipped
    assert "test_pickle" in report.passed


class Unlisted(MemoryStore):
    """A store that declares it cannot list its keys, and cannot."""

    listable = False

    def _refuse(self, *args: Any) -> Any:
        raise TypeError("this store cannot list its keys")

    __iter__ = keys = __len__ = listdir = _refuse


class Unerasable(MemoryStore):
    """A store that declares it cannot delete keys, and cannot."""

    erasable = False

    def _refuse(self, *args: Any) -> Any:
        raise TypeError("this store cannot delete keys")

    __delitem__ = delitems = rmdir = rename = clear = _refuse


@pytest.mark.parametrize(
    "factory, needs",
    [
        (Unlisted, "the store does not list its keys"),
        (Unerasable, "the store cannot delete keys"),
    ],
    ids=["unlisted", "unerasable"],
)
def test_check_store_skips_what_a_store_does_not_declare(factory: type, needs: str) -> None:
    """A check that needs a capability the store does not declare is skipped, not failed."""
    report = check_store(factory, lambda items: _flagged_read_only(factory(), items))
    assert report.failed == []
    assert {"test_get_set_del_contains", "test_read_only_refuses_writes"} <= set(report.passed)
    assert "test_rmdir" in report.skipped and "test_clear" in report.skipped
    assert needs in report.skipped["test_rmdir"]
