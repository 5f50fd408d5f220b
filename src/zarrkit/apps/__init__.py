"""Applications on top of zarrkit's core: ``dask`` (``to_dask`` / ``from_dask``) and
``xarray_backend`` (``engine="zarrkit"``).

Their public paths stay ``zarrkit.dask`` and ``zarrkit.xarray_backend`` (the same module
objects as ``zarrkit.apps.dask`` and ``zarrkit.apps.xarray_backend``); the xarray entry point
names ``zarrkit.xarray_backend:ZarrkitBackendEntrypoint``. Nothing is imported here.
"""
