# ``zarrkit.xarray_backend`` is the module ``zarrkit.apps.xarray_backend`` (the same object, see zarrkit/_moved.py)
from .apps.xarray_backend import *  # noqa: F403
