"""The one inline-or-pool rule (zarrkit._pool.runs_inline) and run_parallel following it."""

from __future__ import annotations

import threading

import numcodecs.blosc
import pytest

from zarrkit import _pool


@pytest.fixture
def four_threads():
    old = _pool.get_num_threads()
    _pool.set_num_threads(4)
    yield
    _pool.set_num_threads(old)


def test_few_items_run_inline(four_threads) -> None:
    assert _pool.runs_inline(0) and _pool.runs_inline(1)
    assert not _pool.runs_inline(2)
    assert _pool.runs_inline(2, fewest=3) and not _pool.runs_inline(3, fewest=3)


def test_one_thread_pool_runs_inline() -> None:
    old = _pool.get_num_threads()
    _pool.set_num_threads(1)
    try:
        assert _pool.runs_inline(100)
    finally:
        _pool.set_num_threads(old)


@pytest.mark.parametrize("use_threads", [True, False, None])
def test_blosc_threads(four_threads, monkeypatch, use_threads) -> None:
    monkeypatch.setattr(numcodecs.blosc, "use_threads", use_threads)
    on_main = threading.current_thread() is threading.main_thread()
    few = _pool.runs_inline(4, blosc=True)
    many = _pool.runs_inline(5, blosc=True)
    if use_threads is True:  # c-blosc's global threads serialise every call
        assert few and many
    elif use_threads is None and on_main:  # one chunk already spreads over all cores
        assert few and not many
    else:
        assert not few and not many
    assert not _pool.runs_inline(4)  # only Blosc work is concerned


def test_run_parallel_follows_the_rule(four_threads) -> None:
    where: list[bool] = []

    def task(x: int) -> int:
        where.append(_pool.in_worker())
        return x * 3

    assert _pool.run_parallel(task, [1, 2], fewest=3) == [3, 6]
    assert where == [False, False]  # inline
    where.clear()
    assert _pool.run_parallel(task, list(range(40))) == [x * 3 for x in range(40)]
    assert all(where)  # in the pool
    where.clear()
    assert _pool.run_parallel(task, list(range(40)), inline=True) == [x * 3 for x in range(40)]
    assert not any(where)


def test_nested_calls_run_inline(four_threads) -> None:
    def outer(x: int) -> list[int]:
        assert _pool.runs_inline(50)
        return _pool.run_parallel(lambda y: x + y, list(range(50)))

    out = _pool.run_parallel(outer, list(range(8)))
    assert out == [[x + y for y in range(50)] for x in range(8)]
