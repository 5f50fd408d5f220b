"""zarrkit.util: the zarr 2 helper names third-party code imports."""

from __future__ import annotations

import array

import numpy as np
import pytest

from conftest import needs_zarr2
from zarrkit import _info, util


def test_buffer_size() -> None:
    assert util.buffer_size(b"abc") == 3
    assert util.buffer_size(bytearray(4)) == 4
    assert util.buffer_size(array.array("i", [1, 2])) == 8
    assert util.buffer_size(np.zeros((2, 3), dtype="f8")) == 48
    with pytest.raises(TypeError):
        util.buffer_size([1, 2, 3])


def test_constant_map() -> None:
    m = util.ConstantMap(["a", "b"], {"x": 1})
    assert m == {"a": {"x": 1}, "b": {"x": 1}}
    assert len(m) == 2 and "a" in m and "c" not in m
    with pytest.raises(KeyError):
        m["c"]
    assert util.ConstantMap([], 0) == {}


def test_json_helpers() -> None:
    raw = util.json_dumps({"b": np.int64(1), "a": [1.5, True]})
    assert raw == b'{\n    "a": [\n        1.5,\n        true\n    ],\n    "b": 1\n}'
    assert util.json_loads(raw) == {"a": [1.5, True], "b": 1}
    assert util.json_loads(raw.decode()) == {"a": [1.5, True], "b": 1}


@needs_zarr2
def test_json_dumps_as_zarr2() -> None:
    import zarr.util

    doc = {"z": [1, 2.5, None], "é": "ü", "n": np.float32(0.5)}
    assert util.json_dumps(doc) == zarr.util.json_dumps(doc)


def test_reexports() -> None:
    assert util.InfoReporter is _info.InfoReporter
    assert util.normalize_storage_path("/a//b/") == "a/b"
    assert util.normalize_shape(5) == (5,)
