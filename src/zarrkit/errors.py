"""Exceptions raised by zarrkit.

The names are those of zarr 2, so ``except zarr.errors.ContainsArrayError`` keeps working.
Each one also subclasses the builtin that fits, so generic handlers catch it too.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ZarrkitError",
    "ContainsArrayError",
    "ContainsGroupError",
    "ArrayNotFoundError",
    "GroupNotFoundError",
    "PathNotFoundError",
    "ReadOnlyError",
    "BoundsCheckError",
    "NegativeStepError",
    "VindexInvalidSelectionError",
    "MetadataError",
    "CorruptChunkError",
    "MissingChunkError",
    "BadCompressorError",
    "StoreArgumentError",
    "CopyError",
    "err_too_many_indices",
    "UnsupportedFormatError",
]


class ZarrkitError(Exception):
    """Base class of every zarrkit-specific exception."""


class _PathError(ZarrkitError, ValueError):
    """An error about a hierarchy path; ``where`` names the store's location (file or URL)."""

    _template = "{path!r}"
    #: "not found" errors name the store's location; "contains" errors keep zarr 2's message
    _names_location = False

    def __init__(self, path: str, where: str | None = None) -> None:
        self.path = path
        self.where = where
        msg = self._template.format(path=path)
        if where is not None and self._names_location:
            if path:
                msg += f" in {where!r}"
            else:  # the root of the store: the store's location is the useful name
                msg = msg.replace(" at path ''", "").replace("path ''", repr(where))
                if repr(where) not in msg:
                    msg += f" in {where!r}"
        super().__init__(msg)


class ContainsArrayError(_PathError):
    """An array already exists where something else was to be created."""

    _template = "path {path!r} contains an array"


class ContainsGroupError(_PathError):
    """A group already exists where something else was to be created."""

    _template = "path {path!r} contains a group"


class _NotFound(_PathError, KeyError):
    _names_location = True

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class ArrayNotFoundError(_NotFound):
    """No array metadata at the path."""

    _template = "array not found at path {path!r}"


class GroupNotFoundError(_NotFound):
    """No group metadata at the path."""

    _template = "group not found at path {path!r}"


class PathNotFoundError(_NotFound):
    """Neither an array nor a group at the path."""

    _template = "nothing found at path {path!r}"


class ReadOnlyError(ZarrkitError, PermissionError):
    """A write was attempted on a read-only array, group, attributes or store."""

    def __init__(self, what: str = "object") -> None:
        super().__init__(f"{what} is read-only")


class BoundsCheckError(ZarrkitError, IndexError):
    """An index falls outside the array."""

    def __init__(self, dim_len: int, index: object = None) -> None:
        if index is None:
            msg = f"index out of bounds for dimension with length {dim_len}"
        else:
            msg = f"index {index} is out of bounds for dimension with length {dim_len}"
        super().__init__(msg)


class NegativeStepError(ZarrkitError, IndexError):
    """A slice with a negative step was used."""

    def __init__(self) -> None:
        super().__init__("only slices with step >= 1 are supported")


class VindexInvalidSelectionError(ZarrkitError, IndexError):
    """A selection that neither coordinate nor mask indexing accepts."""

    def __init__(self, selection: object) -> None:
        super().__init__(
            "unsupported selection type for vectorized indexing; only "
            "coordinate selection (tuple of integer arrays) and mask selection "
            f"(single Boolean array) are supported; got {selection!r}"
        )


class MetadataError(ZarrkitError, ValueError):
    """Metadata that cannot be parsed or is missing required keys."""


class CorruptChunkError(ZarrkitError, ValueError):
    """The stored bytes of a chunk could not be decoded."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"chunk {key!r} could not be decoded: {reason}")


class ObjectCodecMissingError(ZarrkitError, TypeError, RuntimeError):
    """An object array whose filters name no object codec: its items cannot be stored or
    read. A ``TypeError``, and a ``RuntimeError`` as zarr 2 raised for it."""

    def __init__(self, action: str) -> None:
        super().__init__(
            f"cannot {action} an object array: its metadata names no object codec "
            "(the first filter of an object array)"
        )


class MissingChunkError(ZarrkitError, KeyError):
    """Strict reads: chunks that are not in the store."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        shown = ", ".join(repr(k) for k in keys[:10])
        more = f" and {len(keys) - 10} more" if len(keys) > 10 else ""
        super().__init__(f"missing chunks (strict mode): {shown}{more}")

    def __str__(self) -> str:
        return self.args[0]


class BadCompressorError(ZarrkitError, TypeError, ValueError):
    """The compressor is not a numcodecs codec."""

    def __init__(self, compressor: object) -> None:
        super().__init__(f"bad compressor; expected Codec object, found {compressor!r}")


class StoreArgumentError(ZarrkitError, TypeError, ValueError):
    """A store or file system path argument is an object of a type zarrkit cannot use.

    A ``TypeError`` naming the type: an object's ``str()`` or ``repr`` is never taken as a
    path. Also a ``ValueError``, which zarr 2 raised for objects that are not stores.
    """


class UnsupportedFormatError(ZarrkitError, ValueError):
    """The data at a path are in a format an operation does not handle yet (Zarr v3 data
    given to ``verify`` or ``consolidate_metadata``, which handle Zarr v2 only)."""

    def __init__(self, path: str, where: str | None = None, found: str = "zarr.json") -> None:
        self.path = path
        self.where = where
        place = repr(where) if where is not None else "the store"
        if path:
            place = f"path {path!r} in {place}"
        super().__init__(
            f"{place} holds Zarr v3 data ({found!r}), which this operation does not handle "
            "yet (Zarr v2 only)"
        )


class CopyError(ZarrkitError, RuntimeError):
    """A copy could not proceed (for example the destination exists)."""


def err_too_many_indices(selection: Any, shape: tuple[int, ...]) -> IndexError:
    """Return the error for a selection with more indices than dimensions."""
    return IndexError(f"too many indices for array; expected {len(shape)}, got {len(selection)}")
