# ``zarrkit.dask`` is the module ``zarrkit.apps.dask`` (the same object, see zarrkit/_moved.py)
from .apps.dask import *  # noqa: F403
