"""Groups: named containers of arrays and other groups (the zarr 2 / h5py ``Group`` API).

A group is a ``.zgroup`` document at a path of a store; its members are the arrays and groups
directly below that path. Member names may be paths (``'foo/bar/baz'``) reaching any depth, and
creating a member creates the groups above it. A name starting with ``'/'`` is taken from the
root of the store, as in h5py.

>>> import zarrkit
>>> root = zarrkit.group()
>>> z = root.zeros('foo/bar/baz', shape=(10, 10), chunks=(5, 5), dtype='i4')
>>> root['foo/bar']
<zarrkit.hierarchy.Group '/foo/bar'>
>>> sorted(root['foo'])
['bar']
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from itertools import islice
from keyword import iskeyword
from typing import Any, NamedTuple

import numpy as np

from . import creation, storage
from ._info import InfoReporter, type_name
from ._node import Location, Node, Options, check_zarr_version, default_zarr_format
from ._normalize import normalize_shape
from ._probe import ancestors, contains_array, contains_group, location, not_found, survey
from ._tree import TreeViewer
from .core import Array
from .errors import ContainsArrayError, ContainsGroupError, GroupNotFoundError, ReadOnlyError
from .formats.nodes import V2, V3, NodeFormat, node_format
from .formats.v2 import GROUP_KEY
from .storage.base import normalize_storage_path, prefix_of

__all__ = ["Group", "group", "open_group", "LazyLoader"]

_GROUP_MODES = ("r", "r+", "a", "w", "w-", "x")

#: a member whose document did not decode (or was not read): the store is asked again when
#: the member is used, which raises its error then
_ASK: Any = object()
#: names of metadata documents: never members of a group
_DOCUMENT_NAMES = frozenset({".zarray", ".zgroup", ".zattrs", ".zmetadata", "zarr.json"})


def _raw_json(doc: Any, key: str) -> Any:
    """A decoder of ``Store.getdecoded_many``: the parsed document itself."""
    return doc


class _Member(NamedTuple):
    """What one batch read says is below a group at ``path``: the record of the array and
    of the group there (None when absent, :data:`_ASK` when only a new look tells)."""

    name: str
    path: str
    fmt: NodeFormat
    array: Any
    group: Any


class Group(Node, MutableMapping):
    """A group of arrays and groups in a store.

    Parameters
    ----------
    store : MutableMapping or str
        Where the hierarchy lives (a path means a :class:`DirectoryStore`).
    path : str, optional
        Path of the group within the store.
    read_only : bool
        Refuse every write (member creation, deletion, moves, attributes).
    chunk_store : MutableMapping, optional
        Separate store for the chunks of member arrays.
    cache_attrs : bool
        Keep user attributes in memory.
    synchronizer : object, optional
        Locks shared with member arrays (:class:`zarrkit.sync.ThreadSynchronizer`, ...).

    Raises ``ContainsArrayError`` if an array is at ``path`` and ``GroupNotFoundError`` if no
    group is there.
    """

    _kind = "group"

    def __init__(
        self,
        store: Any,
        path: str | None = None,
        read_only: bool = False,
        chunk_store: Any = None,
        cache_attrs: bool = True,
        synchronizer: Any = None,
        zarr_version: int | None = None,
        *,
        meta_array: Any = None,
        zarr_format: int | None = None,
    ) -> None:
        fmt = check_zarr_version(zarr_version, zarr_format)
        self._open(
            Location.of(store, path, chunk_store, new_store=storage.MemoryStore).with_format(fmt),
            Options(read_only=read_only, synchronizer=synchronizer, cache_attrs=cache_attrs),
        )

    @classmethod
    def _at(cls, loc: Location, opts: Options, known: NodeFormat | None = None) -> Group:
        """The group at ``loc`` (already normalised), behaving as ``opts`` say. ``known``:
        the caller has just read a group of that format there, and no array (nothing is
        looked at again)."""
        g = cls.__new__(cls)
        g._open(loc, opts, known)
        return g

    def _open(self, loc: Location, opts: Options, known: NodeFormat | None = None) -> None:
        self._setup(loc, opts)
        # what members inherit: read-only, locks and attribute caching
        self._member_opts = Options(
            read_only=self._read_only,
            synchronizer=self._synchronizer,
            cache_attrs=self._cache_attrs,
        )
        if known is not None:
            self._fmt = known
            return
        # the v2 array and group documents in one batch (one round trip): an array there
        # wins, a group document that does not decode raises here, naming its key
        prefix = self._key_prefix
        if loc.zarr_format == 3 and V2.array_key(prefix) in self._store:
            raise ContainsArrayError(self._path, location(self._store))
        if not loc.zarr_format or self._fmt is V2:
            got = self._store.getdecoded_many(V2.node_requests(prefix))
            array, group = V2.node_found(prefix, got) or (None, None)
            if array is not None:
                raise ContainsArrayError(self._path, location(self._store))
            if isinstance(group, BaseException):
                raise group
            if group is not None:
                self._fmt = V2
                return
        for fmt in (self._fmt,) if loc.zarr_format else (V3,):
            if fmt is V2:
                continue
            try:
                fmt.read_group(self._store, prefix)
            except KeyError:
                continue
            self._fmt = fmt
            return
        if contains_array(self._store, self._path):
            raise ContainsArrayError(self._path, location(self._store))
        raise not_found(GroupNotFoundError, self._store, self._path)

    def _member_options(self) -> Options:
        """What members inherit: read-only, locks and attribute caching."""
        return self._member_opts

    # -- properties ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """h5py-style name: ``'/'`` for the root, else ``'/' + path``."""
        return "/" + self._path

    @property
    def basename(self) -> str:
        """Last segment of the name (``''`` for the root)."""
        return self.name.split("/")[-1]

    @property
    def meta_array(self) -> np.ndarray:
        """The array type of data read from members (always NumPy here)."""
        return np.empty(())

    @property
    def info(self) -> InfoReporter:
        """A report of the group: name, type, store, members."""
        return InfoReporter(self)

    def info_items(self) -> list[tuple[str, str]]:
        """The ``(label, value)`` pairs of :attr:`info`."""
        items = [
            ("Name", self.name),
            ("Type", type_name(self)),
        ]
        if self.zarr_format != 2:  # as Array.info: zarr 2's report has no such row
            items.append(("Zarr format", str(self.zarr_format)))
        items.append(("Read-only", str(self._read_only)))
        if self._synchronizer is not None:
            items.append(("Synchronizer type", type_name(self._synchronizer)))
        items.append(("Store type", type_name(self._store)))
        if self._chunk_store is not None:
            items.append(("Chunk store type", type_name(self._chunk_store)))
        members = self._members()  # one listing and one batch for the three counts
        array_keys = [m.name for m in members if self._is_array(m)]
        group_keys = [m.name for m in members if self._is_group(m)]
        count = len(set(array_keys) | set(group_keys))
        items += [
            ("No. members", str(count)),
            ("No. arrays", str(len(array_keys))),
            ("No. groups", str(len(group_keys))),
        ]
        if array_keys:
            items.append(("Arrays", ", ".join(array_keys)))
        if group_keys:
            items.append(("Groups", ", ".join(group_keys)))
        return items

    # -- members -------------------------------------------------------------------------
    def _item_path(self, item: Any) -> str:
        """Store path of member ``item``; a leading ``'/'`` means from the store's root."""
        absolute = isinstance(item, str) and item.startswith("/")
        path = normalize_storage_path(item)
        if absolute or not self._path:
            return path
        return self._key_prefix + path if path else self._path

    def _child_paths(self) -> Iterator[tuple[str, str]]:
        for key in sorted(self._store.listdir(self._path)):
            yield key, self._key_prefix + key

    def _members(self) -> list[_Member]:
        """The members directly below, from one listing and one batch of metadata reads
        (``Store.getdecoded_many``: concurrent requests on an object store) instead of a
        look and a read per member; the group's own format first, then the other one for
        the names it did not explain.

        A member whose document does not decode is kept as :data:`_ASK`: it is looked at
        again, and its error raised, only when it is used (as one member read alone).
        If the store fails on the batch, every member is :data:`_ASK` (looked at one by one).
        """
        children = list(self._child_paths())
        found: dict[str, _Member] = {}
        try:
            pending = [c for c in children if c[0] not in _DOCUMENT_NAMES]
            for fmt in (self._fmt, V3 if self._fmt is V2 else V2):
                if not pending:
                    break
                requests: dict[str, Any] = {}
                for _, path in pending:
                    requests.update(fmt.node_requests(prefix_of(path)))
                got = self._store.getdecoded_many(requests)
                rest = []
                for name, path in pending:
                    node = fmt.node_found(prefix_of(path), got)
                    if node is None:
                        rest.append((name, path))
                        continue
                    array, group = (_ASK if isinstance(x, BaseException) else x for x in node)
                    found[path] = _Member(name, path, fmt, array, group)
                pending = rest
        except Exception:
            return [_Member(name, path, self._fmt, _ASK, _ASK) for name, path in children]
        return [found[path] for _, path in children if path in found]

    def _walk_listed(self) -> list[tuple[str, Array | Group]] | None:
        """Every array and group below, as :meth:`visititems` gives them (relative path,
        depth first, sorted), from one listing of the keys below and one batch of exactly
        the documents it shows (``.zattrs`` too, into the attribute caches): no request for
        a document the listing shows absent, and one round trip for the whole hierarchy
        instead of a listing and a batch per group. None where that cannot tell what
        :meth:`visititems` would (nodes of the other format, a document that does not
        decode, a store that serves documents of its own); the caller walks then."""
        store, fmt = self._store, self._fmt
        if type(store).getdecoded is not storage.base.Store.getdecoded:
            return None
        try:
            keys = set(store.keys_under(self._path))
        except Exception:
            return None
        other = V3 if fmt is V2 else V2
        names = {fmt.array_name, fmt.group_name, fmt.attrs_name}
        if any(k.rpartition("/")[2] in (other.array_name, other.group_name) for k in keys):
            return None  # the other format's documents: its rules of which wins apply
        base = self._key_prefix
        requests: dict[str, Any] = {}
        places: set[str] = set()
        for k in keys:
            head, _, name = k.rpartition("/")
            if head and name in names:
                places.add(head)
        for rel in places:
            for key, decode in fmt.node_requests(base + rel + "/").items():
                if key[len(base) :] in keys:
                    requests[key] = decode
            if not fmt.inline_attributes and rel + "/" + fmt.attrs_name in keys:
                requests[base + rel + "/" + fmt.attrs_name] = _raw_json
        try:
            got = store.getdecoded_many(requests) if requests else {}
        except Exception:
            return None
        kinds: dict[str, tuple[Any, Any]] = {}
        for rel in places:
            found = fmt.node_found(base + rel + "/", got)
            if found is None:
                continue
            if any(isinstance(x, BaseException) for x in found):
                return None
            kinds[rel] = found
        out: list[tuple[str, Array | Group]] = []
        opts = self._member_options()
        for rel in sorted(kinds, key=lambda r: r.split("/")):
            parts = rel.split("/")
            # a member only below groups (an array's folder has no members)
            if any(
                kinds.get("/".join(parts[:i]), (True, None))[0] is not None
                for i in range(1, len(parts))
            ):
                continue
            array = kinds[rel][0]
            loc = self._location.at(base + rel)
            node: Array | Group
            if array is not None:
                node = Array._at(loc, opts, array)
            else:
                node = Group._at(loc, opts, fmt)
            if not fmt.inline_attributes and opts.cache_attrs:
                attrs = got.get(base + rel + "/" + fmt.attrs_name)
                if isinstance(attrs, BaseException):
                    return None
                try:
                    node.attrs._cached = {} if attrs is None else fmt.decode_attrs(attrs, "")
                except Exception:
                    return None
            out.append((rel, node))
        return out

    def _is_array(self, m: _Member) -> bool:
        return m.array is not None and (m.array is not _ASK or contains_array(self._store, m.path))

    def _is_group(self, m: _Member) -> bool:
        return m.group is not None and (m.group is not _ASK or contains_group(self._store, m.path))

    def _array_of(self, m: _Member) -> Array:
        """The array member ``m`` (its record as read, unless only a new look tells)."""
        meta = m.array if m.array is not _ASK and m.fmt is self._fmt else None
        return Array._at(self._location.at(m.path), self._member_options(), meta)

    def _group_of(self, m: _Member) -> Group:
        """The group member ``m`` (not looked at again when the batch told all)."""
        sure = m.array is None and m.group is not _ASK and m.fmt is self._fmt
        return Group._at(self._location.at(m.path), self._member_options(), m.fmt if sure else None)

    def _member_of(self, m: _Member) -> Array | Group:
        """The member ``m`` opened as ``group[name]`` opens it (an array first)."""
        known = m.fmt is self._fmt
        if m.array is not None and m.array is not _ASK and known:
            return self._array_of(m)
        if m.array is None and m.group is not None and m.group is not _ASK and known:
            return self._group_of(m)
        return self[m.name]

    def __iter__(self) -> Iterator[str]:
        """Names of the members (arrays and groups), sorted."""
        for m in self._members():
            if self._is_array(m) or self._is_group(m):
                yield m.name

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, (str, bytes)):  # member names are strings: 5 is not '5'
            return False
        path = self._item_path(item)
        return contains_array(self._store, path) or contains_group(self._store, path)

    def __getitem__(self, item: str) -> Array | Group:
        """The array or group at ``item`` (a name or a '/'-separated path); KeyError if none."""
        path = self._item_path(item)
        try:  # one read of the array document tells whether an array is there
            meta = self._fmt.read_array(self._store, prefix_of(path))
        except KeyError:
            pass
        else:
            return Array._at(self._location.at(path), self._member_options(), meta)
        if contains_group(self._store, path):
            return Group._at(self._location.at(path), self._member_options())
        raise KeyError(item)

    def open_members(self, names: Iterable[str]) -> list[Array | Group]:
        """``[group[name] for name in names]`` with the members' documents read in one batch
        (concurrent requests on an object store) instead of one round trip per name. The
        same errors as ``group[name]``, raised for the first name that has one (``KeyError``
        where nothing is there).

        >>> import zarrkit
        >>> g = zarrkit.group()
        >>> _ = g.zeros('a', shape=3); _ = g.create_group('b')
        >>> [m.name for m in g.open_members(['b', 'a'])]
        ['/b', '/a']
        """
        paths = [(name, self._item_path(name)) for name in names]
        fmt = self._fmt
        requests: dict[str, Any] = {}
        for _, path in paths:
            requests.update(fmt.node_requests(prefix_of(path)))
        try:
            got = self._store.getdecoded_many(requests) if requests else {}
        except Exception:
            got = {}  # the store failed on the batch: each name alone, as group[name]
        out: list[Array | Group] = []
        for name, path in paths:
            node = fmt.node_found(prefix_of(path), got) if path else None
            array, group = node or (None, None)
            if array is not None and not isinstance(array, BaseException):
                out.append(Array._at(self._location.at(path), self._member_options(), array))
            elif array is None and group is not None and not isinstance(group, BaseException):
                out.append(Group._at(self._location.at(path), self._member_options(), fmt))
            else:  # nothing of this format there, or a document that does not decode
                out.append(self[name])
        return out

    def __setitem__(self, item: str, value: Any) -> None:
        """Store ``value`` as an array named ``item``, replacing what is there."""
        self.array(item, value, overwrite=True)

    def __delitem__(self, item: str) -> None:
        """Delete the member ``item`` and everything below it."""

        def delete() -> None:
            path = self._item_path(item)
            if not (contains_array(self._store, path) or contains_group(self._store, path)):
                raise KeyError(item)
            self._store.rmdir(path)
            if self._chunk_store is not None:
                self._chunk_store.rmdir(path)

        self._write_op(delete)

    def __getattr__(self, item: str) -> Any:
        # Members as attributes (``root.foo``). Never answer the probes of IPython/Jupyter
        # (``_repr_html_``, ``_ipython_display_``, ...) nor dunder lookups: a store round trip
        # each, and a member named like a probe would be displayed wrongly.
        if item.startswith(("__", "_repr_", "_ipython_")) or "_store" not in self.__dict__:
            raise AttributeError(item)
        try:
            return self[item]
        except (KeyError, ValueError):
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute or member {item!r}"
            ) from None

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        names.update(k for k in self if k.isidentifier() and not iskeyword(k))
        return sorted(names)

    def _ipython_key_completions_(self) -> list[str]:
        return sorted(self)

    # IPython/Jupyter rich-display probes: a group has none of these representations (the
    # plain repr is shown), and no member may answer them
    def _repr_html_(self) -> None:
        return None

    _repr_json_ = _repr_javascript_ = _repr_markdown_ = _repr_svg_ = _repr_html_
    _repr_png_ = _repr_jpeg_ = _repr_latex_ = _repr_pdf_ = _repr_mimebundle_ = _repr_html_

    def group_keys(self) -> Iterator[str]:
        """Names of the member groups, sorted."""
        for m in self._members():
            if self._is_group(m):
                yield m.name

    def groups(self) -> Iterator[tuple[str, Group]]:
        """``(name, Group)`` pairs of the member groups, sorted by name (their metadata
        read in one batch)."""
        for m in self._members():
            if self._is_group(m):
                yield m.name, self._group_of(m)

    def array_keys(self, recurse: bool = False) -> Iterator[str]:
        """Names of the member arrays (with ``recurse``, of every array below, depth first)."""
        for key, _ in self._walk_arrays(recurse, load=False):
            yield key

    def arrays(self, recurse: bool = False) -> Iterator[tuple[str, Array]]:
        """``(name, Array)`` pairs of the member arrays (with ``recurse``, of all below);
        the members' metadata are read in one batch per group."""
        yield from self._walk_arrays(recurse, load=True)

    def items(self) -> Iterator[tuple[str, Array | Group]]:  # type: ignore[override]
        """``(name, member)`` pairs, sorted by name; the members' metadata are read in one
        batch (concurrent requests on an object store), not one member at a time.

        >>> import zarrkit
        >>> g = zarrkit.group()
        >>> _ = g.zeros('a', shape=3); _ = g.create_group('b')
        >>> [(name, type(m).__name__) for name, m in g.items()]
        [('a', 'Array'), ('b', 'Group')]
        """
        for m in self._members():
            if self._is_array(m) or self._is_group(m):
                yield m.name, self._member_of(m)

    def values(self) -> Iterator[Array | Group]:  # type: ignore[override]
        """The members, sorted by name (see :meth:`items`)."""
        for _, member in self.items():
            yield member

    def _walk_arrays(self, recurse: bool, load: bool) -> Iterator[tuple[str, Any]]:
        for m in self._members():
            if self._is_array(m):
                yield m.name, (self._array_of(m) if load else None)
            elif recurse and self._is_group(m):
                yield from self._group_of(m)._walk_arrays(recurse, load)

    # -- visiting ------------------------------------------------------------------------
    def visitvalues(self, func: Callable[[Any], Any]) -> Any:
        """Call ``func(member)`` on every array and group below, depth first, sorted.

        Stops and returns the first result that is not None.
        """

        def walk(obj: Any) -> Iterator[Any]:
            yield obj
            if isinstance(obj, Group):
                for _, member in obj.items():  # (sorted; one batch of metadata per group)
                    yield from walk(member)

        for obj in islice(walk(self), 1, None):
            result = func(obj)
            if result is not None:
                return result
        return None

    def visit(self, func: Callable[[str], Any]) -> Any:
        """Call ``func(relative_path)`` on every member below (see :meth:`visitvalues`)."""
        skip = len(self.name)
        return self.visitvalues(lambda obj: func(obj.name[skip:].lstrip("/")))

    def visitkeys(self, func: Callable[[str], Any]) -> Any:
        """Same as :meth:`visit`."""
        return self.visit(func)

    def visititems(self, func: Callable[[str, Any], Any]) -> Any:
        """Call ``func(relative_path, member)`` on every member below."""
        skip = len(self.name)
        return self.visitvalues(lambda obj: func(obj.name[skip:].lstrip("/"), obj))

    def tree(self, expand: bool | int = False, level: int | None = None) -> TreeViewer:
        """A tree view of the hierarchy below this group (text repr, HTML in Jupyter).

        ``level`` limits the depth shown; ``expand`` opens the HTML view's nodes (True: all,
        an int: that many levels).

        >>> import zarrkit
        >>> g = zarrkit.group()
        >>> _ = g.zeros('foo/bar', shape=(2, 3), dtype='i2')
        >>> g.tree()
        /
         └── foo
             └── bar (2, 3) int16
        """
        return TreeViewer(self, expand=expand, level=level)

    # -- writes ----------------------------------------------------------------------------
    def _write_op(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._read_only:
            raise ReadOnlyError("group")
        lock = (
            contextlib.nullcontext()
            if self._synchronizer is None
            else self._synchronizer[GROUP_KEY]
        )
        with lock:
            return f(*args, **kwargs)

    def _new_group(self, path: str, written: bool = False) -> Group:
        """The group at ``path``; ``written``: just written here (not read back where the
        store keeps documents as they are)."""
        loc = self._location.at(path)
        return Group._at(loc, self._member_options(), _written(loc) if written else None)

    def create_group(self, name: str, overwrite: bool = False) -> Group:
        """Create a sub-group (and the groups above it); it must not exist unless ``overwrite``."""

        def make() -> Group:
            path = self._item_path(name)
            creation.init_group_at(self._location.at(path), overwrite=overwrite)
            return self._new_group(path, written=True)

        return self._write_op(make)

    def create_groups(self, *names: str, overwrite: bool = False) -> tuple[Group, ...]:
        """Create several sub-groups."""
        return tuple(self.create_group(n, overwrite=overwrite) for n in names)

    def require_group(self, name: str, overwrite: bool = False) -> Group:
        """The sub-group ``name``, created if it does not exist (an array there is an error)."""

        def get_or_make() -> Group:
            path = self._item_path(name)
            # the place and the groups above it, in one batch
            kinds = survey(self._store, [path, *ancestors(path)])
            if kinds[path].group:
                return self._new_group(path)
            loc = self._location.at(path)
            creation.init_group_at(loc, overwrite=overwrite, kinds=kinds)
            return self._new_group(path, written=True)

        return self._write_op(get_or_make)

    def require_groups(self, *names: str) -> tuple[Group, ...]:
        """Require several sub-groups."""
        return tuple(self.require_group(n) for n in names)

    def _creation_kwargs(self, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        given = sorted({"mode", "store", "path", "chunk_store"} & set(kwargs))
        if given:
            # the group decides where its members live; zarr 2 raises TypeError here too
            raise TypeError(
                f"{', '.join(map(repr, given))}: not arguments of group member creation"
            )
        kwargs.setdefault("synchronizer", self._synchronizer)
        kwargs.setdefault("cache_attrs", self._cache_attrs)
        asked = check_zarr_version(kwargs.pop("zarr_version", None), kwargs.get("zarr_format"))
        if asked is not None and asked != self.zarr_format:
            raise ValueError(
                f"a member of a Zarr v{self.zarr_format} group is a Zarr v{self.zarr_format} "
                f"node, not v{asked}"
            )
        kwargs["zarr_format"] = self.zarr_format
        kwargs["store"] = self._store
        kwargs["path"] = self._item_path(name)
        kwargs["chunk_store"] = self._chunk_store
        return kwargs

    def _make(self, factory: Callable[..., Array], name: str, *args: Any, **kwargs: Any) -> Array:
        return self._write_op(lambda: factory(*args, **self._creation_kwargs(name, kwargs)))

    def create_dataset(self, name: str, **kwargs: Any) -> Array:
        """Create an array (h5py's name); with ``data=`` it is filled from that data.

        Other keyword arguments are those of :func:`zarrkit.create`.
        """
        data = kwargs.pop("data", None)
        if data is None:
            return self._make(creation.create, name, **kwargs)
        return self._make(creation.array, name, data, **kwargs)

    def require_dataset(
        self, name: str, shape: Any, dtype: Any = None, exact: bool = False, **kwargs: Any
    ) -> Array:
        """The array ``name``, created if missing; an existing one must match.

        Its shape must equal ``shape`` and ``dtype`` must cast safely to its dtype (be equal with
        ``exact=True``), otherwise TypeError (as h5py).
        """

        def get_or_make() -> Array:
            path = self._item_path(name)
            if not contains_array(self._store, path):
                kw = self._creation_kwargs(name, dict(kwargs, shape=shape, dtype=dtype))
                return creation.create(**kw)
            a = Array._at(
                self._location.at(path),
                Options(
                    read_only=self._read_only,
                    synchronizer=kwargs.get("synchronizer", self._synchronizer),
                    cache_metadata=kwargs.get("cache_metadata", True),
                    cache_attrs=kwargs.get("cache_attrs", self._cache_attrs),
                ),
            )
            want_shape = normalize_shape(shape)
            if want_shape != a.shape:
                raise TypeError(
                    f"shape do not match existing array; expected {a.shape}, got {want_shape}"
                )
            want_dtype = np.dtype(dtype)
            if exact:
                if want_dtype != a.dtype:
                    raise TypeError(
                        f"dtypes do not match exactly; expected {a.dtype}, got {want_dtype}"
                    )
            elif not np.can_cast(want_dtype, a.dtype):
                raise TypeError(f"dtypes ({want_dtype}, {a.dtype}) cannot be safely cast")
            return a

        return self._write_op(get_or_make)

    def create_arrays(
        self, arrays: Mapping[str, Mapping[str, Any]], overwrite: bool = False
    ) -> dict[str, Array]:
        """Create several arrays at once: ``{name: create_arguments}``, each the keyword
        arguments of :meth:`create` (``shape``, ``chunks``, ``dtype``, ...). All their
        metadata documents are written with one ``setitems`` (concurrent requests on an
        object store, the pool on local files), after one batch that looks for anything
        already there, instead of a few round trips per array. Every layout is checked
        before anything is written; an array or group already at a name is an error
        (``ContainsArrayError``/``ContainsGroupError``) unless ``overwrite``, and nothing is
        written then.

        >>> import zarrkit
        >>> g = zarrkit.group()
        >>> made = g.create_arrays({f"a{i}": dict(shape=10, chunks=5, dtype="i2") for i in range(3)})
        >>> sorted(made), made["a1"].shape, sorted(g.array_keys())
        (['a0', 'a1', 'a2'], (10,), ['a0', 'a1', 'a2'])
        """

        def make() -> dict[str, Array]:
            plans = []
            for name, given in arrays.items():
                kwargs = dict(given)
                for word in ("data", "overwrite"):
                    if word in kwargs:
                        raise TypeError(
                            f"create_arrays: {word!r} is not an argument of one array (it "
                            "creates empty arrays; overwrite= is the call's)"
                        )
                kwargs["overwrite"] = overwrite
                plans.append(creation._plan_create(**self._creation_kwargs(name, kwargs)))
            return dict(zip(arrays, creation.create_planned(plans)))

        return self._write_op(make)

    def _plan_member(self, name: str, kwargs: dict[str, Any]) -> Any:
        """``create_dataset(name, **kwargs)`` (no ``data``) checked and planned, nothing
        written: for :func:`zarrkit.creation.create_planned`, which creates many at once."""
        return self._write_op(lambda: creation._plan_create(**self._creation_kwargs(name, kwargs)))

    def create(self, name: str, **kwargs: Any) -> Array:
        """Create an array (see :func:`zarrkit.create`)."""
        return self._make(creation.create, name, **kwargs)

    def empty(self, name: str, **kwargs: Any) -> Array:
        """Create an array without fill value."""
        return self._make(creation.empty, name, **kwargs)

    def zeros(self, name: str, **kwargs: Any) -> Array:
        """Create an array that reads as 0 where unwritten."""
        return self._make(creation.zeros, name, **kwargs)

    def ones(self, name: str, **kwargs: Any) -> Array:
        """Create an array that reads as 1 where unwritten."""
        return self._make(creation.ones, name, **kwargs)

    def full(self, name: str, fill_value: Any, **kwargs: Any) -> Array:
        """Create an array that reads as ``fill_value`` where unwritten."""
        return self._make(creation.full, name, fill_value=fill_value, **kwargs)

    def array(self, name: str, data: Any, **kwargs: Any) -> Array:
        """Create an array filled with ``data``."""
        return self._make(creation.array, name, data, **kwargs)

    def empty_like(self, name: str, data: Any, **kwargs: Any) -> Array:
        """Create an empty array like ``data``."""
        return self._make(creation.empty_like, name, data, **kwargs)

    def zeros_like(self, name: str, data: Any, **kwargs: Any) -> Array:
        """Create a zero-filled array like ``data``."""
        return self._make(creation.zeros_like, name, data, **kwargs)

    def ones_like(self, name: str, data: Any, **kwargs: Any) -> Array:
        """Create a one-filled array like ``data``."""
        return self._make(creation.ones_like, name, data, **kwargs)

    def full_like(self, name: str, data: Any, **kwargs: Any) -> Array:
        """Create an array like ``data`` filled with ``fill_value`` (default: data's)."""
        return self._make(creation.full_like, name, data, **kwargs)

    def open_like(self, name: str, data: Any, mode: str = "a", **kwargs: Any) -> Array:
        """Open (creating as ``mode`` allows) the array ``name`` with ``data``'s layout."""
        kwargs = creation._like_args(data, kwargs)
        if isinstance(data, Array):
            kwargs.setdefault("fill_value", data.fill_value)
        kwargs = self._creation_kwargs(name, kwargs)
        return self._write_op(lambda: creation.open_array(mode=mode, **kwargs))

    def move(self, source: str, dest: str) -> None:
        """Move (rename) the member at ``source`` to ``dest``; both relative to this group."""

        def op() -> None:
            src = self._item_path(source)
            dst = self._item_path(dest)
            if not (contains_array(self._store, src) or contains_group(self._store, src)):
                raise ValueError(f'The source, "{src}", does not exist.')
            if contains_array(self._store, dst) or contains_group(self._store, dst):
                raise ValueError(f'The dest, "{dst}", already exists.')
            if dst.startswith(prefix_of(src)):
                raise ValueError(f'Cannot move "{src}" into itself ("{dst}").')
            if "/" in dst:
                parent = dst.rsplit("/", 1)[0]
                if not contains_group(self._store, parent):
                    creation.init_group_at(self._location.at(parent))
            self._store.rename(src, dst)
            if self._chunk_store is not None:
                self._chunk_store.rename(src, dst)

        self._write_op(op)

    # -- object protocol -------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Group)
            and self._store == other._store
            and self._read_only == other._read_only
            and self._path == other._path
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        r = f"<{type_name(self)} {self.name!r}"
        if self._read_only:
            r += " read-only"
        return r + ">"

    def __enter__(self) -> Group:
        return self

    def __exit__(self, *exc: object) -> None:
        close = getattr(self._store, "close", None)
        if callable(close):
            close()

    def __getstate__(self) -> dict:
        return {
            "store": self._store,
            "path": self._path,
            "read_only": self._read_only,
            "chunk_store": self._chunk_store,
            "cache_attrs": self._cache_attrs,
            "synchronizer": self._synchronizer,
        }

    def __setstate__(self, state: dict) -> None:
        Group.__init__(self, **state)


def group(
    store: Any = None,
    overwrite: bool = False,
    chunk_store: Any = None,
    cache_attrs: bool = True,
    synchronizer: Any = None,
    path: str | None = None,
    *,
    zarr_version: int | None = None,
    meta_array: Any = None,
    storage_options: dict | None = None,
    zarr_format: int | None = None,
) -> Group:
    """Create a group, or open the one already at ``path`` (``overwrite`` replaces it).

    Parameters
    ----------
    store : MutableMapping, str or None
        A store, any mapping, a local path or a URL; None is a new in-memory store.
    overwrite : bool
        Delete whatever is at ``path`` first.
    chunk_store : MutableMapping, optional
        Separate store for the chunks of member arrays.
    cache_attrs : bool
        Keep user attributes in memory.
    synchronizer : object, optional
        Locks shared with member arrays.
    path : str, optional
        Path of the group within the store.
    zarr_version, zarr_format : {None, 2, 3}
        The Zarr format of a new group (None: :func:`zarrkit.default_zarr_format`, 2
        unless set); an existing group is opened in its own format. Members of a v3 group
        are v3.
    meta_array : ignored
        Accepted for zarr 2 compatibility.
    storage_options : dict, optional
        Options of the file system of a URL ``store`` (as for :func:`open_group`).

    >>> import zarrkit
    >>> zarrkit.group()
    <zarrkit.hierarchy.Group '/'>
    """
    fmt = check_zarr_version(zarr_version, zarr_format)
    loc = Location.of(
        store,
        path,
        chunk_store,
        mode="w",
        storage_options=storage_options,
        new_store=storage.MemoryStore,
    )
    opts = Options(cache_attrs=cache_attrs, synchronizer=synchronizer)
    kinds = None
    if not overwrite:  # the place and the groups above it, in one batch
        kinds = survey(loc.store, [loc.path, *ancestors(loc.path)])
        if kinds[loc.path].group:
            return Group._at(loc, opts)
    loc = loc.with_format(fmt or default_zarr_format())
    creation.init_group_at(loc, overwrite=overwrite, kinds=kinds)
    return Group._at(loc, opts, _written(loc))


def open_group(
    store: Any = None,
    mode: str = "a",
    cache_attrs: bool = True,
    synchronizer: Any = None,
    path: str | None = None,
    chunk_store: Any = None,
    storage_options: dict | None = None,
    *,
    zarr_version: int | None = None,
    meta_array: Any = None,
    zarr_format: int | None = None,
) -> Group:
    """Open a group, creating it as ``mode`` allows.

    Parameters
    ----------
    store : MutableMapping, str or None
        A store, any mapping, a local path or a URL; None is a new in-memory store.
    mode : {'r', 'r+', 'a', 'w', 'w-', 'x'}
        ``'r'`` read only, must exist; ``'r+'`` read/write, must exist; ``'a'`` read/write,
        created if missing; ``'w'`` created, replacing what is there; ``'w-'``/``'x'``
        created, failing if anything is there.
    cache_attrs : bool
        Keep user attributes in memory.
    synchronizer : object, optional
        Locks shared with member arrays.
    path : str, optional
        Path of the group within the store.
    chunk_store : MutableMapping, optional
        Separate store for the chunks of member arrays.
    storage_options : dict, optional
        Options of the fsspec file system when ``store`` is a URL.
    zarr_version, zarr_format : {None, 2, 3}
        The Zarr format of a group created here (see :func:`group`); an existing group is
        opened in its own format.
    meta_array : ignored
        Accepted for zarr 2 compatibility.

    >>> import zarrkit
    >>> zarrkit.open_group(mode='w')
    <zarrkit.hierarchy.Group '/'>
    """
    fmt = check_zarr_version(zarr_version, zarr_format)
    if mode not in _GROUP_MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, _GROUP_MODES))}; got {mode!r}")
    loc = Location.of(
        store,
        path,
        chunk_store,
        mode=mode,
        storage_options=storage_options,
        new_store=storage.MemoryStore,
    )
    store, path = loc.store, loc.path
    opts = Options(read_only=mode == "r", synchronizer=synchronizer, cache_attrs=cache_attrs)
    if mode in ("r", "r+"):  # opening reads the documents: no look before it
        return Group._at(loc, opts)
    where = location(store)
    new = loc.with_format(fmt or default_zarr_format())  # where a group is created
    if mode == "w":
        creation.init_group_at(new, overwrite=True)
        return Group._at(new, opts, _written(new))
    # the place and the groups above it, in one batch
    kinds = survey(store, [path, *ancestors(path)])
    has_group = kinds[path].group
    if mode == "a":
        if has_group:
            return Group._at(loc, opts)
        if kinds[path].array:
            raise ContainsArrayError(path, where)
    else:  # 'w-' / 'x'
        if kinds[path].array:
            raise ContainsArrayError(path, where)
        if has_group:
            raise ContainsGroupError(path, where)
    creation.init_group_at(new, kinds=kinds)
    return Group._at(new, opts, _written(new))


