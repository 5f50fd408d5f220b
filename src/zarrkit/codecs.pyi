# ``zarrkit.codecs`` is the module ``zarrkit.compat.codecs`` (the same object, see zarrkit/_moved.py)
from .compat.codecs import *  # noqa: F403
