"""zarr 2's ``zarr.types``: the typing names its signatures use."""

from typing import Any, Literal, Protocol

ZARR_VERSION = Literal[2, 3]
DIMENSION_SEPARATOR = Literal[".", "/"]
MEMORY_ORDER = Literal["C", "F"]

PathLike = Any


class MetaArray(Protocol):
    """An array type (NumPy or a NumPy-like) that chunks are decoded into."""

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any: ...
