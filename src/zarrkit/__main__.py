"""``python -m zarrkit``: the command line (see :mod:`zarrkit.cli`)."""

from .cli import main

raise SystemExit(main())
