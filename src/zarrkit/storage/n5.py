"""A store for the N5 layout on a local file system.

The rest of zarrkit sees Zarr v2 keys: ``.zarray`` / ``.zgroup`` / ``.zattrs`` are read from
and written to each node's ``attributes.json``, and a chunk key such as ``'foo/1.2'`` is the
block file ``foo/2/1`` (indices reversed). The metadata translation and the block layout
live in :mod:`zarrkit.formats.n5`; this is the one store module that calls a format module,
because N5 decides its keys by what its metadata say.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..errors import MetadataError
from ..formats import n5
from ..formats.v2 import (
    decode_array_meta,
    decode_attrs,
    decode_group_meta,
    encode_array_meta,
    encode_group_meta,
    json_dumps,
)
from .base import Store, join_path, normalize_storage_path, prefix_of
from .directory import _TEMP_SUFFIX, DirectoryStore

_ARRAY, _GROUP, _ATTRS = ".zarray", ".zgroup", ".zattrs"
_CHUNK = re.compile(r"\d+(\.\d+)*\Z")


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


class N5Store(Store):
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

    def __init__(
        self,
        path: str | os.PathLike,
        normalize_keys: bool = False,
        dimension_separator: str | None = None,
    ) -> None:
        if dimension_separator not in (None, "."):
            raise ValueError("N5Store keys chunks with '.' (stored as N5 block paths)")
        self.path = os.path.abspath(os.fspath(path))
        self.normalize_keys = normalize_keys
        self._files = DirectoryStore(self.path)
        # .zarray and .zattrs of a node share its attributes.json: one update at a time
        self._meta_lock = threading.RLock()

    def __getstate__(self) -> dict:
        return {"path": self.path, "normalize_keys": self.normalize_keys, "ro": self._read_only}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["normalize_keys"])
        self._read_only = state.get("ro", False)

    # -- attributes.json -----------------------------------------------------------------
    def _key(self, key: str) -> str:
        return key.lower() if self.normalize_keys else key

    def _load(self, path: str) -> dict | None:
        """The ``attributes.json`` of ``path`` (None when there is none)."""
        key = join_path(path, n5.ATTRS_FILE)
        try:
            raw = self._files[key]
        except KeyError:
            return None
        try:
            doc = json.loads(raw)
        except ValueError as e:
            raise MetadataError(f"{key!r} in {self.path!r} is not valid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise MetadataError(f"{key!r} in {self.path!r} is not a JSON object")
        return doc

    def _save(self, path: str, attrs: dict) -> None:
        if not path:
            attrs = {"n5": n5.N5_VERSION, **attrs}
        self._files[join_path(path, n5.ATTRS_FILE)] = json_dumps(attrs)
        if path:
            root = self._load("")
            if root is None or "n5" not in root:
                self._save("", root or {})

    def _dir(self, path: str) -> str:
        return os.path.join(self.path, *path.split("/")) if path else self.path

    def _inside_array(self, path: str) -> bool:
        parts = path.split("/") if path else []
        return any(n5.is_array_attrs(self._load("/".join(parts[:i]))) for i in range(len(parts)))

    def _is_group(self, path: str) -> bool:
        attrs = self._load(path)
        if attrs is not None:
            return not n5.is_array_attrs(attrs)
        # N5: every directory is a group (one without attributes may lack attributes.json)
        return os.path.isdir(self._dir(path)) and not self._inside_array(path)

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
            self._save(parent, {k: v for k, v in attrs.items() if k in n5.N5_KEYWORDS})  # type: ignore[union-attr]
            return
        if attrs is None or n5.is_array_attrs(attrs) != (name == _ARRAY):
            raise KeyError(key)
        del self._files[join_path(parent, n5.ATTRS_FILE)]

    # -- mapping -------------------------------------------------------------------------
    def __getitem__(self, key: str) -> bytes:
        kind, parent, name = _parse(self._key(key))
        if kind == "meta":
            return self._get_meta(key, parent, name)
        try:
            return self._files[
                _block_path(parent, name) if kind == "chunk" else join_path(parent, name)
            ]
        except KeyError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        self.setitems({key: value})

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        kind, parent, name = _parse(self._key(key))
        if kind == "meta":
            self._del_meta(key, parent, name)
            return
        try:
            del self._files[
                _block_path(parent, name) if kind == "chunk" else join_path(parent, name)
            ]
        except KeyError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            kind, parent, name = _parse(self._key(key))
        except ValueError:
            return False
        if kind == "chunk":
            return _block_path(parent, name) in self._files
        if kind == "raw":
            return join_path(parent, name) in self._files
        if name == _GROUP:
            return self._is_group(parent)
        attrs = self._load(parent)
        if name == _ARRAY:
            return n5.is_array_attrs(attrs)
        return bool(n5.user_attrs(attrs))

    def __iter__(self) -> Iterator[str]:
        return self._walk("")

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _walk(self, path: str) -> Iterator[str]:
        """Every key (in zarrkit's terms) at or below the node ``path``."""
        folder = self._dir(path)
        if not os.path.isdir(folder):
            return
        attrs = self._load(path)
        prefix = prefix_of(path)
        if n5.user_attrs(attrs):
            yield prefix + _ATTRS
        if n5.is_array_attrs(attrs):
            yield prefix + _ARRAY
            ndim = len(attrs["dimensions"])  # type: ignore[index]
            for rel in self._files.keys_under(path):
                parts = rel.split("/")
                if len(parts) == ndim and all(p.isdigit() for p in parts):
                    yield prefix + ".".join(reversed(parts))
                elif rel != n5.ATTRS_FILE:
                    yield prefix + rel
            return
        yield prefix + _GROUP
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.is_dir():
                yield from self._walk(prefix + entry.name)
            elif entry.name != n5.ATTRS_FILE and not entry.name.endswith(_TEMP_SUFFIX):
                yield prefix + entry.name

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
                files[_block_path(parent, name) if kind == "chunk" else join_path(parent, name)] = (
                    key
                )
        if files:
            for fkey, value in self._files.getitems(list(files)).items():
                out[files[fkey]] = value
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        self._check_writable()
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
                    codec = n5.N5ChunkWrapper(
                        cfg["dtype"],
                        cfg["chunk_shape"],
                        cfg["compressor_config"],  # type: ignore[index]
                    )
                value = codec.resize_block(value, valid)
            out[name] = value
        return out

    def delitems(self, keys: Iterable[str]) -> None:
        self._check_writable()
        files = []
        for key in keys:
            kind, parent, name = _parse(self._key(key))
            if kind == "meta":
                try:
                    self._del_meta(key, parent, name)
                except KeyError:
                    pass
            else:
                files.append(
                    _block_path(parent, name) if kind == "chunk" else join_path(parent, name)
                )
        if files:
            self._files.delitems(files)

    # -- hierarchy -----------------------------------------------------------------------
    def listdir(self, path: str = "") -> list[str]:
        path = normalize_storage_path(self._key(path))
        if not os.path.isdir(self._dir(path)):
            return []
        attrs = self._load(path)
        if n5.is_array_attrs(attrs):
            return sorted({k.split("/", 1)[0] for k in self.keys_under(path)})
        names = {_GROUP}
        if n5.user_attrs(attrs):
            names.add(_ATTRS)
        for name in os.listdir(self._dir(path)):
            if name != n5.ATTRS_FILE and not name.endswith(_TEMP_SUFFIX):
                names.add(name)
        return sorted(names)

    def keys_under(self, path: str = "") -> list[str]:
        path = normalize_storage_path(self._key(path))
        start = len(prefix_of(path))
        return sorted(k[start:] for k in self._walk(path))

    def rmdir(self, path: str = "") -> None:
        self._check_writable()
        self._files.rmdir(normalize_storage_path(self._key(path)))

    def getsize(self, path: str = "") -> int:
        path = normalize_storage_path(self._key(path))
        if path:
            kind, parent, name = _parse(path)
            if kind == "meta":
                return len(self[path]) if path in self else 0
            target = _block_path(parent, name) if kind == "chunk" else path
            if os.path.isfile(self._dir(target)):
                return os.path.getsize(self._dir(target))
        return self._files.getsize(path)

    def size_below(self, path: str = "") -> int:
        path = normalize_storage_path(self._key(path))
        if path and path in self:
            return self.getsize(path)
        return self._files.size_below(path)

    def rename(self, src_path: str, dst_path: str) -> None:
        self._check_writable()
        self._files.rename(self._key(src_path), self._key(dst_path))

    def clear(self) -> None:
        self.rmdir("")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, N5Store) and self.path == other.path

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


# zarr 2 names the class zarr.n5.N5Store; pickles and reprs use the public path
N5Store.__module__ = "zarrkit.n5"
