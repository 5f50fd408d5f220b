"""zarr 2's compatibility modules: ``meta``, ``meta_v1``, ``util``, ``n5``, ``codecs``.

Code written against zarr 2 imports them as ``zarr.meta``, ``zarr.util``, ...; they keep
those paths (``zarrkit.meta is zarrkit.compat.meta``: each old path is the same module object,
registered in ``sys.modules`` when first imported). zarrkit itself does not use them: the
store layer looks ``meta.Metadata2`` and ``meta_v1.migrate_1to2`` up lazily, when asked for.
Nothing is imported here: ``import zarrkit`` loads only what it names (``codecs``, ``n5``).
"""
