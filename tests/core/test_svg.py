"""The chunk grid picture of ``Array._repr_html_`` (``zarrkit._svg``): valid SVG, the stored
keys shaded, shards drawn over chunks, bounded in size and in what it lists."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

import zarrkit
from zarrkit._svg import MAX_CELLS, MAX_KEYS, grid_svg

SVG = "{http://www.w3.org/2000/svg}"


def picture(z: zarrkit.Array) -> ET.Element:
    html = z._repr_html_()
    assert html.startswith('<div class="zarrkit-grid"><svg')
    svg = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    # the info table follows the drawing
    assert html[html.index("</svg>") :].startswith('</svg></div><table class="zarrkit-info">')
    return ET.fromstring(svg)


def shaded(root: ET.Element) -> int:
    return sum(
        int(r.get("data-cells", "0")) for r in root.iter(f"{SVG}rect") if r.get("class") == "stored"
    )


def n_lines(root: ET.Element, kind: str) -> int:
    paths = [p for p in root.iter(f"{SVG}path") if p.get("class") == kind]
    return sum(p.get("d", "").count("M") for p in paths)


def captions(root: ET.Element) -> str:
    return "\n".join(t.text or "" for t in root.iter(f"{SVG}text"))


def test_small_2d_array_shades_its_stored_chunks() -> None:
    z = zarrkit.zeros((10, 12), chunks=(3, 5), dtype="i2", store={})  # 4 x 3 chunks
    z[0:3, :] = 1  # the whole first row of chunks
    z[9, 11] = 2  # the last chunk
    z[4, 6] = 3  # chunk (1, 1)
    root = picture(z)
    assert shaded(root) == z.nchunks_initialized == 5
    # one run for the first row, one rect for each of the others
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "stored"]) == 3
    assert n_lines(root, "chunks") == (4 - 1) + (3 - 1)
    assert n_lines(root, "shards") == 0
    assert "5 of 12 chunks stored (shaded)" in captions(root)


def test_empty_array_has_nothing_shaded() -> None:
    root = picture(zarrkit.zeros((4, 4), chunks=(2, 2), store={}))
    assert shaded(root) == 0 and "0 of 4 chunks stored" in captions(root)


def test_sharded_array_draws_shards_over_chunks() -> None:
    store: dict = {}
    z = zarrkit.create(
        shape=(10, 12), chunks=(2, 3), shards=(4, 6), dtype="i4", zarr_format=3, store=store
    )
    z[:5] = 7  # shards of rows 0 and 1 (4 of the 3 x 2 shards)
    root = picture(z)
    assert shaded(root) == z.nchunks_initialized == 4
    assert n_lines(root, "chunks") == (5 - 1) + (4 - 1)
    assert n_lines(root, "shards") == (3 - 1) + (2 - 1)
    assert "4 of 6 shards stored" in captions(root)
    assert "shards (4, 6)" in captions(root)


def test_one_and_three_dimensional_arrays() -> None:
    z = zarrkit.zeros(1000, chunks=64, store={})
    z[:300] = 1
    root = picture(z)
    assert shaded(root) == 5 and n_lines(root, "chunks") == 15
    z3 = zarrkit.zeros((40, 50, 60), chunks=(10, 10, 7), store={})
    z3[0:10, :20, :30] = 1
    z3[30:, :10, :7] = 1  # another chunk along the first axis over a cell shaded already
    root = picture(z3)
    # cells of the last two dimensions with any stored chunk: 2 x 5
    assert shaded(root) == 10
    text = captions(root)
    assert "11 of 180 chunks stored" in text and "last 2 of 3 dimensions" in text
    # a 0-d array has no picture, only the table
    assert zarrkit.zeros((), store={})._repr_html_().startswith("<table")


class CountingStore(zarrkit.MemoryStore):
    listed = 0

    def keys_under(self, path: str = "") -> list[str]:
        CountingStore.listed += 1
        return super().keys_under(path)


@pytest.mark.parametrize(
    "shape, chunks",
    [
        ((10**7, 10**7), (10, 10)),  # a million cells along each axis
        ((10**9,), (1,)),
        ((3, 10**6, 7), (1, 1000, 1)),
    ],
)
def test_large_grids_stay_bounded_and_are_not_listed(shape: Any, chunks: Any) -> None:
    store = CountingStore()
    z = zarrkit.zeros(shape, chunks=chunks, store=store, dtype="u1")
    z[(0,) * len(shape)] = 1
    CountingStore.listed = 0
    html = z._repr_html_()
    svg = ET.fromstring(html[html.index("<svg") : html.index("</svg>") + 6])
    assert CountingStore.listed == 0  # too many cells: the store is not listed
    assert len(html) < 20_000
    assert shaded(svg) == 0
    assert n_lines(svg, "chunks") <= 2 * MAX_CELLS
    assert "not shaded" in captions(svg)


def test_many_keys_in_a_small_plane_are_not_listed() -> None:
    # the drawn plane is 10 x 10 cells, but the grid holds more than MAX_KEYS keys
    store = CountingStore()
    z = zarrkit.zeros((MAX_KEYS // 100 + 1, 10, 10), chunks=1, store=store, dtype="u1")
    z[0] = 1
    CountingStore.listed = 0
    root = picture(z)
    assert CountingStore.listed == 0 and shaded(root) == 0


def test_at_the_limit_the_plane_is_listed_once() -> None:
    store = CountingStore()
    z = zarrkit.zeros((MAX_CELLS, MAX_CELLS), chunks=1, store=store, dtype="u1")
    z[:] = np.eye(MAX_CELLS, dtype="u1")  # the diagonal: zeros elsewhere are stored too
    CountingStore.listed = 0
    html = z._repr_html_()
    root = ET.fromstring(html[html.index("<svg") : html.index("</svg>") + 6])
    assert CountingStore.listed == 1
    assert shaded(root) == MAX_CELLS * MAX_CELLS
    # merged along rows: one rect per row
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "stored"]) == MAX_CELLS


def test_a_store_that_cannot_be_listed_still_gets_a_picture() -> None:
    z = zarrkit.zeros((4, 4), chunks=(2, 2), store={})

    def fail() -> list[str]:
        raise OSError("no listing here")

    root = ET.fromstring(grid_svg(z._meta, fail))
    assert shaded(root) == 0 and "could not be listed" in captions(root)
    # no listing function: a grid without shading
    root = ET.fromstring(grid_svg(z._meta))
    assert n_lines(root, "chunks") == 2 and shaded(root) == 0
