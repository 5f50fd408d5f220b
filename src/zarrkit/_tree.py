"""Tree view of a group: box-drawing text for the terminal, a nested HTML list for Jupyter."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TreeViewer", "tree"]

# (vertical, branch, last branch, horizontal)
_UNICODE = ("\u2502", "\u251c", "\u2514", "\u2500")
_ASCII = ("|", "+", "+", "-")


@dataclass
class _Node:
    label: str
    is_group: bool
    depth: int
    children: list[_Node] = field(default_factory=list)


def _is_array(obj: Any) -> bool:
    # Ask the type, not the instance: a group answers attribute lookups with its members, so
    # a member named 'shape' must not make the group look like an array.
    return hasattr(type(obj), "shape")


def _label(obj: Any) -> str:
    name = obj.name.split("/")[-1] or "/"
    if _is_array(obj):
        name += f" {obj.shape} {obj.dtype}"
    return name


def _build(obj: Any, depth: int, level: int | None) -> _Node:
    is_group = not _is_array(obj)
    node = _Node(_label(obj), is_group, depth)
    if is_group and (level is None or depth < level):
        node.children = [_build(child, depth + 1, level) for child in obj.values()]
    return node


def _render_text(root: _Node, gfx: tuple[str, str, str, str]) -> str:
    vertical, branch, last_branch, horizontal = gfx
    lines = [root.label]

    def walk(node: _Node, prefix: str) -> None:
        for i, child in enumerate(node.children):
            last = i == len(node.children) - 1
            lines.append(f"{prefix}{last_branch if last else branch}{horizontal * 2} {child.label}")
            walk(child, prefix + (" " if last else vertical) + "   ")

    walk(root, " ")
    return "\n".join(lines)


def _render_html(node: _Node, expand: bool | int, root: bool = True) -> str:
    kind = "group" if node.is_group else "array"
    label = f'<span class="zarrkit-tree-{kind}">{html.escape(node.label)}</span>'
    if not node.children:
        return f"<li>{label}</li>"
    opened = (
        root
        or expand is True
        or (not isinstance(expand, bool) and isinstance(expand, int) and node.depth < expand)
    )
    items = "".join(_render_html(c, expand, root=False) for c in node.children)
    return f"<li><details{' open' if opened else ''}><summary>{label}</summary><ul>{items}</ul></details></li>"


class TreeViewer:
    """What :meth:`Group.tree` returns; the hierarchy is read each time it is shown.

    ``repr()`` gives box-drawing text, ``bytes()`` the same in ASCII, ``_repr_html_`` a nested
    HTML list whose first ``expand`` levels are open (all with ``expand=True``).
    """

    def __init__(self, group: Any, expand: bool | int = False, level: int | None = None) -> None:
        self.group = group
        self.expand = expand
        self.level = level

    def _root(self) -> _Node:
        return _build(self.group, 0, self.level)

    def __repr__(self) -> str:
        return _render_text(self._root(), _UNICODE)

    def __bytes__(self) -> bytes:
        return _render_text(self._root(), _ASCII).encode()

    def _repr_html_(self) -> str:
        return f'<ul class="zarrkit-tree">{_render_html(self._root(), self.expand)}</ul>'


def tree(grp: Any, expand: bool | int = False, level: int | None = None) -> TreeViewer:
    """Tree view of the hierarchy below ``grp``: a zarrkit group or any h5py-like group.

    >>> import zarrkit
    >>> g = zarrkit.group()
    >>> _ = g.create_groups('a', 'b')
    >>> zarrkit.tree(g)
    /
     ├── a
     └── b
    """
    return TreeViewer(grp, expand=expand, level=level)
