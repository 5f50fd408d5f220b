# ``zarrkit.meta_v1`` is the module ``zarrkit.compat.meta_v1`` (the same object, see zarrkit/_moved.py)
from .compat.meta_v1 import *  # noqa: F403
