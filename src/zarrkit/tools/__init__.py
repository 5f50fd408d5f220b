"""Tools over whole hierarchies, on top of zarrkit's core: ``verify`` (decode every chunk,
find strays), ``rechunking`` (``zarrkit.rechunk``) and ``copying`` (``copy``, ``copy_all``,
``copy_store``); the ``zarrkit`` command (``cli/``) runs them. ``cluster`` runs their chunk
work on a Dask cluster (``scheduler=``), importing dask only then.

Their public paths stay ``zarrkit.verify``, ``zarrkit.rechunking`` and ``zarrkit.copying``
(the same module objects as ``zarrkit.tools.verify``, ...). Nothing is imported here.
"""
