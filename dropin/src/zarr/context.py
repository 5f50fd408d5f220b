"""zarr 2's ``zarr.context``: the per-key context a store's ``getitems`` may receive."""

from typing import TypedDict

from numcodecs.compat import NDArrayLike


class Context(TypedDict, total=False):
    """What a caller may tell a store about a key it reads (zarr 2 passes ``meta_array``)."""

    meta_array: NDArrayLike