def _written(loc: Location) -> NodeFormat | None:
    """The format of the group just written at ``loc``, when reading it back would give the
    same (a store that keeps documents as they are): it is not read again."""
    if not loc.store.verbatim:
        return None
    return node_format(loc.zarr_format or default_zarr_format())


class LazyLoader(Mapping):
    """What :func:`zarrkit.load` returns for a group: arrays read into NumPy on first access,
    sub-groups as loaders of their own.

    >>> import zarrkit, numpy as np
    >>> g = zarrkit.group()
    >>> g['a'] = np.arange(3)
    >>> loader = LazyLoader(g)
    >>> loader
    <LazyLoader: a>
    >>> loader['a']
    array([0, 1, 2])
    """

    def __init__(self, grp: Group) -> None:
        self.grp = grp
        self.cache: dict[str, Any] = {}

    def __getitem__(self, item: str) -> Any:
        """An array member as a NumPy array; a group member as a :class:`LazyLoader`."""
        try:
            return self.cache[item]
        except KeyError:
            member = self.grp[item]
            value = LazyLoader(member) if isinstance(member, Group) else member[...]
            self.cache[item] = value
            return value

    def __len__(self) -> int:
        return len(self.grp)

    def __iter__(self) -> Iterator[str]:
        return iter(self.grp)

    def __contains__(self, item: object) -> bool:
        return item in self.grp

    def __repr__(self) -> str:
        return "<LazyLoader: " + ", ".join(sorted(self.grp.array_keys())) + ">"
