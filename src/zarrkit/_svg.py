"""The picture of an array's chunk grid for Jupyter (``Array._repr_html_``): an SVG drawing.

A 1-d array is drawn as one row, a 2-d array as its grid (rows down, columns across, in
proportion to the shape), and an array of more dimensions by its last two, with a note.
Chunk boundaries are thin lines; for a sharded array the shard boundaries are drawn over
them as thick lines. The stored keys (chunks, or shards when sharded) are shaded; for an
array of three or more dimensions a cell is shaded when a key is stored at any position
along the leading dimensions.

Bounded whatever the array (the drawing is plain text inside a notebook's output):

- along an axis of more than :data:`MAX_CELLS` cells, only every k-th boundary is drawn
  (still at its true, proportional position), so at most about ``MAX_CELLS`` lines per axis
  and kind;
- the store is listed (once) only when the drawn grid of stored keys is at most
  ``MAX_CELLS`` along each axis and the whole array has at most :data:`MAX_KEYS` keys in
  its grid; otherwise nothing is shaded and the caption says so. Shaded cells are merged
  along rows (one ``rect`` per run of stored cells, its ``data-cells`` the run's length).

No dependencies: the text is written here. :func:`grid_svg` takes the metadata record and
a function that lists the array's keys (relative to the array), called at most once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from html import escape

from ._grid import grid_shape
from .formats.meta import ArrayMeta

__all__ = ["grid_svg", "MAX_CELLS", "MAX_KEYS"]

#: cells along an axis drawn one by one (and shaded); beyond, lines are thinned, no shading
MAX_CELLS = 100
#: keys in an array's grid (all dimensions) up to which the store is listed for shading
MAX_KEYS = 10_000
#: the longer side of the drawing, in pixels
SIDE = 240
#: the shorter side's least size, so that a long thin array still shows its cells
THINNEST = 24
_PAD = 10
_LINE = 14  # caption line height

_STYLE = {
    "box": 'fill="none" stroke="#333" stroke-width="1.5"',
    "chunk": 'fill="none" stroke="#999" stroke-width="0.5"',
    "shard": 'fill="none" stroke="#333" stroke-width="1.5"',
    "stored": 'fill="#4a90d9" fill-opacity="0.55"',
}


def _sizes(rows: int, cols: int, one_d: bool) -> tuple[float, float]:
    """Width and height of the drawing for a plane of ``rows`` x ``cols`` items."""
    if one_d:
        return float(SIDE), float(THINNEST)
    r, c = max(rows, 1), max(cols, 1)
    if c >= r:
        return float(SIDE), max(float(THINNEST), SIDE * r / c)
    return max(float(THINNEST), SIDE * c / r), float(SIDE)


def _boundaries(n: int, size: int, ncells: int) -> list[int]:
    """The inner cell boundaries along an axis of ``n`` items and cells of ``size``, as item
    positions; every k-th one when there are more than ``MAX_CELLS`` cells."""
    step = max(1, math.ceil(ncells / MAX_CELLS))
    return [k * size for k in range(step, ncells, step)]


def _lines(rows: int, cols: int, row_size: int, col_size: int, width: float, height: float) -> str:
    """One SVG path of the inner boundaries of a grid of cells over a plane of ``rows`` x
    ``cols`` items drawn ``width`` x ``height`` pixels (empty if there are none)."""
    parts = []
    for b in _boundaries(rows, row_size, grid_shape((rows,), (row_size,))[0]):
        y = _PAD + height * b / rows
        parts.append(f"M{_PAD:g} {y:.1f}h{width:.1f}")
    for b in _boundaries(cols, col_size, grid_shape((cols,), (col_size,))[0]):
        x = _PAD + width * b / cols
        parts.append(f"M{x:.1f} {_PAD:g}v{height:.1f}")
    return "".join(parts)


def grid_svg(meta: ArrayMeta, list_keys: Callable[[], Iterable[str]] | None = None) -> str:
    """The SVG drawing of ``meta``'s chunk grid (``""`` for a 0-d array), with the stored
    keys that ``list_keys()`` names (relative to the array) shaded when the bounds allow."""
    ndim = meta.ndim
    if ndim == 0:
        return ""
    one_d = ndim == 1
    shape = (1, *meta.shape) if one_d else meta.shape[-2:]
    chunks = (1, *meta.chunks) if one_d else meta.chunks[-2:]
    shards = None
    if meta.shards is not None:
        shards = (1, *meta.shards) if one_d else meta.shards[-2:]
    rows, cols = shape
    width, height = _sizes(rows, cols, one_d)
    unit = "shard" if shards is not None else "chunk"
    stored_grid = meta.stored_grid
    plane = (1, *stored_grid) if one_d else stored_grid[-2:]
    total = math.prod(stored_grid)

    body = [
        f'<rect x="{_PAD}" y="{_PAD}" width="{width:.1f}" height="{height:.1f}" {_STYLE["box"]}/>'
    ]
    caption = [f"shape {meta.shape}, chunks {meta.chunks}"]
    if meta.shards is not None:
        caption[0] += f", shards {meta.shards}"

    # shading: the stored keys, listed once when the grid is small enough
    if rows and cols and list_keys is not None:
        if max(plane) <= MAX_CELLS and total <= MAX_KEYS:
            stored: set[tuple[int, int]] = set()
            n_stored = 0
            try:
                keys = list_keys()
                for key in keys:
                    coords = meta.parse_chunk_key(key)
                    if coords is None:
                        continue
                    n_stored += 1
                    stored.add((0, coords[0]) if one_d else (coords[-2], coords[-1]))
            except Exception:  # a picture never fails: a store that cannot be listed
                caption.append("the store could not be listed: stored keys not shaded")
            else:
                body.extend(_shaded(stored, shape, shards or chunks, width, height))
                caption.append(f"{n_stored:,} of {total:,} {unit}s stored (shaded)")
        else:
            caption.append(f"{total:,} {unit}s in the grid: stored {unit}s not shaded")

    if rows and cols:
        chunk_path = _lines(rows, cols, chunks[0], chunks[1], width, height)
        if chunk_path:
            body.append(f'<path class="chunks" d="{chunk_path}" {_STYLE["chunk"]}/>')
        if shards is not None:
            shard_path = _lines(rows, cols, shards[0], shards[1], width, height)
            if shard_path:
                body.append(f'<path class="shards" d="{shard_path}" {_STYLE["shard"]}/>')
        cells = grid_shape(shape, chunks)
        if max(cells) > MAX_CELLS:
            grid = " x ".join(f"{n:,}" for n in (cells[1:] if one_d else cells))
            caption.append(f"chunk grid {grid}: lines thinned to at most {MAX_CELLS} per axis")
    if ndim > 2:
        caption.append(
            f"last 2 of {ndim} dimensions; shaded where any {unit} along the others is stored"
        )

    total_width = max(width + 2 * _PAD, 2 * _PAD + 6.2 * max(len(c) for c in caption))
    top = height + 2 * _PAD
    for i, text in enumerate(caption):
        body.append(
            f'<text x="{_PAD}" y="{top + _LINE * i + 4:.1f}" font-size="11" '
            f'font-family="sans-serif" fill="#333">{escape(text)}</text>'
        )
    total_height = top + _LINE * len(caption) + 4
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="zarrkit-grid" '
        f'width="{total_width:.0f}" height="{total_height:.0f}" '
        f'viewBox="0 0 {total_width:.0f} {total_height:.0f}">' + "".join(body) + "</svg>"
    )


def _shaded(
    stored: set[tuple[int, int]],
    shape: tuple[int, ...],
    unit: tuple[int, ...],
    width: float,
    height: float,
) -> list[str]:
    """``rect`` elements over the stored cells (of ``unit`` items each), merged along rows."""
    rows, cols = shape
    by_row: dict[int, list[int]] = {}
    for r, c in stored:
        by_row.setdefault(r, []).append(c)
    out = []
    for r in sorted(by_row):
        run = sorted(by_row[r])
        start = prev = run[0]
        for c in [*run[1:], -1]:  # -1: the end of the row
            if c == prev + 1:
                prev = c
                continue
            y0 = height * r * unit[0] / rows
            y1 = height * min(rows, (r + 1) * unit[0]) / rows
            x0 = width * start * unit[1] / cols
            x1 = width * min(cols, (prev + 1) * unit[1]) / cols
            out.append(
                f'<rect class="stored" data-cells="{prev - start + 1}" x="{_PAD + x0:.1f}" '
                f'y="{_PAD + y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" '
                f"{_STYLE['stored']}/>"
            )
            start = prev = c
    return out
