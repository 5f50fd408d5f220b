"""The shared thread pool under its older name: this module *is* :mod:`zarrkit._pool`.

The pool sits below the stores (they read and write files in parallel with it), so it lives
in a cross-cut module; ``zarrkit.pipeline.executor`` stays importable for code that used it,
as the same module object (its functions, and anything patched on it, are the pool's own).
"""

from __future__ import annotations

import sys

from .. import _pool
from .._pool import get_num_threads, in_worker, run_parallel, set_num_threads

__all__ = ["get_num_threads", "in_worker", "run_parallel", "set_num_threads"]

sys.modules[__name__] = _pool
