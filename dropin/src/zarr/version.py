"""The zarr 2 release this drop-in stands for, with zarrkit's local label."""

import importlib.metadata as _metadata

try:
    __version__ = version = _metadata.version("zarr")
except _metadata.PackageNotFoundError:  # a source tree, not installed
    __version__ = version = "2.18.7+zarrkit"

#: (2, 18, 7, 'zarrkit')
__version_tuple__ = version_tuple = tuple(
    int(p) if p.isdigit() else p for p in version.replace("+", ".").split(".")
)
