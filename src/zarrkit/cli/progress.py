"""Progress display for long commands: tqdm when installed, else one rewritten stderr line.

Shown only when stderr is a terminal and ``--quiet`` is not given. The library functions take
a ``progress(done, total)`` callable; :func:`progress_callback` makes one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

Callback = Callable[[int, int], None]


class _Line:
    """``desc: done/total unit (pct%)`` rewritten in place, at most ten times a second."""

    def __init__(self, desc: str, unit: str, stream: TextIO) -> None:
        self.desc, self.unit, self.stream = desc, unit, stream
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        pct = f" ({100 * done // total}%)" if total else ""
        self.stream.write(f"\r{self.desc}: {done:,}/{total:,} {self.unit}{pct}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


class _Tqdm:
    def __init__(self, tqdm: Any, desc: str, unit: str) -> None:
        self.bar = tqdm(desc=desc, unit=unit, total=0, unit_scale=unit == "B")

    def __call__(self, done: int, total: int) -> None:
        if self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


@contextmanager
def progress_callback(
    desc: str, unit: str, quiet: bool, stream: TextIO | None = None
) -> Iterator[Callback | None]:
    """A ``progress(done, total)`` callable for ``desc`` (None when nothing is to be shown)."""
    stream = sys.stderr if stream is None else stream
    if quiet or not stream.isatty():
        yield None
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    shown: _Line | _Tqdm = (
        _Tqdm(tqdm, desc, unit) if tqdm is not None else _Line(desc, unit, stream)
    )
    try:
        yield shown
    finally:
        shown.close()
