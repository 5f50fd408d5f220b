#!/usr/bin/env bash
# zarr-python 2.18.7's own test suite (12 public-API modules) against zarrkit, through the
# conformance kit in tests/conformance (it downloads the zarr sdist at run time and caches
# it under $WORKDIR; nothing of zarr's enters this repo).
#
# Runs in .venv-conf: zarrkit plus the kit's test pins (tests/requirements/conformance.in,
# pinned by constraints-conformance.txt) and NO real zarr installed.
# Fails on any failing test that is not listed in tests/conformance_deviations.txt (each entry:
# "<test id>  # <reason>"), or in the kit's own list of tests that fail on real zarr too.
#   bash scripts/conformance.sh                     # everything
#   PEER_MODULES=test_core bash scripts/conformance.sh -k MemoryStore   # a subset
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
KIT=${ZARRKIT_CONFORMANCE_KIT:-tests/conformance}  # (set it to try another copy of the kit)
DEVIATIONS=tests/conformance_deviations.txt
if [ ! -f "$KIT/run.sh" ]; then
    echo "conformance: no kit at $KIT (no run.sh there): zarr 2's suite cannot run" >&2
    exit 2
fi
KIT=$(cd "$KIT" && pwd)

[ -x .venv-conf/bin/python ] || "$PY" -m venv .venv-conf
.venv-conf/bin/python -m pip install -q --disable-pip-version-check -e . \
    -r tests/requirements/conformance.in -c tests/requirements/constraints-conformance.txt \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
# s3: zarr's own S3 tests start `moto_server -p 5555` from PATH (s3fs pinned to the kit's fsspec)
export PATH="$PWD/.venv-conf/bin:$PATH"
if .venv-conf/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('zarr') is None)"; then
    echo "conformance: a real zarr is installed in .venv-conf; the kit must run without it" >&2
    exit 2
fi

# every deviation names its reason
if grep -nEv '^\s*(#.*)?$' "$DEVIATIONS" | grep -v '#' ; then
    echo "conformance: the lines above of $DEVIATIONS have no '# reason'" >&2
    exit 2
fi

known=$(mktemp)
servers=$(mktemp -d)
trap '.venv-conf/bin/python tests/servers.py stop --state "$servers"; rm -rf "$known" "$servers"' EXIT
# zarr 2's server classes (TestRedisStore, TestMongoDBStore, TestABSStore, ...) run when
# ZARR_TEST_REDIS/MONGO/ABS are set and expect the servers on their default ports (6379,
# 27017, 10000): Redis, the nx-27017 MongoDB emulator (not a MongoDB server) and Azurite
bash scripts/install_servers.sh
.venv-conf/bin/python tests/servers.py start --default-ports --state "$servers" > "$servers/env"
# shellcheck disable=SC1091
. "$servers/env"
cat "$KIT/known_failures-2.18.7.txt" "$DEVIATIONS" > "$known"
status=0
PYTHON="$PWD/.venv-conf/bin/python" KNOWN_FAILURES="$known" bash "$KIT/run.sh" "$@" || status=$?

# deviations that pass now are stale: say so, so that the list only shrinks
results=${RESULTS:-${WORKDIR:-/tmp/zarrkit-peer-2.18.7}/results}
if [ -f "$results/failures.txt" ] && [ -z "${PEER_MODULES:-}" ] && [ $# -eq 0 ]; then
    stale=$(grep -Ev '^\s*(#.*)?$' "$DEVIATIONS" | sed 's/#.*//; s/[[:space:]]*$//' |
        grep -vxFf <(awk '{print $2}' "$results/failures.txt") || true)
    if [ -n "$stale" ]; then
        echo "conformance: these deviations pass now; remove them from $DEVIATIONS:"
        echo "$stale"
    fi
fi
exit $status
