"""A store in a MongoDB collection (optional dependency: ``pip install 'zarrkit[mongodb]'``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ._client import ClientStore, batches, client_error, import_client
from .base import as_bytes, normalize_storage_path, prefix_of

# keys per find/delete with $in and documents per bulk write
_KEYS_PER_CALL = 500
_KEY, _VALUE = "key", "value"


class MongoDBStore(ClientStore):
    """Keys and values as documents ``{'key': k, 'value': v}`` of a
    `MongoDB <https://www.mongodb.com>`_ collection, as zarr 2 keeps them.

    Parameters
    ----------
    database : str
        Name of the database (default ``'mongodb_zarr'``).
    collection : str
        Name of the collection (default ``'zarr_collection'``).
    dimension_separator : {'.', '/'}, optional
        Separator placed between the dimensions of a chunk.
    **kwargs
        Passed to ``pymongo.MongoClient`` (``host``, ``port``, ...).

    The store pickles to these arguments and connects lazily, in each process that uses it.
    A value is written with ``update_one(..., {'$set': ...}, upsert=True)``; batched reads are
    one ``find`` with ``$in``, batched writes one unordered ``bulk_write``, batched deletes
    one ``delete_many``. A value is limited to MongoDB's document size (16 MiB). A missing
    key reads as missing; any other error raises, naming the store and the key.
    """

    def __init__(
        self,
        database: str = "mongodb_zarr",
        collection: str = "zarr_collection",
        dimension_separator: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._pymongo = import_client("pymongo", "MongoDBStore", "mongodb")
        super().__init__(
            dict(
                database=database,
                collection=collection,
                dimension_separator=dimension_separator,
                **kwargs,
            )
        )
        self._database = database
        self._collection = collection
        self._kwargs = kwargs
        self._dimension_separator = dimension_separator
        self._indexed = False

    def _connect(self) -> Any:
        self._indexed = False
        return self._pymongo.MongoClient(**self._kwargs)

    def _disconnect(self, client: Any) -> None:
        client.close()

    @property
    def db(self) -> Any:
        """The database (a pymongo ``Database``)."""
        return self.client.get_database(self._database)

    @property
    def collection(self) -> Any:
        """The collection (a pymongo ``Collection``)."""
        return self.db.get_collection(self._collection)

    def _call(self, doing: str, key: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(collection, *args)``; an error of the client names the store and ``key``."""
        try:
            return fn(self.collection, *args)
        except self._pymongo.errors.PyMongoError as e:
            raise client_error(self, doing, key, e) from e

    def _writable_collection(self, key: str) -> Any:
        """The collection, with an index on ``key`` made once per connection (reads by key
        would otherwise scan the whole collection)."""
        self._check_writable()
        if not self._indexed:
            try:
                self.collection.create_index([(_KEY, 1)])
            except self._pymongo.errors.OperationFailure:
                pass  # not allowed to make indexes: reads stay correct, only slower
            except self._pymongo.errors.PyMongoError as e:
                raise client_error(self, "writing", key, e) from e
            self._indexed = True
        return self.collection

    # -- single keys ---------------------------------------------------------------------
    def __getitem__(self, key: str) -> bytes:
        doc = self._call("reading", key, lambda c: c.find_one({_KEY: key}, {_VALUE: 1}))
        if doc is None:
            raise KeyError(key)
        return self._value(doc, key)

    def _value(self, doc: Mapping[str, Any], key: str) -> bytes:
        """The value of a document; one without a binary value is an error, not a missing key."""
        value = doc.get(_VALUE)
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise ValueError(
                f"reading {key!r} in {self!r} failed: its document has no binary {_VALUE!r}"
            )
        return bytes(value)

    def __setitem__(self, key: str, value: Any) -> None:
        self.setitems({key: value})

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        if not self._call("deleting", key, lambda c: c.delete_many({_KEY: key})).deleted_count:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        doc = self._call("reading", key, lambda c: c.find_one({_KEY: key}, {_KEY: 1}))
        return doc is not None

    # -- batches -------------------------------------------------------------------------
    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for batch in batches(keys, _KEYS_PER_CALL):
            query = {_KEY: {"$in": batch}}
            docs = self._call("reading", batch[0], lambda c, q: list(c.find(q)), query)
            out.update((d[_KEY], self._value(d, d[_KEY])) for d in docs)
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        if not values:
            return
        update = self._pymongo.UpdateOne
        self._writable_collection(next(iter(values)))
        for batch in batches(values.items(), _KEYS_PER_CALL):
            ops = [
                update({_KEY: k}, {"$set": {_VALUE: as_bytes(v)}}, upsert=True) for k, v in batch
            ]
            self._call("writing", batch[0][0], lambda c, o: c.bulk_write(o, ordered=False), ops)

    def delitems(self, keys: Iterable[str]) -> None:
        self._check_writable()
        for batch in batches(keys, _KEYS_PER_CALL):
            query = {_KEY: {"$in": batch}}
            self._call("deleting", batch[0], lambda c, q: c.delete_many(q), query)

    # -- listing -------------------------------------------------------------------------
    def _query_under(self, path: str) -> dict:
        prefix = prefix_of(normalize_storage_path(path))
        return {_KEY: {"$regex": "^" + re.escape(prefix)}} if prefix else {}

    def _names(self, path: str = "") -> list[str]:
        query = self._query_under(path)
        return self._call(
            "listing", path, lambda c: [d[_KEY] for d in c.find(query, {_KEY: 1, "_id": 0})]
        )

    def keys(self) -> Any:
        return self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return self._call("listing", "", lambda c: c.count_documents({}))

    def rmdir(self, path: str = "") -> None:
        self._check_writable()
        query = self._query_under(path)
        self._call("deleting", path, lambda c: c.delete_many(query))

    def clear(self) -> None:
        """Delete every document of the collection."""
        self.rmdir("")

    def __repr__(self) -> str:
        host = self._kwargs.get("host")
        if isinstance(host, str) and "@" in host:  # never show credentials of a URI
            scheme, _, rest = host.partition("://")
            host = f"{scheme}://...@{rest.rsplit('@', 1)[1]}"
        where = f", host={host!r}" if host is not None else ""
        return (
            f"{type(self).__name__}(database={self._database!r}, "
            f"collection={self._collection!r}{where})"
        )
