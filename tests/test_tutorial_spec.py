"""The zarr 2.13 tutorial (tests/spec/tutorial.rst) run against zarrkit by the spec runner
(tests/spec/run_tutorial.py, which reads the tutorial.rst beside it).

Every section that zarrkit's resolved issues cover must have no failing example.
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

import servers

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spec", "run_tutorial.py")

COVERED = [
    "tutorial_create",
    "tutorial_array",
    "tutorial_persist",
    "tutorial_resize",
    "tutorial_compress",
    "tutorial_filters",
    "tutorial_groups",
    "tutorial_diagnostics",
    "tutorial_attrs",
    "tutorial_indexing",
    "tutorial_storage",
    "tutorial_copy",
    "tutorial_strings",
    "tutorial_objects",
    "tutorial_chunks_shape",
    "tutorial_chunks_order",
    "tutorial_chunks_empty_chunks",
    "tutorial_rechunking",
    "tutorial_sync",
    "tutorial_pickle",
    "tutorial_datetime",
    "tutorial_tips_copy",
    "tutorial_tips_blosc",
]


# the runner runs these stores' examples when their client imports; they connect to the
# servers' default ports (the tutorial of zarr 2.13 names these stores in prose only)
TUTORIAL_SERVERS = {"RedisStore(": ("redis", "redis"), "MongoDBStore(": ("pymongo", "mongodb")}


def _start_tutorial_servers() -> list:
    text = open(os.path.join(os.path.dirname(RUNNER), "tutorial.rst"), encoding="utf-8").read()
    started = []
    try:
        for example, (client, name) in TUTORIAL_SERVERS.items():
            if example in text and importlib.util.find_spec(client) is not None:
                started.append(servers.start(name, servers.DEFAULT_PORTS[name]))
    except servers.ServerUnavailable as e:
        for server in started:
            server.stop()
        pytest.fail(f"the tutorial's {example} examples need it: {e}", pytrace=False)
    return started


@pytest.fixture(scope="module")
def spec_results(tmp_path_factory):
    # part of the repository: a missing runner is an error, never a skip
    assert os.path.exists(RUNNER), f"the tutorial spec runner is missing: {RUNNER}"
    if os.environ.get("ZARRKIT_NO_SERVERS"):  # scripts/quick.sh (see conftest.py)
        pytest.skip("no test servers in this run: its Redis and MongoDB examples need them")
    started = _start_tutorial_servers()
    out = tmp_path_factory.mktemp("spec") / "results.json"
    try:
        proc = subprocess.run(
            [sys.executable, RUNNER, "--json", str(out), "--show", "none"],
            capture_output=True,
            text=True,
            cwd=str(out.parent),
            timeout=600,
        )
    finally:
        for server in started:
            server.stop()
    assert out.exists(), proc.stdout + proc.stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize("section", COVERED)
def test_section_has_no_failures(spec_results, section):
    failures = [
        f"line {e['line']}: {e['source']}\n{e['detail']}"
        for e in spec_results["examples"]
        if e["section"] == section and e["outcome"] == "FAIL"
    ]
    assert not failures, "\n\n".join(failures)
    assert spec_results["sections"][section]["pass"] > 0
