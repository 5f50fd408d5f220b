"""Stores for the N5 layout: on a local file system and over fsspec.

The rest of zarrkit sees Zarr v2 keys: ``.zarray`` / ``.zgroup`` / ``.zattrs`` are read from
and written to each node's ``attributes.json``, and a chunk key such as ``'foo/1.2'`` is the
block file ``foo/2/1`` (indices reversed). The metadata translation and the block layout
live in :mod:`zarrkit.formats.n5`; this is the one store module that calls a format module,
because N5 decides its keys by what its metadata say.

:class:`N5Layout` does the translation over any inner store of raw files (``self._files``);
:class:`N5Store` puts it over a :class:`DirectoryStore`, :class:`N5FSStore` over an
:class:`FSStore`.
"""

from __future__ import annotations

import json
import os
import re
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from ..errors import MetadataError
from ..formats import n5, validate
from ..formats.v2 import (
    decode_array_meta,
    decode_attrs,
    decode_group_meta,
    encode_array_meta,
    encode_group_meta,
    json_dumps,
)
from .base import Store, join_path, normalize_storage_path, path_argument, prefix_of
from .directory import DirectoryStore
from .fsspec import FSStore

_ARRAY, _GROUP, _ATTRS = ".zarray", ".zgroup", ".zattrs"
_CHUNK = re.compile(r"\d+(\.\d+)*\Z")
_UNREAD = object()  # "attributes not read yet"


def _parse(key: str) -> tuple[str, str, str]:
    """``(kind, parent path, name)``: kind is 'meta', 'chunk' or 'raw'."""
    key = normalize_storage_path(key)
    parent, _, name = key.rpartition("/")
    if name in (_ARRAY, _GROUP, _ATTRS):
        return "meta", parent, name
    if _CHUNK.match(name):
        return "chunk", parent, name
    return "raw", parent, name


def _block_path(parent: str, name: str) -> str:
    """N5 file of the chunk ``name`` (``'1.2'``) of the array at ``parent``: ``parent/2/1``."""
    return join_path(parent, "/".join(reversed(name.split("."))))


def _owner(folder: str, arrays: dict[str, int]) -> str | None:
    """The array among ``arrays`` whose folder is ``folder`` or holds it."""
    while True:
        if folder in arrays:
            return folder
        if not folder:
            return None
        folder = folder.rpartition("/")[0]


def _folders_between(top: int, folder: str, inclusive: bool) -> list[str]:
    """``folder``'s ancestors (and itself if ``inclusive``) at depth ``top`` or deeper."""
    parts = folder.split("/") if folder else []
    end = len(parts) + (1 if inclusive else 0)
    return ["/".join(parts[:i]) for i in range(top, end)]


