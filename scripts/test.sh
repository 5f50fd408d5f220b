#!/usr/bin/env bash
# Install everything the tests need and run the whole suite, twice:
#   .venv        newest numcodecs, zarr-python 3.x, tensorstore, h5py
#   .venv-zarr2  numcodecs 0.15.x and zarr-python 2.18 (the reference for byte-identical metadata)
# The same tests run in both; interop tests talk to whichever zarr-python is installed.
# Then ruff, mypy, and zarr-python 2.18.7's own test suite against zarrkit (.venv-conf, no zarr
# installed; failures must be listed in tests/conformance_deviations.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash scripts/install_servers.sh; export ZARRKIT_REQUIRE_SERVERS=1  # test servers (kv): Redis, Azurite, libdb
export ZARRKIT_REQUIRE_NATIVE=1  # the C extension (setup.py) builds here: tests/test_native.py

make_env() {
    local dir=$1
    shift
    [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
    # (pip's notes about unused local index folders on this kind of machine are dropped)
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]" "$@" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

make_env .venv 'zarr>=3' 'numcodecs>=0.16'
make_env .venv-zarr2 'zarr>=2.18,<3' 'numcodecs>=0.15,<0.16'

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
