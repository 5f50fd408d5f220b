"""Smoke test of benchmarks/bench.py: it runs on tiny sizes and its correctness checks pass.

No timing is asserted here: timings belong to the benchmark's own output.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"
TINY = [
    "--quick",
    "--size", "120",
    "--chunk", "40",
    "--small-chunk", "15",
    "--region", "10",
    "--region-calls", "3",
    "--rows", "12",
    "--points", "50",
    "--repeat", "2",
]  # fmt: skip
CASES = [
    f"{op}/{kind}/c{chunk}"
    for kind in ("dir", "mem")
    for chunk, ops in (
        (40, ("write", "read", "region", "oindex", "vindex")),
        (15, ("write", "read")),
    )
    for op in ops
]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("zarrkit_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_quick_run_prints_table_and_json(bench, tmp_path, capsys):
    out_json = tmp_path / "results.json"
    results = bench.main([*TINY, "--quiet", "--json", str(out_json)])
    assert [r.case for r in results] == CASES
    has_zarr2 = bench.load_zarr2() is not None
    libs = {"zarrkit", "zarr2"} if has_zarr2 else {"zarrkit"}
    for r in results:
        assert set(r.times) == libs
        assert all(len(t) == 2 and all(x > 0 for x in t) for t in r.times.values())
        assert (r.ratio() is not None) == has_zarr2
    doc = json.loads(out_json.read_text())
    assert [r["case"] for r in doc["results"]] == CASES
    assert doc["config"]["n"] == 120
    assert doc["environment"]["zarr2"] == (bench.load_zarr2().__version__ if has_zarr2 else None)

    results = bench.main([*TINY, "--cases", "vindex/mem,read/dir/c15", "--repeat", "1"])
    assert [r.case for r in results] == ["read/dir/c15", "vindex/mem/c40"]
    text = capsys.readouterr()
    assert "zarr2/zarrkit" in text.out
    assert "vindex/mem/c40" in text.out and "read/dir/c15" in text.out
    if not has_zarr2:
        assert "zarr-python 2.x is not installed" in text.err


def test_check_equal_catches_wrong_results(bench):
    a = np.arange(12, dtype="i4").reshape(3, 4)
    bench.check_equal(a.copy(), a, "same")
    b = a.copy()
    b[2, 1] = -1
    with pytest.raises(AssertionError, match=r"1 items differ, first at \(2, 1\)"):
        bench.check_equal(b, a, "changed")
    with pytest.raises(AssertionError, match="shape"):
        bench.check_equal(a.astype("i8"), a, "dtype")


def test_bad_options_are_refused(bench, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--stores", "s3"])
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--size", "0"])
    assert "at least 1" in capsys.readouterr().err