class N5Layout(Store):
    """N5 keys and metadata over an inner store of raw files, ``self._files``.

    Subclasses set ``self._files`` (a :class:`Store` whose ``listdir`` lists both files
    and folders) and ``self.normalize_keys``, then call :meth:`_init_layout`.

    A node is a group when its ``attributes.json`` has no ``dimensions``. A folder without
    ``attributes.json`` is a group too (N5 groups need no attributes) when the container's
    root declares ``"n5"`` or when the folder holds N5 nodes below it; a plain folder of
    other files is not.
    """

    _files: Store
    normalize_keys: bool = False

    def _init_layout(self) -> None:
        # .zarray and .zattrs of a node share its attributes.json: one update at a time
        self._meta_lock = threading.RLock()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_meta_lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_layout()

    # -- attributes.json -----------------------------------------------------------------
    def _key(self, key: str) -> str:
        return key.lower() if self.normalize_keys else key

    def _parse_doc(self, key: str, raw: Any) -> dict:
        try:
            doc = json.loads(raw)
        except ValueError as e:
            raise MetadataError(f"{key!r} in {self!r} is not valid JSON: {e}") from None
        except RecursionError:
            raise MetadataError(f"{key!r} in {self!r} nests containers too deeply") from None
        if not isinstance(doc, dict):
            raise MetadataError(f"{key!r} in {self!r} is not a JSON object")
        validate.check_tree(doc, key)
        return doc

    def _load(self, path: str) -> dict | None:
        """The ``attributes.json`` of ``path`` (None when there is none)."""
        key = join_path(path, n5.ATTRS_FILE)
        try:
            raw = self._files[key]
        except KeyError:
            return None
        return self._parse_doc(key, raw)

    def _load_many(self, paths: list[str]) -> dict[str, dict]:
        """The ``attributes.json`` of several nodes, read in one batch."""
        keys = {join_path(p, n5.ATTRS_FILE): p for p in paths}
        found = self._files.getitems(list(keys))
        return {keys[k]: self._parse_doc(k, raw) for k, raw in found.items()}

    def _save(self, path: str, attrs: dict) -> None:
        if not path:
            attrs = {"n5": n5.N5_VERSION, **attrs}
        self._files[join_path(path, n5.ATTRS_FILE)] = json_dumps(attrs)
        if path:
            root = self._load("")
            if root is None or "n5" not in root:
                self._save("", root or {})

    def _enclosing_array(self, path: str) -> tuple[str, int] | None:
        """``(array path, ndim)`` of an array strictly above ``path``, if any."""
        parts = path.split("/") if path else []
        for i in range(len(parts)):
            parent = "/".join(parts[:i])
            attrs = self._load(parent)
            if n5.is_array_attrs(attrs):
                return parent, len(attrs["dimensions"])  # type: ignore[index]
        return None

    def _folder_exists(self, path: str) -> bool:
        parent, _, name = path.rpartition("/")
        return name in self._files.listdir(parent) and path not in self._files

    def _holds_nodes(self, path: str) -> bool:
        """True when some ``attributes.json`` lies below ``path``."""
        return any(k.rpartition("/")[2] == n5.ATTRS_FILE for k in self._files.keys_under(path))

    def _is_group(self, path: str, attrs: Any = _UNREAD) -> bool:
        """True for a group at ``path`` (``attrs``: its attributes when already read)."""
        if attrs is _UNREAD:
            attrs = self._load(path)
        if attrs is not None:
            return not n5.is_array_attrs(attrs)
        if path and not self._folder_exists(path):
            return False
        if self._enclosing_array(path) is not None:
            return False
        if path and "n5" in (self._load("") or {}):
            return True
        return self._holds_nodes(path)

    # -- metadata keys -------------------------------------------------------------------
    def _get_meta(self, key: str, parent: str, name: str) -> bytes:
        if name == _GROUP:
            if not self._is_group(parent):
                raise KeyError(key)
            return encode_group_meta()
        attrs = self._load(parent)
        if name == _ARRAY:
            if not n5.is_array_attrs(attrs):
                raise KeyError(key)
            return encode_array_meta(n5.decode_array_attrs(attrs, join_path(parent, n5.ATTRS_FILE)))  # type: ignore[arg-type]
        user = n5.user_attrs(attrs)
        if not user:
            raise KeyError(key)
        return json_dumps(user)

    def _set_meta(self, key: str, parent: str, name: str, value: Any) -> None:
        raw = value if isinstance(value, (bytes, str)) else memoryview(value).tobytes()
        with self._meta_lock:
            self._update_meta(key, parent, name, raw)

    def _update_meta(self, key: str, parent: str, name: str, raw: Any) -> None:
        attrs = self._load(parent) or {}
        if name == _ARRAY:
            keywords = n5.encode_array_attrs(decode_array_meta(raw, key))
            attrs = {**n5.user_attrs(attrs), **keywords}
        elif name == _GROUP:
            decode_group_meta(raw, key)
            attrs = n5.user_attrs(attrs)
        else:
            new = decode_attrs(raw, key)
            reserved = sorted(k for k in new if k in n5.N5_KEYWORDS)
            if reserved:
                raise ValueError(
                    f"attribute names {reserved} are reserved by N5 and cannot be set at {key!r}"
                )
            attrs = {**{k: v for k, v in attrs.items() if k in n5.N5_KEYWORDS}, **new}
        self._save(parent, attrs)

    def _del_meta(self, key: str, parent: str, name: str) -> None:
        with self._meta_lock:
            self._remove_meta(key, parent, name)

    def _remove_meta(self, key: str, parent: str, name: str) -> None:
        attrs = self._load(parent)
        if name == _ATTRS:
            if not n5.user_attrs(attrs):
                raise KeyError(key)
            rest = {k: v for k, v in attrs.items() if k in n5.N5_KEYWORDS}  # type: ignore[union-attr]
            if rest:
                self._save(parent, rest)
            else:  # nothing of N5's left: the node had only user attributes
                del self._files[join_path(parent, n5.ATTRS_FILE)]
            return
        if attrs is None or n5.is_array_attrs(attrs) != (name == _ARRAY):
            raise KeyError(key)
        del self._files[join_path(parent, n5.ATTRS_FILE)]

    # -- mapping -------------------------------------------------------------------------
    def _file_of(self, kind: str, parent: str, name: str) -> str:
        return _block_path(parent, name) if kind == "chunk" else join_path(parent, name)

    def __getitem__(self, key: str) -> bytes:
        kind, parent, name = _parse(self._key(key))
        if kind == "meta":
            return self._get_meta(key, parent, name)
        try:
            return self._files[self._file_of(kind, parent, name)]
        except KeyError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        self.setitems({key: value})

    def __delitem__(self, key: str) -> None:
        kind, parent, name = _parse(self._key(key))
        if kind == "meta":
            self._del_meta(key, parent, name)
            return
        try:
            del self._files[self._file_of(kind, parent, name)]
        except KeyError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            kind, parent, name = _parse(self._key(key))
        except ValueError:
            return False
        if kind != "meta":
            return self._file_of(kind, parent, name) in self._files
        if name == _GROUP:
            return self._is_group(parent)
        attrs = self._load(parent)
        if name == _ARRAY:
            return n5.is_array_attrs(attrs)
        return bool(n5.user_attrs(attrs))

    def __iter__(self) -> Iterator[str]:
        return iter(self._walk(""))

    def __len__(self) -> int:
        return len(self._walk(""))

    def _walk(self, path: str) -> list[str]:
        """Every key (in zarrkit's terms) at or below ``path``, from one listing."""
        prefix = prefix_of(path)
        raw = [prefix + k for k in self._files.keys_under(path)]
        nodes = [k.rpartition("/")[0] for k in raw if k.rpartition("/")[2] == n5.ATTRS_FILE]
        docs = self._load_many(nodes)
        arrays = {p: len(d["dimensions"]) for p, d in docs.items() if n5.is_array_attrs(d)}
        outer = self._enclosing_array(path)
        if outer is not None:
            arrays[outer[0]] = outer[1]
        top = len(path.split("/")) if path else 0
        out: set[str] = set()
        folders: set[str] = set()  # folders that may be groups without attributes.json
        for key in raw:
            folder, _, name = key.rpartition("/")
            owner = _owner(folder, arrays)
            if name == n5.ATTRS_FILE and folder in docs and owner in (None, folder):
                doc = docs[folder]
                if n5.user_attrs(doc):
                    out.add(prefix_of(folder) + _ATTRS)
                out.add(prefix_of(folder) + (_ARRAY if folder in arrays else _GROUP))
                folders.update(_folders_between(top, folder, inclusive=False))
                continue
            if owner is not None:
                rel = key[len(prefix_of(owner)) :].split("/")
                if len(rel) == arrays[owner] and all(p.isdigit() for p in rel):
                    key = prefix_of(owner) + ".".join(reversed(rel))
            else:
                folders.update(_folders_between(top, folder, inclusive=True))
            out.add(key)
        if folders - set(docs):
            root_n5 = "n5" in ((docs[""] if "" in docs else self._load("")) or {})
            for folder in folders - set(docs):
                below = prefix_of(folder)
                if (folder and root_n5) or any(n.startswith(below) and n != folder for n in nodes):
                    out.add(below + _GROUP)
        return sorted(out)

    # -- batches -------------------------------------------------------------------------
    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        files: dict[str, str] = {}
        for key in keys:
            kind, parent, name = _parse(self._key(key))
            if kind == "meta":
                try:
                    out[key] = self._get_meta(key, parent, name)
                except KeyError:
                    pass
            else:
                files[self._file_of(kind, parent, name)] = key
        if files:
            for fkey, value in self._files.getitems(list(files)).items():
                out[files[fkey]] = value
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        chunks: dict[str, dict[str, Any]] = {}
        files: dict[str, Any] = {}
        for key, value in values.items():
            kind, parent, name = _parse(self._key(key))
            if kind == "meta":
                self._set_meta(key, parent, name, value)
            elif kind == "chunk":
                chunks.setdefault(parent, {})[name] = value
            else:
                files[join_path(parent, name)] = value
        for parent, blocks in chunks.items():
            for name, value in self._edge_blocks(parent, blocks).items():
                files[_block_path(parent, name)] = value
        if files:
            self._files.setitems(files)

    def _edge_blocks(self, parent: str, blocks: dict[str, Any]) -> dict[str, Any]:
        """``blocks`` with those at the upper edge of the array truncated to the array."""
        attrs = self._load(parent)
        if not n5.is_array_attrs(attrs):
            return blocks
        meta = n5.decode_array_attrs(attrs, join_path(parent, n5.ATTRS_FILE))  # type: ignore[arg-type]
        codec = None
        out = {}
        for name, value in blocks.items():
            coords = [int(c) for c in name.split(".")]
            valid = tuple(min(c, s - i * c) for i, c, s in zip(coords, meta.chunks, meta.shape))
            if len(coords) == meta.ndim and valid != meta.chunks and min(valid, default=1) > 0:
                if codec is None:
                    cfg = meta.compressor
                    assert cfg is not None  # N5 arrays always have the block wrapper
                    codec = n5.N5ChunkWrapper(
                        cfg["dtype"], cfg["chunk_shape"], cfg["compressor_config"]
                    )
                value = codec.resize_block(value, valid)
            out[name] = value
        return out

    def delitems(self, keys: Iterable[str]) -> None:
        files = []
        for key in keys:
            kind, parent, name = _parse(self._key(key))
            if kind == "meta":
                try:
                    self._del_meta(key, parent, name)
                except KeyError:
                    pass
            else:
                files.append(self._file_of(kind, parent, name))
        if files:
            self._files.delitems(files)

    # -- hierarchy -----------------------------------------------------------------------
    def listdir(self, path: str = "") -> list[str]:
        path = normalize_storage_path(self._key(path))
        attrs = self._load(path)
        if n5.is_array_attrs(attrs):
            return sorted({k.split("/", 1)[0] for k in self.keys_under(path)})
        names = set(self._files.listdir(path))
        names.discard(n5.ATTRS_FILE)
        if not names and attrs is None:
            return []
        if self._is_group(path, attrs):
            names.add(_GROUP)
        if n5.user_attrs(attrs):
            names.add(_ATTRS)
        return sorted(names)

    def keys_under(self, path: str = "") -> list[str]:
        path = normalize_storage_path(self._key(path))
        start = len(prefix_of(path))
        return [k[start:] for k in self._walk(path)]

    def rmdir(self, path: str = "") -> None:
        self._files.rmdir(normalize_storage_path(self._key(path)))

    def getsize(self, path: str = "") -> int:
        path = normalize_storage_path(self._key(path))
        if path:
            kind, parent, name = _parse(path)
            if kind == "meta":
                return len(self[path]) if path in self else 0
            return self._files.getsize(self._file_of(kind, parent, name))
        return self._files.getsize(path)

    def size_below(self, path: str = "") -> int:
        path = normalize_storage_path(self._key(path))
        if path and path in self:
            return self.getsize(path)
        return self._files.size_below(path)

    def rename(self, src_path: str, dst_path: str) -> None:
        self._files.rename(self._key(src_path), self._key(dst_path))

    def clear(self) -> None:
        self.rmdir("")

    def close(self) -> None:
        self._files.close()

    __hash__ = None  # type: ignore[assignment]


