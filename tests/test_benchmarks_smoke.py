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


def installed(bench) -> set[str]:
    libs = {"zarrkit"}
    if bench.load_zarr2() is not None:
        libs.add("zarr2")
    if bench.load_tensorstore() is not None:
        libs.add("tensorstore")
    return libs


def test_quick_run_prints_table_and_json(bench, tmp_path, capsys):
    out_json = tmp_path / "results.json"
    results = bench.main([*TINY, "--quiet", "--json", str(out_json)])
    assert [r.case for r in results] == CASES
    libs = installed(bench)
    for r in results:
        assert set(r.times) == libs
        assert all(len(t) == 2 and all(x > 0 for x in t) for t in r.times.values())
        for other in ("zarr2", "tensorstore"):
            assert (r.ratio(other) is not None) == (other in libs)
    doc = json.loads(out_json.read_text())
    assert [r["case"] for r in doc["results"]] == CASES
    assert doc["config"]["n"] == 120
    assert doc["environment"]["zarr2"] == (
        bench.load_zarr2().__version__ if "zarr2" in libs else None
    )
    assert (doc["environment"]["tensorstore"] is not None) == ("tensorstore" in libs)
    first = doc["results"][0]
    assert set(first["best"]) == libs
    assert first["ratio_tensorstore_over_zarrkit"] == results[0].ratio("tensorstore")

    results = bench.main([*TINY, "--cases", "vindex/mem,read/dir/c15", "--repeat", "1"])
    assert [r.case for r in results] == ["read/dir/c15", "vindex/mem/c40"]
    text = capsys.readouterr()
    assert "zarr2/zarrkit" in text.out and "tensorstore/zarrkit" in text.out
    assert "vindex/mem/c40" in text.out and "read/dir/c15" in text.out
    if "zarr2" not in libs:
        assert "zarr-python 2.x is not installed" in text.err


def test_libs_option_chooses_libraries(bench, capsys):
    for chosen in (["zarrkit"], sorted(installed(bench) - {"zarr2"})):
        results = bench.main([*TINY, "--quiet", "--libs", ",".join(chosen), "--cases", "region"])
        assert [r.case for r in results] == ["region/dir/c40", "region/mem/c40"]
        assert all(set(r.times) == set(chosen) for r in results)
    with pytest.raises(SystemExit):
        bench.main([*TINY, "--libs", "zarrkit,h5py"])
    assert "unknown libraries" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["dir", "mem"])
def test_cross_check_catches_foreign_chunks_and_metadata(bench, tmp_path, kind):
    libs, missing = bench.available_libs(["zarrkit", "tensorstore"])
    assert not missing  # tensorstore is installed in both test environments
    data = bench.make_data(30, seed=3)
    arrays = {lib.name: lib.new_array(kind, str(tmp_path), data.shape, (10, 10)) for lib in libs}
    for z in arrays.values():
        z[:] = data
    bench.cross_check(libs, arrays, kind, data)  # each reads the other's chunks
    arrays["tensorstore"][3, 4] = -7  # one chunk now disagrees with the data
    with pytest.raises(AssertionError, match="zarrkit reading what tensorstore wrote"):
        bench.cross_check(libs, arrays, kind, data)
    arrays["tensorstore"] = libs[1].new_array(kind, str(tmp_path), data.shape, (10, 15))
    arrays["tensorstore"][:] = data
    with pytest.raises(AssertionError, match="keys of zarrkit and tensorstore differ"):
        bench.cross_check(libs, arrays, kind, data)
    ts_zarray = libs[1].items(arrays["tensorstore"], kind)[".zarray"]
    zk_zarray = libs[0].items(arrays["zarrkit"], kind)[".zarray"]
    with pytest.raises(AssertionError, match="'chunks'"):
        bench.check_metadata({"zarrkit": zk_zarray, "tensorstore": ts_zarray})


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


# -- compare.py: zarrkit's worker through the orchestrator (peers need their own venvs) -------

COMPARE = BENCH.parent / "compare.py"


