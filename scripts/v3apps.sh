#!/usr/bin/env bash
# Zarr v3 files written by applications on zarr-python 3 (issue 23): anndata (write_zarr with
# zarr_write_format 3, auto-sharded or not) and ome-zarr-py (OME-NGFF 0.5 image pyramids and
# labels, sharded or not), read with zarrkit: tests/apps/test_v3_files.py only.
#   .venv-v3apps   anndata 0.12, ome-zarr 0.18 on zarr 3.1 and pandas 2 (the newest anndata
#                  refuses pandas 3, which .venv has), zarrkit[crc32c] from this checkout
# Requirements: tests/requirements/v3apps.in, pinned by constraints-v3apps.txt. Built once and
# kept (git-ignored); a stamp file rebuilds it when the requirements or the pins change.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=tests/requirements
dir=.venv-v3apps

source scripts/_venv.sh
stamped_venv "$dir" v3apps
# zarrkit from this checkout, every time (cheap)
"$dir/bin/python" -m pip install -q --disable-pip-version-check -e ".[crc32c]" \
    -c "$REQ/constraints-v3apps.txt" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

echo "== Zarr v3 files of applications: $("$dir/bin/python" -c 'import importlib.metadata as m; print(", ".join(f"{p} {m.version(p)}" for p in ("anndata", "ome-zarr", "zarr", "pandas")))')"
# the libraries must be there: no test of the file may skip for want of them
ZARRKIT_REQUIRE_V3APPS=1 "$dir/bin/python" -m pytest -q -p no:cacheprovider tests/apps/test_v3_files.py "$@"
