# ``zarrkit.copying`` is the module ``zarrkit.tools.copying`` (the same object, see zarrkit/_moved.py)
from .tools.copying import *  # noqa: F403