class N5Store(N5Layout):
    """Arrays and groups in the `N5 <https://github.com/saalfeldlab/n5>`_ layout.

    Each group or array is a directory with an ``attributes.json`` (axes in N5's reversed
    order; the root holds ``"n5": "2.0.0"``); chunks are block files with an N5 header and
    big-endian items, and blocks at the upper edge of an array are truncated to the part
    inside it. Arrays read back with fill value 0, C order and an ``N5ChunkWrapper``
    compressor around the stored compression (raw, gzip, bzip2, xz, blosc, lz4, zstd).
    N5 datasets support the data types [u]int8-64 and float32/64, fill value 0 (or None),
    order 'C' and no filters; other arrays are refused with a ``ValueError``.

    Writes are atomic per file (see :class:`DirectoryStore`), so several threads or
    processes may write different chunks of the same array. An array's metadata and user
    attributes share its ``attributes.json``: this store updates it one writer at a time
    within a process; separate processes must not change the metadata and the attributes
    of one node at the same time.

    >>> import tempfile, os, zarrkit
    >>> store = N5Store(os.path.join(tempfile.mkdtemp(), 'data.n5'))
    >>> z = zarrkit.zeros((4, 6), chunks=(3, 4), dtype='u2', store=store)
    >>> z[:] = 7
    >>> sorted(os.listdir(store.path))
    ['0', '1', 'attributes.json']
    """

    _init_params = ("path", "normalize_keys")

    def __init__(
        self,
        path: str | os.PathLike,
        normalize_keys: bool = False,
        dimension_separator: str | None = None,
    ) -> None:
        if dimension_separator not in (None, "."):
            raise ValueError("N5Store keys chunks with '.' (stored as N5 block paths)")

        self.path = os.path.abspath(path_argument(path, f"{type(self).__name__} path"))
        self.normalize_keys = normalize_keys
        self._files = DirectoryStore(self.path)
        self._init_layout()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, N5Store) and self.path == other.path

    __hash__ = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


