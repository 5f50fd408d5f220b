"""The zarr 2.13 tutorial (../shared/spec/tutorial.rst) run against zarrkit by the spec runner.

Every section that zarrkit's resolved issues cover must have no failing example.
"""

import json
import os
import subprocess
import sys

import pytest

RUNNER = os.path.join(
    os.path.dirname(__file__), os.pardir, os.pardir, "shared", "spec", "run_tutorial.py"
)

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


@pytest.fixture(scope="module")
def spec_results(tmp_path_factory):
    if not os.path.exists(RUNNER):
        pytest.skip("the shared spec (../shared/spec) is not beside this checkout")
    out = tmp_path_factory.mktemp("spec") / "results.json"
    proc = subprocess.run(
        [sys.executable, os.path.abspath(RUNNER), "--json", str(out), "--show", "none"],
        capture_output=True,
        text=True,
        cwd=str(out.parent),
        timeout=600,
    )
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
