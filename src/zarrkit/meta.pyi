# ``zarrkit.meta`` is the module ``zarrkit.compat.meta`` (the same object, see zarrkit/_moved.py)
from .compat.meta import *  # noqa: F403
