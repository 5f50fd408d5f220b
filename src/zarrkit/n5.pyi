# ``zarrkit.n5`` is the module ``zarrkit.compat.n5`` (the same object, see zarrkit/_moved.py)
from .compat.n5 import *  # noqa: F403
