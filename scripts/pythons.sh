#!/usr/bin/env bash
# A smoke subset of the suite on the oldest and newest Python of the machine (pyenv's 3.10 and
# 3.13 here): Python 3.10 with the oldest supported numpy (1.24) and the last numcodecs that
# supports 3.10 (0.13.1; numcodecs >= 0.14 needs Python >= 3.11), Python 3.13 with the newest.
# Requirements: tests/requirements/py3.10.in and py3.13.in, pinned by constraints-py3.X.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=(tests/core/test_core.py tests/storage/test_local_stores.py tests/core/test_dtypes.py
       tests/pipeline/test_pipeline.py tests/core/test_concurrency_and_limits.py
       tests/indexing/test_indexing_basic.py tests/indexing/test_indexing_advanced.py
       tests/core/test_errors.py tests/core/test_sync.py tests/core/test_smoke.py
       tests/test_layering.py)

find_python() {  # the interpreter of Python $1 (X.Y), or nothing
    local v=$1 p
    for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python "$(command -v "python$v" || true)"; do
        if [ -n "$p" ] && [ -x "$p" ] && "$p" -c "import venv" 2>/dev/null; then echo "$p"; return; fi
    done
}

run_on() {  # version (X.Y): installs tests/requirements/pyX.Y.in
    local v=$1
    local py
    py=$(find_python "$v")
    if [ -z "$py" ]; then
        echo "== Python $v: not on this machine, smoke run NOT done" >&2
        return 0
    fi
    local env=.venv-py$v
    [ -x "$env/bin/python" ] || "$py" -m venv "$env"
    "$env/bin/python" -m pip install -q --disable-pip-version-check \
        -r "tests/requirements/py$v.in" -c "tests/requirements/constraints-py$v.txt" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    "$env/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e . \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    echo "== smoke suite on $("$env/bin/python" -c 'import sys, numpy, numcodecs; print("Python", sys.version.split()[0], "numpy", numpy.__version__, "numcodecs", numcodecs.__version__)')"
    "$env/bin/python" -m pytest -q -p no:cacheprovider "${SMOKE[@]}"
}

run_on 3.10  # numpy 1.24, numcodecs 0.13.1
run_on 3.13  # the newest numpy and numcodecs
