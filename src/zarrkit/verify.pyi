# ``zarrkit.verify`` is the module ``zarrkit.tools.verify`` (the same object, see zarrkit/_moved.py)
from .tools.verify import *  # noqa: F403
