"""A store in an Azure Blob Storage container (``pip install 'zarrkit[azure]'``)."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ._client import ClientStore, batches, client_error, import_client
from .base import as_bytes, normalize_storage_path, prefix_of

T = TypeVar("T")
R = TypeVar("R")

#: requests in flight at once for a batch (blob requests are latency bound, not CPU bound)
CONCURRENCY = 16
# blobs per batch delete request (the service's limit)
_BLOBS_PER_DELETE = 256

_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def _map(fn: Callable[[T], R], items: list[T]) -> list[R]:
    """``[fn(x) for x in items]`` with up to :data:`CONCURRENCY` calls in flight."""
    global _pool, _pool_pid
    if len(items) <= 1:
        return [fn(x) for x in items]
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="zarrkit-abs")
            _pool_pid = os.getpid()
        pool = _pool
    futures = [pool.submit(fn, x) for x in items]
    return [f.result() for f in futures]


def _credential_arguments(client: Any) -> Any:
    """What recreates ``client``'s credential: the account name and key of a shared key (the
    policy object the client keeps is not the credential it was given), else the credential
    itself (``None`` when a SAS token is part of the URL)."""
    credential = client.credential
    if type(credential).__name__ == "SharedKeyCredentialPolicy":
        return {"account_name": credential.account_name, "account_key": credential.account_key}
    return credential


class ABSStore(ClientStore):
    """Blobs of an `Azure Blob Storage <https://azure.microsoft.com/products/storage/blobs>`_
    container, with zarr 2's arguments.

    Parameters
    ----------
    container : str, optional
        Container name (deprecated by zarr 2 in favour of ``client``).
    prefix : str
        Folder of the container that is the root of the store.
    account_name, account_key : str, optional
        Storage account and its key (deprecated by zarr 2 in favour of ``client``).
    blob_service_kwargs : dict, optional
        Extra arguments of the ``ContainerClient`` made from the arguments above.
    dimension_separator : {'.', '/'}, optional
        Separator placed between the dimensions of a chunk.
    client : azure.storage.blob.ContainerClient, optional
        The container to use.

    The store pickles to its arguments, a given ``client`` to its URL and credential (so
    a client's own pipeline settings do not travel), and makes its client lazily in each
    process that uses it. Batched reads and writes run :data:`CONCURRENCY` requests at once;
    batched deletes use the service's batch request. Only "not found" reads as missing; any
    other error raises, naming the store and the key.
    """

    #: True while an unpickled copy is made (zarr 2's deprecation is said once, not again)
    _unpickling = False

    def __init__(
        self,
        container: str | None = None,
        prefix: str = "",
        account_name: str | None = None,
        account_key: str | None = None,
        blob_service_kwargs: dict | None = None,
        dimension_separator: str | None = None,
        client: Any = None,
        *,
        container_url: str | None = None,
        credential: Any = None,
    ) -> None:
        blob = import_client("azure.storage.blob", "ABSStore", "azure")
        self._exceptions = import_client("azure.core.exceptions", "ABSStore", "azure")
        self._blob = blob
        self.prefix = normalize_storage_path(prefix)
        self._dimension_separator = dimension_separator
        self._container = container
        self._account_name = account_name
        self._account_key = account_key
        self._blob_service_kwargs = blob_service_kwargs
        if client is not None:
            container_url = client.url
            credential = _credential_arguments(client)
        elif container_url is None and not self._unpickling:
            warnings.warn(
                "Providing 'container', 'account_name', 'account_key', and "
                "'blob_service_kwargs' is deprecated (as in zarr 2): pass an "
                "'azure.storage.blob.ContainerClient' as 'client' instead.",
                FutureWarning,
                stacklevel=2,
            )
        self._container_url = container_url
        self._credential = credential
        self._given_client = client  # used as it is in this process, never closed by us
        super().__init__(
            dict(
                container=container,
                prefix=prefix,
                account_name=account_name,
                account_key=account_key,
                blob_service_kwargs=blob_service_kwargs,
                dimension_separator=dimension_separator,
                container_url=container_url,
                credential=credential,
            ),
            client=client,
        )

    @classmethod
    def _from_init_args(cls, kwargs: dict[str, Any]) -> ABSStore:
        store = cls.__new__(cls)
        store._unpickling = True  # zarr 2's deprecation was said when the store was made
        store.__init__(**kwargs)  # type: ignore[misc]
        return store

    def _connect(self) -> Any:
        if self._container_url is not None:
            return self._blob.ContainerClient.from_container_url(
                self._container_url, credential=self._credential
            )
        return self._blob.ContainerClient(
            f"https://{self._account_name}.blob.core.windows.net/",
            self._container,
            credential=self._account_key,
            **(self._blob_service_kwargs or {}),
        )

    def _disconnect(self, client: Any) -> None:
        if client is not self._given_client:  # a client the user gave stays theirs to close
            client.close()

    # zarr 2's deprecated attributes
    def _deprecated(self, name: str) -> Any:
        warnings.warn(
            f"The {name} property is deprecated (as in zarr 2); get it from ABSStore.client",
            FutureWarning,
            stacklevel=3,
        )
        return getattr(self, "_" + name)

    @property
    def container(self) -> str | None:
        return self._deprecated("container")

    @property
    def account_name(self) -> str | None:
        return self._deprecated("account_name")

    @property
    def account_key(self) -> str | None:
        return self._deprecated("account_key")

    # -- names ---------------------------------------------------------------------------
    def _blob_name(self, key: str) -> str:
        key = normalize_storage_path(key)
        return f"{self.prefix}/{key}" if self.prefix and key else self.prefix or key

    def _dir(self, path: str) -> str:
        """Blob name prefix of everything below ``path``."""
        return prefix_of(self._blob_name(path))

    def _call(self, doing: str, key: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(client, *args)``; "not found" passes, other errors name the store and key."""
        try:
            return fn(self.client, *args)
        except self._exceptions.ResourceNotFoundError:
            raise
        except self._exceptions.AzureError as e:
            raise client_error(self, doing, key, e) from e

    # -- single keys ---------------------------------------------------------------------
    def _get(self, key: str) -> bytes | None:
        name = self._blob_name(key)
        try:
            return self._call("reading", key, lambda c: c.download_blob(name).readall())
        except self._exceptions.ResourceNotFoundError:
            return None

    def __getitem__(self, key: str) -> bytes:
        value = self._get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_writable()
        data = as_bytes(value)
        name = self._blob_name(key)
        self._call("writing", key, lambda c: c.upload_blob(name, data, overwrite=True))

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        name = self._blob_name(key)
        try:
            self._call("deleting", key, lambda c: c.delete_blob(name))
        except self._exceptions.ResourceNotFoundError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        name = self._blob_name(key)
        try:
            return bool(self._call("reading", key, lambda c: c.get_blob_client(name).exists()))
        except self._exceptions.ResourceNotFoundError:
            return False

    # -- batches -------------------------------------------------------------------------
    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        keys = list(keys)
        values = _map(self._get, keys)
        return {k: v for k, v in zip(keys, values) if v is not None}

    def setitems(self, values: Mapping[str, Any]) -> None:
        self._check_writable()
        items = [(k, as_bytes(v)) for k, v in values.items()]
        _map(lambda kv: self.__setitem__(*kv), items)

    def delitems(self, keys: Iterable[str]) -> None:
        self._check_writable()
        self._delete_blobs([self._blob_name(k) for k in keys])

    def _delete_blobs(self, names: list[str]) -> None:
        """Delete blobs in batch requests; blobs already gone are ignored."""
        for batch in batches(names, _BLOBS_PER_DELETE):
            responses = self._call(
                "deleting",
                batch[0],
                lambda c, b: list(c.delete_blobs(*b, raise_on_any_failure=False)),
                batch,
            )
            for name, response in zip(batch, responses):
                if response.status_code not in (200, 202, 404):
                    raise OSError(
                        f"deleting {name!r} in {self!r} failed: HTTP {response.status_code} "
                        f"{getattr(response, 'reason', '')}"
                    )

    # -- listing -------------------------------------------------------------------------
    def _list(self, path: str = "") -> list[tuple[str, int]]:
        """(key relative to ``path``, size) of every blob below ``path``."""
        start = self._dir(path)
        try:
            return self._call(
                "listing",
                path,
                lambda c: [
                    (b.name[len(start) :], b.size)
                    for b in c.list_blobs(name_starts_with=start or None)
                ],
            )
        except self._exceptions.ResourceNotFoundError:  # no container: nothing stored
            return []

    def keys(self) -> Any:
        return [k for k, _ in self._list()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list())

    def keys_under(self, path: str = "") -> list[str]:
        return [k for k, _ in self._list(path)]

    def listdir(self, path: str = "") -> list[str]:
        return sorted({k.split("/", 1)[0] for k, _ in self._list(path)})

    def rmdir(self, path: str = "") -> None:
        self._check_writable()
        start = self._dir(path)
        self._delete_blobs([start + k for k, _ in self._list(path)])

    def getsize(self, path: str = "") -> int:
        path = normalize_storage_path(path)
        if path:
            name = self._blob_name(path)
            try:
                return self._call(
                    "reading", path, lambda c: c.get_blob_client(name).get_blob_properties().size
                )
            except self._exceptions.ResourceNotFoundError:
                pass
        return sum(size for k, size in self._list(path) if "/" not in k)

    def size_below(self, path: str = "") -> int:
        listed = self._list(path)
        if listed or not normalize_storage_path(path):
            return sum(size for _, size in listed)
        return self.getsize(path)  # one blob, or nothing

    def clear(self) -> None:
        """Delete every blob below the store's prefix."""
        self.rmdir("")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ABSStore)
            and self._container_url == other._container_url
            and self._container == other._container
            and self._account_name == other._account_name
            and self.prefix == other.prefix
        )

    __hash__ = None

    def __repr__(self) -> str:
        url = self._container_url or f"{self._account_name}/{self._container}"
        url = url.split("?", 1)[0]  # never show a SAS token
        return f"{type(self).__name__}({url!r}, prefix={self.prefix!r})"
