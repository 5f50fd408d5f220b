"""The numcodecs codecs, re-exported under ``zarrkit.codecs`` (as ``zarr.codecs`` does)."""

from numcodecs import *  # noqa: F401,F403
from numcodecs import Blosc, Delta, Zlib, Zstd, get_codec, register_codec  # noqa: F401
