"""The chunk grid's arithmetic, written once (a cross-cut module: it imports nothing).

A regular grid of ``chunks``-shaped cells over an array of ``shape``: how many cells there
are along each dimension, which cells are edge cells (they reach past the array's end and
hold padding), and which cells a shrink cuts off. The metadata record (``formats.meta``),
the selection plans (``indexing``), resizing (``core``) and the tools use these functions.

>>> grid_shape((10, 4), (3, 4))
(4, 1)
>>> edge_start((10, 4), (3, 4))
(3, 1)
>>> sorted(cut_off((4, 1), (2, 1)))
[(2, 0), (3, 0)]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

__all__ = ["cut_off", "edge_start", "grid_shape", "is_edge"]


def grid_shape(shape: tuple[int, ...], chunks: tuple[int, ...]) -> tuple[int, ...]:
    """Cells along each dimension (integer division: float division is wrong past 2**53)."""
    return tuple(-(-s // c) if c else 0 for s, c in zip(shape, chunks))


def edge_start(shape: tuple[int, ...], chunks: tuple[int, ...]) -> tuple[int, ...]:
    """Along each dimension, the index of the first cell that reaches past the array's end
    (the cell count when the array ends on a cell boundary: no edge cell there)."""
    return tuple(s // c if c and s % c else -(-s // c) if c else 0 for s, c in zip(shape, chunks))


def is_edge(coords: tuple[int, ...], starts: tuple[int, ...]) -> bool:
    """Whether the cell at ``coords`` is an edge cell (``starts`` from :func:`edge_start`)."""
    return any(c >= e for c, e in zip(coords, starts))


def cut_off(old: tuple[int, ...], new: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """Coordinates of the cells of grid ``old`` that are outside grid ``new`` (same rank)."""
    for d in range(len(old)):
        if new[d] >= old[d]:
            continue
        ranges = [
            range(min(o, n)) if i < d else range(n, o) if i == d else range(o)
            for i, (o, n) in enumerate(zip(old, new))
        ]
        yield from itertools.product(*ranges)
