"""Processes writing different parts of one shard lose nothing with a ProcessSynchronizer
(the lock is per shard: each read-modify-write of a shard holds it)."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

import zarrkit

pytest.importorskip("filelock")


def _writer(path: str, sync_path: str, worker: int, nworkers: int, rounds: int) -> None:
    sync = zarrkit.ProcessSynchronizer(sync_path)
    z = zarrkit.open_array(path, mode="r+", synchronizer=sync)
    for r in range(rounds):
        # worker w owns the inner chunks w, w + n, w + 2n, ... of the one shard
        for c in range(worker, 40, nworkers):
            z[c * 5 : (c + 1) * 5] = worker * 1000 + r


def test_processes_writing_one_shard_lose_nothing(tmp_path) -> None:
    path = str(tmp_path / "a.zarr")
    z = zarrkit.open_array(
        path, mode="w", shape=(200,), chunks=(5,), shards=(200,), dtype="i4", zarr_format=3,
        fill_value=-1,
    )  # fmt: skip
    nworkers, rounds = 4, 3
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_writer, args=(path, str(tmp_path / "sync"), w, nworkers, rounds))
        for w in range(nworkers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    expected = np.empty(200, dtype="i4")
    for c in range(40):
        expected[c * 5 : (c + 1) * 5] = (c % nworkers) * 1000 + rounds - 1
    assert np.array_equal(z[...], expected)
