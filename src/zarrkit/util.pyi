# ``zarrkit.util`` is the module ``zarrkit.compat.util`` (the same object, see zarrkit/_moved.py)
from .compat.util import *  # noqa: F403