def load_script(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compare():
    sys.path.insert(0, str(COMPARE.parent))  # memory.py imports its sibling
    module = load_script(COMPARE, "compare")
    yield module
    sys.path.remove(str(COMPARE.parent))
    sys.modules.pop("compare", None)


def test_compare_quick_runs_every_row_on_zarrkit(compare, tmp_path, capsys):
    out, md = tmp_path / "out.json", tmp_path / "table.md"
    doc = compare.run(["--quick", "--libs", "zarrkit", "--quiet", "--json", str(out),
                       "--markdown", str(md), "--tmp", str(tmp_path), "--warmup", "0",
                       "--repeat", "1"])  # fmt: skip
    assert list(doc["results"]) == list(compare.ROWS)
    for row, cells in doc["results"].items():
        zk = cells["zarrkit"]
        assert zk["error"] is None and not zk["na"], (row, zk)
        assert len(zk["times"]) == 1 and zk["times"][0] > 0
    assert json.loads(out.read_text())["config"]["n"] == compare.QUICK["n"]
    versions = doc["environment"]["versions"]["zarrkit"]
    assert versions["zarrkit_path"] == str(Path(compare.REPO) / "src" / "zarrkit")
    text = capsys.readouterr().out
    assert "| workload | zarr 2.18 | zarr 3 + zarrs |" in text
    assert "| create group + 20 arrays |" in text and "| open group, open each of 20 |" in text
    assert "| v3 write whole, shards 200² of 50² (4 files, zstd 1) | - | - | - | - |" in text
    assert "| v3 read whole, chunks 100² |" in text
    assert "| workload |" in md.read_text()
    assert not list(tmp_path.glob("zarrkit-bench-*"))  # the data directory is removed

    # --render: the table of that JSON again, here of the minima
    again = compare.main(["--render", str(out), "--stat", "min", "--markdown", str(md)])
    assert again["results"] == doc["results"]
    assert "(min)" in md.read_text() and "(median)" not in md.read_text()


def test_compare_rows_filter_zarrkit_src_and_base(compare, tmp_path):
    # --zarrkit-src comes first on the worker's path: a stub package stands in for zarrkit
    stub = tmp_path / "src" / "zarrkit"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(
        f"import sys\nsys.path.insert(0, {str(compare.REPO / 'src')!r})\n"
        "del sys.modules['zarrkit']\nimport zarrkit\nsys.modules[__name__] = zarrkit\n"
        "zarrkit.__file__ = __file__\n"
    )
    src = str(compare.REPO / "src")
    doc = compare.run(["--quick", "--libs", "zarrkit", "--quiet", "--rows", "read_c,open_g",
                       "--rounds", "2", "--repeat", "1", "--zarrkit-src", str(stub.parent),
                       "--zarrkit-base", src, "--warmup", "0", "--tmp", str(tmp_path)])  # fmt: skip
    assert list(doc["results"]) == ["read_c1000", "read_c100", "open_group"]
    for cells in doc["results"].values():
        assert set(cells) == {"zarrkit", "base"}
        assert all(c["error"] is None and len(c["times"]) == 2 for c in cells.values())
    versions = doc["environment"]["versions"]
    assert versions["zarrkit"]["zarrkit_path"] == str(stub)
    assert versions["base"]["zarrkit_path"] == str(Path(src) / "zarrkit")
    header, _, row = doc["table"].splitlines()[:3]
    assert header.endswith("| zarrkit base | zarrkit | vs best | vs base |")
    assert row.count("|") == header.count("|")
    with pytest.raises(SystemExit):
        compare.run(["--quick", "--rows", "nosuchrow"])


def test_compare_v3_rows(compare, tmp_path):
    # a prefix picks the Zarr v3 rows; zarr 2.18 is never asked for them (its cell is "-")
    assert compare.select("v3", compare.ROWS, "row") == list(compare.V3_ROWS)
    assert compare.select("v3_shard", compare.ROWS, "row") == [
        "v3_shard_write", "v3_shard_read", "v3_shard_region", "v3_shard_oindex",
    ]  # fmt: skip
    assert not any(compare.runs("zarr2", row) for row in compare.V3_ROWS)
    assert all(compare.runs(lib, row) for lib in compare.LIBS[1:] + ("base",)
               for row in compare.V3_ROWS)  # fmt: skip
    assert all(compare.runs("zarr2", row) for row in compare.ROWS if row not in compare.V3_ROWS)

    # the worker writes what it reads: shard files, zarr.json, the data (checked in the worker)
    worker = load_script(COMPARE.parent / "worker.py", "bench_worker")
    cfg = dict(compare.QUICK, n=100, shard=50, inner=25, chunk=40, region=7, rows=9)
    work = worker.Workloads(worker.load_lib("zarrkit"), cfg, str(tmp_path))
    for row in compare.V3_ROWS:
        times = getattr(work, "w_" + row)(1)
        assert len(times) == 1 and times[0] > 0
    sharded = tmp_path / "v3-shard"
    assert sorted(worker.chunk_files(str(sharded))) == [f"c/{i}/{j}" for i in "01" for j in "01"]
    meta = json.loads((sharded / "zarr.json").read_text())
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [50, 50]
    (codec,) = meta["codecs"]
    assert codec["name"] == "sharding_indexed"
    assert codec["configuration"]["chunk_shape"] == [25, 25]
    assert codec["configuration"]["codecs"][-1] == {
        "name": "zstd", "configuration": {"level": 1, "checksum": False},
    }  # fmt: skip
    plain = json.loads((tmp_path / "v3-c-large" / "zarr.json").read_text())
    assert [c["name"] for c in plain["codecs"]] == ["bytes", "zstd"]
    assert len(worker.chunk_files(str(tmp_path / "v3-c-large"))) == 9  # 3 x 3 chunks of 40²
    with pytest.raises(worker.NotSupported):
        worker.Lib().create_v3(str(tmp_path / "x"), (4, 4), (2, 2), None, 1)


def test_worker_checks_catch_wrong_results(compare):
    worker = load_script(COMPARE.parent / "worker.py", "bench_worker")
    a = np.arange(12, dtype="i4").reshape(3, 4)
    worker.check_equal(a.copy(), a, "same")
    b = a.copy()
    b[2, 1] = -1
    with pytest.raises(AssertionError, match=r"1 items differ, first at \(2, 1\)"):
        worker.check_equal(b, a, "changed")
    assert set(worker.WORKLOADS) == set(compare.ROWS)


def test_table_marks_best_peer_and_ratio(compare):
    cells = {
        "zarr2": compare.Cell([0.2, 0.3, 0.25]),
        "zarrs": compare.Cell([0.1]),
        "zarrs34": compare.Cell([0.08]),
        "tensorstore": compare.Cell(na=True),
        "fused": compare.Cell([1.0], error="AssertionError: boom"),
        "zarrkit": compare.Cell([0.16]),
    }
    lines = compare.table({"read_c1000": cells}, compare.FULL).splitlines()
    assert lines[2] == (
        "| read whole, chunks 1000² | 0.250 s | **0.080 s** | fail | n/a | 0.160 s | 0.50 |"
    )
    assert lines[-1] == (
        "zarr 3 + zarrs, the better per row: zarr-python 3.4.2 + zarrs pipeline on "
        "read whole, chunks 1000²."
    )
    # a v3 row: zarr 2.18 has no cell ("-"), the others as above
    v3 = {lib: c for lib, c in cells.items() if lib != "zarr2"}
    lines = compare.table({"v3_shard_read": v3}, compare.FULL).splitlines()
    assert lines[2] == (
        "| v3 read whole, shards 2000² of 250² | - | **0.080 s** | fail | n/a | 0.160 s | 0.50 |"
    )


def test_memory_quick(compare, tmp_path, capsys):
    memory = load_script(COMPARE.parent / "memory.py", "bench_memory")
    doc = memory.main(["--size", "400", "--chunk", "100", "--tmp", str(tmp_path)])
    for what in ("read", "write"):
        r = doc["results"]["zarrkit"][what]
        assert r["ok"], r
        assert r["bytes"] == 400 * 400 * 4 and r["extra_warm"] >= -r["bytes"]
    assert "| zarrkit | read |" in capsys.readouterr().out


# -- cloud.py: zarrkit's two S3 stores on a moto server (peers need their own venvs) ---------

CLOUD = COMPARE.parent / "cloud.py"


def test_cloud_quick_runs_every_row_on_zarrkit(tmp_path, capsys):
    pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    pytest.importorskip("obstore")
    sys.path.insert(0, str(CLOUD.parent))  # cloud.py imports compare.py
    try:
        cloud = load_script(CLOUD, "bench_cloud")
        out = tmp_path / "cloud.json"
        doc = cloud.main(["--quick", "--libs", "zarrkit", "--latency", "0,5", "--quiet",
                          "--warmup", "0", "--json", str(out)])  # fmt: skip
    finally:
        sys.path.remove(str(CLOUD.parent))
        sys.modules.pop("bench_cloud", None)
    assert list(doc["results"]) == list(cloud.ROWS)
    for row, by_latency in doc["results"].items():
        assert list(by_latency) == ["0", "5"]
        for cells in by_latency.values():
            assert set(cells) == {"zarrkit-obstore", "zarrkit-fsspec"}
            for cell in cells.values():
                assert cell["error"] is None and not cell["na"], (row, cell)
                assert len(cell["times"]) == 1 and cell["times"][0] > 0
                assert len(cell["peaks"]) == 1 and len(cell["in_flight"]) == 1
    # counted at the server: a whole read of 16 objects overlaps its requests
    assert 1 < doc["results"]["read_c250"]["5"]["zarrkit-obstore"]["in_flight"][0] <= 16
    assert json.loads(out.read_text())["config"]["n"] == cloud.QUICK["n"]
    assert doc["inflight"]["zarrkit-obstore"]["store_bound"] >= 1
    text = capsys.readouterr().out
    assert "| workload | latency | zarrkit ObjectStore | zarrkit FSStore |" in text
    assert "| read 200², chunks 100² | 0 ms |" in text
    assert "in flight)" in text  # the floor of the whole reads
    assert "| workload (peak RSS, MiB) |" in text
    assert "| workload [objects]: most requests in flight | latency |" in text
    assert "| read 200², chunks 50² [16] | 5 ms |" in text
