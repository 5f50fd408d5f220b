"""The ``zarrkit`` command line: a thin layer of argument parsing and printing over the library.

``zarrkit COMMAND ...`` (or ``python -m zarrkit COMMAND ...``); ``zarrkit COMMAND --help``
describes each command. Exit codes: 0 success, 1 ``verify`` found problems, 2 bad input or
an error that stopped the command (a one-line message; ``--debug`` shows the traceback).
"""

from .main import main

__all__ = ["main"]
