# ``zarrkit.rechunking`` is the module ``zarrkit.tools.rechunking`` (the same object, see zarrkit/_moved.py)
from .tools.rechunking import *  # noqa: F403
