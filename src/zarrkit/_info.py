"""Text and HTML reports for ``Array.info`` and ``Group.info``."""

from __future__ import annotations

import html
from textwrap import TextWrapper


def human_readable_size(size: int) -> str:
    """``33240`` -> ``'32.5K'``."""
    for unit, power in (("", 0), ("K", 10), ("M", 20), ("G", 30), ("T", 40)):
        if size < 2 ** (power + 10):
            return str(size) if power == 0 else f"{size / 2**power:.1f}{unit}"
    return f"{size / 2**50:.1f}P"


def bytes_text(n: int) -> str:
    return f"{n} ({human_readable_size(n)})" if n > 2**10 else str(n)


def type_name(obj: object) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__name__}"


def info_text(items: list[tuple[str, str]]) -> str:
    """Aligned ``key : value`` lines, values wrapped at 80 columns."""
    width = max(len(k) for k, _ in items)
    lines = []
    for k, v in items:
        wrapper = TextWrapper(
            width=80, initial_indent=k.ljust(width) + " : ", subsequent_indent=" " * width + " : "
        )
        lines.append(wrapper.fill(str(v)))
    return "\n".join(lines) + "\n"


def info_html(items: list[tuple[str, str]]) -> str:
    rows = "".join(
        f'<tr><th style="text-align: left">{html.escape(k)}</th>'
        f'<td style="text-align: left">{html.escape(str(v))}</td></tr>'
        for k, v in items
    )
    return f'<table class="zarrkit-info">{rows}</table>'


class InfoReporter:
    """What ``.info`` returns: prints as text, renders as an HTML table in Jupyter."""

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def items(self) -> list[tuple[str, str]]:
        return self.obj.info_items()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return info_text(self.items())

    def _repr_html_(self) -> str:
        return info_html(self.items())
