"""zarr 2 applications on zarrkit: this ``zarr`` package is zarrkit under zarr 2's names.

``import zarr`` and every ``zarr.<module>`` zarr 2 has give zarrkit's own modules and objects
(``zarr.core is zarrkit.core``, ``zarr.Array is zarrkit.Array``), so ``isinstance`` checks,
monkeypatching and pickles agree. ``zarr.__version__`` and the distribution's metadata say
2.18.7 with the local label ``+zarrkit``, which pins such as ``zarr<3`` and ``zarr>=2.18`` accept.

The drop-in never runs mixed with another zarr: if files of another zarr distribution sit in
this package's folder, or the metadata of another zarr distribution is the one Python sees,
``import zarr`` fails and says how to repair the environment.
"""

import importlib as _importlib
import importlib.metadata as _metadata
import os as _os
import sys as _sys

from . import version as _version_module

#: the files this distribution installs in the package folder (anything else is foreign)
_OWN_FILES = {"__init__.py", "version.py", "context.py", "types.py", "py.typed", "__pycache__"}

#: zarr 2's modules that zarrkit implements under the same name
_ALIASED = (
    "attrs",
    "codecs",
    "convenience",
    "core",
    "creation",
    "errors",
    "hierarchy",
    "indexing",
    "meta",
    "meta_v1",
    "n5",
    "storage",
    "sync",
    "util",
)

_REPAIR = (
    "repair the environment: run `pip uninstall -y zarr` until pip finds no zarr, then "
    "install exactly one of: "
    "the zarrkit drop-in (`pip install <zarrkit checkout>/dropin`) or zarr-python "
    "(`pip install 'zarr==2.18.7'`)"
)


def _check_alone() -> None:
    """Refuse to run when another zarr distribution's files or metadata are mixed in."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    foreign = sorted(set(_os.listdir(here)) - _OWN_FILES)
    if foreign:
        raise ImportError(
            f"the zarrkit drop-in `zarr` package in {here} holds files of another zarr "
            f"distribution ({', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''}); "
            + _REPAIR
        )
    try:
        seen = _metadata.version("zarr")
    except _metadata.PackageNotFoundError:
        return  # run from a source tree (tests): nothing installed to disagree with
    if not seen.endswith("+zarrkit"):
        raise ImportError(
            f"`import zarr` found the zarrkit drop-in, but the installed zarr distribution is "
            f"zarr {seen}: two zarr installations are mixed; " + _REPAIR
        )


_check_alone()

import zarrkit as _zarrkit  # noqa: E402

for _name in _ALIASED:
    _module = _importlib.import_module("zarrkit." + _name)
    _sys.modules[__name__ + "." + _name] = _module
    globals()[_name] = _module

from zarrkit import *  # noqa: E402, F403

for _name in dir(_zarrkit):
    if not _name.startswith("_") and _name not in globals():
        globals()[_name] = getattr(_zarrkit, _name)

from . import context, types  # noqa: E402, F401

version = _version_module
__version__ = _version_module.__version__
__all__ = list(_zarrkit.__all__)

del _name, _module