class N5FSStore(N5Layout):
    """The N5 layout over an fsspec file system (local, memory, S3, ...).

    Takes the arguments of :class:`FSStore`; chunk keys always use ``'.'`` and are stored
    as N5 block paths, so ``dimension_separator``/``key_separator`` are ignored with a
    warning. ``fs``, ``path``, ``map`` and ``mode`` are those of the inner FSStore. ``url``
    may be what FSStore takes, or an N5 store (its location).

    >>> store = N5FSStore('memory://n5-doc-example')
    >>> import zarrkit
    >>> z = zarrkit.zeros((4, 6), chunks=(3, 4), dtype='u2', store=store)
    >>> z[:] = 7
    >>> sorted(store.fs.ls(store.path, detail=False))
    ['/n5-doc-example/0', '/n5-doc-example/1', '/n5-doc-example/attributes.json']
    >>> store.clear()
    """

    _dimension_separator = "."

    def __init__(
        self,
        url: str | os.PathLike[str] | MutableMapping[str, Any],
        normalize_keys: bool = False,
        key_separator: str | None = None,
        mode: str = "w",
        exceptions: tuple[type[BaseException], ...] = (KeyError, PermissionError, IOError),
        dimension_separator: str | None = None,
        fs: Any = None,
        check: bool = False,
        create: bool = False,
        missing_exceptions: tuple[type[BaseException], ...] | None = None,
        **storage_options: Any,
    ) -> None:
        if dimension_separator is not None or key_separator is not None:
            warnings.warn(
                "N5FSStore ignores dimension_separator/key_separator: N5 chunk keys use '.' "
                "and are stored as reversed block paths",
                UserWarning,
                stacklevel=2,
            )
        if isinstance(url, N5Layout):  # an N5 store: the files below it
            url = url._files
        self._files = FSStore(
            url,
            mode=mode,
            exceptions=exceptions,
            fs=fs,
            check=check,
            create=create,
            missing_exceptions=missing_exceptions,
            **storage_options,
        )
        self.normalize_keys = normalize_keys
        self._read_only = self._files.read_only
        self._init_layout()

    @property
    def fs(self) -> Any:
        return self._files.fs  # type: ignore[attr-defined]

    @property
    def map(self) -> Any:
        return self._files.map  # type: ignore[attr-defined]

    @property
    def path(self) -> str:
        return self._files.path  # type: ignore[attr-defined]

    @property
    def mode(self) -> str:
        return self._files.mode  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._files == other._files

    __hash__ = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._files.url!r})"  # type: ignore[attr-defined]


# zarr 2 names the classes zarr.n5.*; pickles and reprs use the public path
N5Store.__module__ = "zarrkit.n5"
N5FSStore.__module__ = "zarrkit.n5"
