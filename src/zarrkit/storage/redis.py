"""A store in a Redis server (optional dependency: ``pip install 'zarrkit[redis]'``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ._client import ClientStore, batches, client_error, import_client
from .base import as_bytes, normalize_storage_path, prefix_of

# keys per MGET/DEL, and bytes per MSET: large batches in few round trips, bounded requests
_KEYS_PER_CALL = 1000
_BYTES_PER_CALL = 64 * 2**20


def _glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis ``SCAN MATCH`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisStore(ClientStore):
    """Keys and values in a `Redis <https://redis.io>`_ server, as zarr 2 keeps them: the
    value of key ``k`` is the Redis string ``'{prefix}:{k}'``.

    Parameters
    ----------
    prefix : str
        Prefix of the Redis keys (default ``'zarr'``); several stores share a server by
        using different prefixes.
    dimension_separator : {'.', '/'}, optional
        Separator placed between the dimensions of a chunk.
    **kwargs
        Passed to ``redis.Redis`` (``host``, ``port``, ``db``, ``password``, ...).

    The store pickles to these arguments and connects lazily, in each process that uses it.
    Batched reads are ``MGET``, batched writes ``MSET``, batched deletes one ``DEL``; listing
    uses ``SCAN`` (never ``KEYS``, which blocks the server). A missing key reads as missing;
    any other Redis error raises, naming the store and the key.
    """

    def __init__(
        self, prefix: str = "zarr", dimension_separator: str | None = None, **kwargs: Any
    ) -> None:
        self._redis = import_client("redis", "RedisStore", "redis")
        if kwargs.get("decode_responses"):
            raise ValueError("RedisStore needs binary values: do not pass decode_responses=True")
        super().__init__(dict(prefix=prefix, dimension_separator=dimension_separator, **kwargs))
        self._prefix = prefix
        self._kwargs = kwargs
        self._dimension_separator = dimension_separator

    def _connect(self) -> Any:
        return self._redis.Redis(**self._kwargs)

    def _disconnect(self, client: Any) -> None:
        client.close()

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    def _call(self, doing: str, key: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(client, *args)``; an error of the client names the store and ``key``."""
        try:
            return fn(self.client, *args)
        except self._redis.RedisError as e:
            raise client_error(self, doing, key, e) from e

    # -- single keys ---------------------------------------------------------------------
    def __getitem__(self, key: str) -> bytes:
        value = self._call("reading", key, lambda c: c.get(self._key(key)))
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_writable()
        data = as_bytes(value)
        self._call("writing", key, lambda c: c.set(self._key(key), data))

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        if not self._call("deleting", key, lambda c: c.delete(self._key(key))):
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return bool(self._call("reading", key, lambda c: c.exists(self._key(key))))

    # -- batches -------------------------------------------------------------------------
    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for batch in batches(keys, _KEYS_PER_CALL):
            names = [self._key(k) for k in batch]
            values = self._call("reading", batch[0], lambda c, n: c.mget(n), names)
            out.update((k, v) for k, v in zip(batch, values) if v is not None)
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        self._check_writable()
        pending: dict[str, bytes] = {}
        size = 0
        for i, (k, v) in enumerate(values.items()):
            if not pending:
                first = k  # names the batch in an error
            pending[self._key(k)] = data = as_bytes(v)
            size += len(data)
            if size >= _BYTES_PER_CALL or len(pending) >= _KEYS_PER_CALL or i == len(values) - 1:
                self._call("writing", first, lambda c, p: c.mset(p), pending)
                pending, size = {}, 0

    def delitems(self, keys: Iterable[str]) -> None:
        self._check_writable()
        for batch in batches(keys, _KEYS_PER_CALL):
            names = [self._key(k) for k in batch]
            self._call("deleting", batch[0], lambda c, n: c.delete(*n), names)

    # -- listing -------------------------------------------------------------------------
    def _names(self, path: str = "") -> list[str]:
        """Every key below ``path`` (whole keys, without the Redis prefix)."""
        start = self._key("")
        pattern = _glob_escape(start + prefix_of(normalize_storage_path(path))) + "*"
        names = self._call(
            "listing", path, lambda c: list(c.scan_iter(match=pattern, count=_KEYS_PER_CALL))
        )
        # SCAN may return a key twice (while the server resizes its table)
        unique = dict.fromkeys(n.decode("utf-8") if isinstance(n, bytes) else n for n in names)
        return [n[len(start) :] for n in unique]

    def keys(self) -> Any:
        return self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def rmdir(self, path: str = "") -> None:
        self._check_writable()
        self.delitems(self._names(path))

    def clear(self) -> None:
        """Delete every key of this store (those with its prefix)."""
        self.rmdir("")

    def __repr__(self) -> str:
        where = ", ".join(
            f"{k}={self._kwargs[k]!r}" for k in ("host", "port", "db") if k in self._kwargs
        )
        return f"{type(self).__name__}(prefix={self._prefix!r}{', ' + where if where else ''})"
