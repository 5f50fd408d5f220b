"""User attributes (``.zattrs``) of arrays and groups."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator, MutableMapping
from typing import Any

from .errors import ReadOnlyError
from .formats.nodes import node_format
from .formats.v2 import encode_attrs
from .storage.base import as_store


def _checked(d: dict) -> dict:
    """``d`` with string keys if it can be stored as JSON; TypeError naming the bad attribute.

    Keys that are not strings are accepted with a DeprecationWarning, as zarr 2 does, and
    become the strings JSON makes of them (``1`` -> ``'1'``, ``True`` -> ``'true'``).
    """
    out = {}
    for k, v in d.items():
        if not isinstance(k, str):
            warnings.warn(
                f"attribute key {k!r} is not a string: only attribute keys of type 'string' "
                "will be allowed in the future",
                DeprecationWarning,
                stacklevel=4,
            )
            try:
                k = next(iter(json.loads(json.dumps({k: 0}))))
            except TypeError:
                raise TypeError(f"attribute key {k!r} cannot be stored as JSON") from None
        try:
            encode_attrs({k: v})
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"attribute {k!r}: value {v!r} cannot be stored as JSON ({e})"
            ) from None
        out[k] = v
    return out


class Attributes(MutableMapping):
    """A dict-like view of a JSON document in the store.

    Every change is written through at once (under the synchronizer's lock for the key, after
    re-reading the document, so concurrent writers of different keys do not lose updates).

    >>> from zarrkit.storage import MemoryStore
    >>> a = Attributes(MemoryStore())
    >>> a['answer'] = 42
    >>> a.asdict()
    {'answer': 42}
    """

    def __init__(
        self,
        store: MutableMapping,
        key: str = ".zattrs",
        read_only: bool = False,
        cache: bool = True,
        synchronizer: Any = None,
        zarr_format: int = 2,
    ) -> None:
        self.store = as_store(store)
        #: where the attributes live: ``.zattrs`` (2), or inside the node's ``zarr.json`` (3)
        self._fmt = node_format(zarr_format)
        self.key = key
        self.read_only = read_only
        self.cache = cache
        self.synchronizer = synchronizer
        self._cached: dict | None = None

    def _read(self) -> dict:
        try:
            doc = self.store.getjson(self.key)
        except KeyError:
            return {}
        # a copy: the store may hold the parsed document (consolidated metadata), and
        # values handed out must not change it
        return self._fmt.decode_attrs(doc, self.key)

    def asdict(self) -> dict:
        """The attributes as a plain dict (a copy)."""
        if self.cache and self._cached is not None:
            return dict(self._cached)
        d = self._read()
        if self.cache:
            self._cached = d
        return dict(d)

    def refresh(self) -> None:
        """Forget cached attributes and read them again."""
        self._cached = None
        if self.cache:
            self._cached = self._read()

    def _lock(self) -> Any:
        if self.synchronizer is None:
            return contextlib.nullcontext()
        return self.synchronizer[self.key]

    def _update(self, change: Any) -> None:
        if self.read_only:
            raise ReadOnlyError("attributes")
        with self._lock():
            if self._fmt.inline_attributes:  # the node's document, re-read under the lock
                doc = self.store.getjson(self.key)
                d = self._fmt.decode_attrs(doc, self.key)
                change(d)
                self.store[self.key] = self._fmt.encode_attrs(d, doc)
            else:
                d = self._read()
                change(d)
                self.store[self.key] = self._fmt.encode_attrs(d)
            self._cached = d if self.cache else None

    def __getitem__(self, key: str) -> Any:
        return self.asdict()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        ((key, value),) = _checked({key: value}).items()  # fails before writing if not JSON
        self._update(lambda d: d.__setitem__(key, value))

    def __delitem__(self, key: str) -> None:
        def drop(d: dict) -> None:
            del d[key]

        self._update(drop)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set several attributes with one write."""
        new = _checked(dict(*args, **kwargs))
        self._update(lambda d: d.update(new))

    def put(self, d: dict) -> None:
        """Replace all attributes with ``d``."""
        d = _checked(d)

        def replace(cur: dict) -> None:
            cur.clear()
            cur.update(d)

        self._update(replace)

    def keys(self):
        return self.asdict().keys()

    def __contains__(self, key: object) -> bool:
        return key in self.asdict()

    def __iter__(self) -> Iterator[str]:
        return iter(self.asdict())

    def __len__(self) -> int:
        return len(self.asdict())

    def __repr__(self) -> str:
        return repr(self.asdict())

    def _ipython_key_completions_(self) -> list[str]:
        return sorted(str(k) for k in self.asdict())

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def _as_parsed(doc: Any, key: str) -> Any:
    """A decoder of ``Store.getdecoded_many``: the parsed document itself (not to be
    changed: the store's memo may hold it)."""
    return doc


def _batches(attrs: list[Attributes]) -> dict[int, tuple[Any, list[Attributes]]]:
    by_store: dict[int, tuple[Any, list[Attributes]]] = {}
    for a in attrs:
        by_store.setdefault(id(a.store), (a.store, []))[1].append(a)
    return by_store


def prefetch(attrs: list[Attributes]) -> None:
    """Read the attributes of many nodes in one batch per store (concurrent requests on an
    object store) into their caches, instead of a GET each when they are first used. Only
    caching views not read yet are read; a document that does not decode is left to be
    read (and raise) when used."""
    todo = [a for a in attrs if a.cache and a._cached is None]
    for store, views in _batches(todo).values():
        try:
            got = store.getdecoded_many({a.key: _as_parsed for a in views})
        except Exception:
            continue  # the store failed on the batch: each read when used, as before
        for a in views:
            doc = got.get(a.key)
            if isinstance(doc, BaseException):
                continue
            try:
                a._cached = {} if doc is None else a._fmt.decode_attrs(doc, a.key)
            except Exception:
                continue


def update_many(changes: list[tuple[Attributes, dict]]) -> None:
    """``attrs.update(values)`` for each ``(attrs, values)`` pair, with the current
    documents read in one batch and the new ones written with one ``setitems`` per store.
    Views under a synchronizer's lock are updated one by one."""
    checked = [(a, _checked(dict(values))) for a, values in changes]  # all before any write
    alone = [(a, d) for a, d in checked if a.synchronizer is not None or a.read_only]
    for a, d in alone:
        a.update(d)
    batched = [(a, d) for a, d in checked if a.synchronizer is None and not a.read_only]
    new_values = {id(a): d for a, d in batched}
    for store, views in _batches([a for a, _ in batched]).values():
        if len({a.key for a in views}) < len(views):  # one node twice: one by one
            for a in views:
                a.update(new_values[id(a)])
            continue
        got = store.getdecoded_many({a.key: _as_parsed for a in views})
        out: dict[str, bytes] = {}
        done: list[tuple[Attributes, dict]] = []
        for a in views:
            doc = got.get(a.key)
            if isinstance(doc, BaseException):
                raise doc
            if a._fmt.inline_attributes:
                if doc is None:
                    raise KeyError(a.key)  # as the one-by-one update: no node document
                cur = a._fmt.decode_attrs(doc, a.key)
                cur.update(new_values[id(a)])
                out[a.key] = a._fmt.encode_attrs(cur, doc)
            else:
                cur = {} if doc is None else a._fmt.decode_attrs(doc, a.key)
                cur.update(new_values[id(a)])
                out[a.key] = a._fmt.encode_attrs(cur)
            done.append((a, cur))
        store.setitems(out)
        for a, cur in done:
            a._cached = cur if a.cache else None
