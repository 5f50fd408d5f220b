#!/usr/bin/env bash
# Install everything the tests need and run all of them, in eight environments:
#   .venv        newest numcodecs, zarr-python 3.x, tensorstore, h5py
#   .venv-zarr2  numcodecs 0.15.x and zarr-python 2.18 (the reference for byte-identical metadata)
# The same tests run in both; interop tests talk to whichever zarr-python is installed.
# Then ruff, mypy, a smoke subset on Python 3.10 and 3.13 (scripts/pythons.sh: .venv-py3.10,
# .venv-py3.13), zarr-python 2.18.7's own test suite against zarrkit (scripts/conformance.sh:
# .venv-conf, no zarr installed; failures must be listed in tests/conformance_deviations.txt)
# dask and xarray through the drop-in (scripts/apps.sh: .venv-apps, .venv-apps-ref) and the
# Zarr v3 files of anndata and ome-zarr-py (scripts/v3apps.sh: .venv-v3apps, one test file).
# Every environment installs tests/requirements/<env>.in pinned by constraints-<env>.txt
# (scripts/update_constraints.sh moves the pins, on purpose).
# For a quick run while working (one environment, no servers): bash scripts/quick.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash scripts/install_servers.sh; export ZARRKIT_REQUIRE_SERVERS=1  # test servers (kv): Redis, Azurite, libdb
export ZARRKIT_REQUIRE_NATIVE=1  # the C extension (setup.py) builds here: tests/pipeline/test_native.py

make_env() {  # directory, environment name (tests/requirements/<name>.in)
    local dir=$1 env=$2
    [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
    # the pins bring a warm environment to the same versions as a fresh one
    # (pip's notes about unused local index folders on this kind of machine are dropped)
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]" \
        -r "tests/requirements/$env.in" -c "tests/requirements/constraints-$env.txt" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

make_env .venv zarr3
make_env .venv-zarr2 zarr2

.venv/bin/ruff check src tests benchmarks examples
.venv/bin/ruff format --check src tests benchmarks examples
.venv/bin/mypy  # the package ships py.typed: users' type checkers see what mypy sees

echo "== suite with $(.venv-zarr2/bin/python -c 'import zarr, numcodecs; print("zarr", zarr.__version__, "numcodecs", numcodecs.__version__)')"
.venv-zarr2/bin/python -m pytest -q "$@"
echo "== suite with $(.venv/bin/python -c 'import zarr, numcodecs; print("zarr", zarr.__version__, "numcodecs", numcodecs.__version__)')"
.venv/bin/python -m pytest -q "$@"
bash scripts/pythons.sh  # smoke subset on the oldest and newest Python of the machine
echo "== zarr-python 2.18.7's own test suite against zarrkit (scripts/conformance.sh)"
bash scripts/conformance.sh
bash scripts/apps.sh  # zarr 2 applications (dask, xarray) through the drop-in: issue 14
bash scripts/v3apps.sh  # Zarr v3 files written by anndata and ome-zarr-py: issue 23
