"""zarrkit: chunked, compressed N-dimensional arrays in the Zarr v2 format.

A drop-in implementation of the zarr 2 API: ``import zarrkit as zarr``.

>>> import zarrkit
>>> z = zarrkit.zeros((10000, 10000), chunks=(1000, 1000), dtype='i4')
>>> z[0, :3] = 1
>>> z[0, :4]
array([1, 1, 1, 0], dtype=int32)
"""

from numcodecs import Blosc

# _moved first: the old module paths (zarrkit.n5 is zarrkit.compat.n5, ...), loaded as before
from . import _moved, codecs, copying, creation, dask, n5, rechunking, storage  # noqa: F401
from ._many import read_many
from ._node import default_zarr_format, set_default_zarr_format
from ._pool import get_num_threads, set_num_threads
from ._tree import tree
from .apps.dask import from_dask, to_dask
from .compat.n5 import N5FSStore
from .convenience import (
    consolidate_metadata,
    copy,
    copy_all,
    copy_store,
    load,
    open,
    open_consolidated,
    save,
    save_array,
    save_group,
)
from .core import Array
from .creation import (
    array,
    create,
    empty,
    empty_like,
    full,
    full_like,
    ones,
    ones_like,
    open_array,
    open_like,
    zeros,
    zeros_like,
)
from .errors import *  # noqa: F403
from .hierarchy import Group, group, open_group
from .storage import (
    ABSStore,
    DBMStore,
    DirectoryStore,
    FSStore,
    KVStore,
    LMDBStore,
    LRUStoreCache,
    MemoryStore,
    MongoDBStore,
    N5Store,
    NestedDirectoryStore,
    ObjectStore,
    RedisStore,
    SQLiteStore,
    ZipStore,
)
from .sync import ProcessSynchronizer, ThreadSynchronizer
from .tools.converting import convert
from .tools.rechunking import rechunk

# zarr 2 also names these in zarr.storage; they live in creation, a layer above the stores
storage.init_array = creation.init_array
storage.init_group = creation.init_group

__version__ = "0.1.0"

__all__ = [
    "Group",
    "group",
    "open_group",
    "tree",
    "Array",
    "Blosc",
    "ABSStore",
    "DBMStore",
    "MongoDBStore",
    "RedisStore",
    "DirectoryStore",
    "FSStore",
    "LMDBStore",
    "LRUStoreCache",
    "N5Store",
    "N5FSStore",
    "KVStore",
    "MemoryStore",
    "NestedDirectoryStore",
    "ObjectStore",
    "ProcessSynchronizer",
    "ThreadSynchronizer",
    "SQLiteStore",
    "ZipStore",
    "array",
    "consolidate_metadata",
    "convert",
    "copy",
    "copy_all",
    "copy_store",
    "open_consolidated",
    "codecs",
    "create",
    "empty",
    "empty_like",
    "full",
    "full_like",
    "get_num_threads",
    "load",
    "ones",
    "ones_like",
    "open",
    "open_array",
    "open_like",
    "read_many",
    "rechunk",
    "save",
    "save_array",
    "save_group",
    "set_num_threads",
    "default_zarr_format",
    "set_default_zarr_format",
    "storage",
    "zeros",
    "zeros_like",
    "to_dask",
    "from_dask",
]
