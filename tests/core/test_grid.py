"""The chunk grid's arithmetic (zarrkit._grid) against a brute-force count of cells."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from zarrkit._grid import cut_off, edge_start, grid_shape, is_edge

dims = st.integers(1, 3).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 13), min_size=n, max_size=n),
        st.lists(st.integers(1, 5), min_size=n, max_size=n),
        st.lists(st.integers(0, 13), min_size=n, max_size=n),
    )
)


@given(dims)
def test_grid_against_brute_force(case) -> None:
    shape, chunks, new_shape = map(tuple, case)
    cells = {
        tuple(i // c for i, c in zip(item, chunks))
        for item in itertools.product(*map(range, shape))
    }
    grid = grid_shape(shape, chunks)
    if all(shape):
        assert set(itertools.product(*map(range, grid))) == cells
    else:
        assert 0 in grid
    starts = edge_start(shape, chunks)
    for coords in itertools.product(*map(range, grid)):
        reaches_past = any((c + 1) * n > s for c, n, s in zip(coords, chunks, shape))
        assert is_edge(coords, starts) == reaches_past
    new = grid_shape(new_shape, chunks)
    gone = list(cut_off(grid, new))
    assert len(gone) == len(set(gone))  # each cell once
    expected = {
        c for c in itertools.product(*map(range, grid)) if any(x >= n for x, n in zip(c, new))
    }
    assert set(gone) == expected
