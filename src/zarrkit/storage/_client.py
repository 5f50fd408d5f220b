"""What the stores on a server (Redis, MongoDB, Azure Blob Storage) share.

A :class:`ClientStore` keeps the arguments it was made with and pickles to them, never to a
connection; its client is a :class:`~zarrkit.storage.base.LazyHandle`, made on first use in
each process (after unpickling, or in a forked child) and dropped by
:meth:`ClientStore.close` (the next use reconnects). Only
"not found" reads as a missing key: any other error of the client raises, naming the store
and the key (:func:`client_error`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

from .base import LazyHandle, Store, normalize_storage_path, prefix_of

T = TypeVar("T")


def import_client(module: str, store: str, extra: str) -> Any:
    """Import a client library, or say which package the store needs."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"{store} needs the {module.split('.')[0]!r} package: "
            f"pip install 'zarrkit[{extra}]' ({e})"
        ) from None


def client_error(store: object, doing: str, key: str, exc: BaseException) -> BaseException:
    """An error of the same kind as ``exc`` whose message names the store and the key
    (``doing`` is 'reading', 'writing', 'deleting' or 'listing')."""
    msg = f"{doing} {key!r} in {store!r} failed: {type(exc).__name__}: {exc}"
    try:
        return type(exc)(msg)
    except Exception:  # an exception class with another constructor
        return OSError(msg)


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class ClientStore(Store):
    """A store that talks to a server through a client object made lazily, per process.

    Subclasses call ``super().__init__(arguments)`` with the constructor arguments that
    recreate them (what the store pickles to, through the protocol's ``_init_params``) and
    implement :meth:`_connect` (and :meth:`_disconnect` when a client holds resources). The
    client lives in a :class:`~zarrkit.storage.base.LazyHandle`: ``client`` is one already
    made in this process (a user's), used here and never in a forked child or an unpickled
    copy, which connect with :meth:`_connect`.
    """

    #: pickled to ``type(store)(**store._arguments)``
    _init_params = ("**arguments",)

    def __init__(self, arguments: Mapping[str, Any], *, client: Any = None) -> None:
        self._arguments = dict(arguments)
        self._handle: LazyHandle[Any] = LazyHandle(self._connect, self._disconnect, value=client)

    def _connect(self) -> Any:
        """A new client (no network traffic needed here: clients connect on first use)."""
        raise NotImplementedError

    def _disconnect(self, client: Any) -> None:
        """Release a client made by :meth:`_connect`."""

    @property
    def client(self) -> Any:
        """The client of this process (made on first use)."""
        return self._handle.get()

    def _names(self, path: str = "") -> list[str]:
        """Every whole key below ``path`` (stores that list by name implement it)."""
        raise NotImplementedError

    def keys_under(self, path: str = "") -> list[str]:
        start = len(prefix_of(normalize_storage_path(path)))
        return [k[start:] for k in self._names(path)]

    def listdir(self, path: str = "") -> list[str]:
        return sorted({k.split("/", 1)[0] for k in self.keys_under(path)})

    def close(self) -> None:
        """Disconnect; the next use of the store connects again."""
        self._handle.close()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._arguments == other._arguments

    __hash__ = None  # type: ignore[assignment]
