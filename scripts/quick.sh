#!/usr/bin/env bash
# The quick check while working: the unit suite and the doctests of docs/ in one environment
# (.venv: zarr-python 3, the newest numcodecs), stopping at the first failure. No test servers
# start (ZARRKIT_NO_SERVERS): the Redis, Azurite, MongoDB-emulator and S3 tests and the tutorial
# spec are skipped. Interop tests run against whatever is installed in .venv (zarr-python 3,
# tensorstore, h5py, ...). A few minutes on 2 cores.
#
#   bash scripts/quick.sh                              # everything above
#   bash scripts/quick.sh tests/core/test_core.py -k resize # arguments go to pytest instead
#
# `bash scripts/test.sh` (the README's test command, and CI's) runs everything: eight
# environments, the servers, ruff and mypy, zarr 2.18.7's own suite and dask/xarray.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
REQ=tests/requirements

# (re)install when .venv is new or the pins changed since the last install by this script
stamp=$(cat pyproject.toml "$REQ/zarr3.in" "$REQ/constraints-zarr3.txt" | cksum)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.quick-stamp 2>/dev/null)" != "$stamp" ]; then
    [ -x .venv/bin/python ] || "$PY" -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]" \
        -r "$REQ/zarr3.in" -c "$REQ/constraints-zarr3.txt" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    echo "$stamp" >.venv/.quick-stamp
fi

unset ZARRKIT_REQUIRE_SERVERS ZARRKIT_REQUIRE_NATIVE
export ZARRKIT_NO_SERVERS=1
exec .venv/bin/python -m pytest -x -q "$@"
