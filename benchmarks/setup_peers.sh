#!/usr/bin/env bash
# Build the peer venvs for benchmarks/peers.py from PyPI (idempotent; not part of CI).
#
#   bash benchmarks/setup_peers.sh            # all peers
#   bash benchmarks/setup_peers.sh zarr2 tensorstore
#
# Venvs live under ${ZARRKIT_BENCH_HOME:-~/.cache/zarrkit/bench}/venvs/<name>; a venv whose
# stamp file matches its package list is left alone. The zarrkit worker needs no venv of its
# own: it runs on the orchestrator's interpreter (or --zarrkit-python) with src/ first on
# PYTHONPATH.
set -euo pipefail

HOME_DIR="${ZARRKIT_BENCH_HOME:-$HOME/.cache/zarrkit/bench}"
PY311="${PY311:-/root/.pyenv/versions/3.11.7/bin/python}"
PY312="${PY312:-/root/.pyenv/versions/3.12.1/bin/python}"
command -v "$PY311" >/dev/null 2>&1 || PY311="$(command -v python3.11 || true)"
command -v "$PY312" >/dev/null 2>&1 || PY312="$(command -v python3.12 || true)"

# name | python | packages
PEERS=(
  "zarr2|$PY311|zarr==2.18.7 numcodecs<0.16 numpy s3fs==2026.9.0"  # numcodecs 0.15, as .venv-zarr2
  "zarrs|$PY311|zarr==3.1.6 zarrs==0.2.3 numpy"
  "zarrs34|$PY312|zarr==3.4.2 zarrs==0.2.3 numpy"
  "fused|$PY312|zarr==3.4.2 numpy"
  "tensorstore|$PY311|tensorstore==0.1.86 numpy"
  # cloud.py: zarr-python 3 with its default codec pipeline and both S3 clients
  "zarr3|$PY312|zarr==3.4.2 obstore==0.12.1 s3fs==2026.9.0 numpy"
)

want=("$@")
selected() {
  [ ${#want[@]} -eq 0 ] && return 0
  local w
  for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}

mkdir -p "$HOME_DIR/venvs"
status=0
for spec in "${PEERS[@]}"; do
  IFS='|' read -r name py pkgs <<<"$spec"
  selected "$name" || continue
  venv="$HOME_DIR/venvs/$name"
  stamp="$venv/.bench-stamp"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkgs" ] && [ -x "$venv/bin/python" ]; then
    echo "[setup_peers] $name: up to date ($venv)"
    continue
  fi
  if [ -z "$py" ]; then
    echo "[setup_peers] $name: no suitable Python found, skipped" >&2
    status=1
    continue
  fi
  echo "[setup_peers] $name: building with $py: $pkgs"
  rm -rf "$venv"
  if "$py" -m venv "$venv" \
    && "$venv/bin/python" -m pip install -q --upgrade pip \
    && "$venv/bin/python" -m pip install -q $pkgs; then
    echo "$pkgs" >"$stamp"
    "$venv/bin/python" -m pip list --format=freeze 2>/dev/null \
      | grep -iE '^(zarr|zarrs|numcodecs|numpy|tensorstore|obstore|s3fs)==' | tr '\n' ' '
    echo
  else
    echo "[setup_peers] $name: FAILED (see pip output above)" >&2
    rm -rf "$venv"
    status=1
  fi
done
exit $status
