"""N5 support under the module path zarr 2 users import (``zarr.n5.N5Store``).

>>> from zarrkit.n5 import N5Store, N5FSStore
"""

from ..formats.n5 import ATTRS_FILE, N5_KEYWORDS, N5_VERSION, N5ChunkWrapper
from ..storage.n5 import N5FSStore, N5Store

__all__ = ["N5Store", "N5FSStore", "N5ChunkWrapper", "N5_FORMAT", "n5_attrs_key", "n5_keywords"]

#: N5 version written under ``"n5"`` in a container's root ``attributes.json``
N5_FORMAT = N5_VERSION
#: the file of a group's or dataset's attributes
n5_attrs_key = ATTRS_FILE
#: members of ``attributes.json`` reserved by N5 (not user attributes)
n5_keywords = list(N5_KEYWORDS)
