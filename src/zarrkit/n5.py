"""N5 support under the module path zarr 2 users import (``zarr.n5.N5Store``).

>>> from zarrkit.n5 import N5Store
"""

from .formats.n5 import N5ChunkWrapper
from .storage.n5 import N5Store

__all__ = ["N5Store", "N5ChunkWrapper"]
