"""ProcessSynchronizer: one lock file per key, never shared by two keys, on filelock."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from zarrkit.sync import ProcessSynchronizer, lock_file_name

KEYS = st.text(min_size=0, max_size=300)


@given(KEYS, KEYS)
def test_distinct_keys_never_share_a_lock_file(a: str, b: str) -> None:
    if a != b:
        assert lock_file_name(a) != lock_file_name(b)
        # on case-insensitive file systems too
        assert lock_file_name(a).lower() != lock_file_name(b).lower()


@given(KEYS)
def test_lock_file_names_are_plain_file_names(key: str) -> None:
    name = lock_file_name(key)
    assert 0 < len(name) <= 200 and "/" not in name and "\\" not in name and "\x00" not in name
    assert name not in (".", "..")


def test_the_collision_of_flattened_keys_is_gone(tmp_path: Any) -> None:
    sync = ProcessSynchronizer(str(tmp_path))
    with sync["a/b"], sync["a__b"], sync["A/b"]:  # three locks, none waits for another
        pass
    assert sorted(os.listdir(tmp_path)) == sorted(
        [lock_file_name("a/b"), lock_file_name("a__b"), lock_file_name("A/b")]
    )


def _hold(path: str, key: str, started: Any, release: Any) -> None:
    sync = ProcessSynchronizer(path)
    with sync[key]:
        started.set()
        release.wait(10)


def test_a_key_held_in_another_process_excludes_this_one(tmp_path: Any) -> None:
    ctx = multiprocessing.get_context("spawn")
    started, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(str(tmp_path), "x/0.0", started, release))
    p.start()
    try:
        assert started.wait(30)
        import filelock

        probe = filelock.FileLock(str(tmp_path / lock_file_name("x/0.0")), timeout=0.2)
        try:
            probe.acquire()
            raise AssertionError("the lock held by the other process was taken")
        except filelock.Timeout:
            pass
        other = ProcessSynchronizer(str(tmp_path))["x/0.1"]  # another key is free
        with other:
            pass
    finally:
        release.set()
        p.join(30)
    assert p.exitcode == 0
