#!/usr/bin/env bash
# Re-resolve the test environments' dependencies and rewrite their pins, on purpose.
#
# Each environment the test scripts build installs the requirements of
# tests/requirements/<env>.in with `pip install -c tests/requirements/constraints-<env>.txt`,
# so that a fresh machine and a warm one test the same versions. This script resolves each
# <env>.in (plus zarrkit and the drop-in from this checkout, where the environment has them)
# in a scratch virtual environment with pip's resolver, without installing anything, and writes
# every resolved distribution as `name==version` into constraints-<env>.txt.
#
#   bash scripts/update_constraints.sh                 # every environment
#   bash scripts/update_constraints.sh zarr3 apps      # some of them
#
# Then run the test command (bash scripts/test.sh), read `git diff tests/requirements` and
# commit the new pins together with any fixes they need.
#   zarr3 zarr2 conformance apps apps-ref v3apps   Python $PYTHON (default python3)
#   py3.10 py3.13                           pyenv's (or PATH's) Python 3.10 / 3.13
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
REQ=tests/requirements

find_python() {  # the interpreter of Python $1 (X.Y), as scripts/pythons.sh finds it
    local v=$1 p
    for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python "$(command -v "python$v" || true)"; do
        if [ -n "$p" ] && [ -x "$p" ] && "$p" -c "import venv" 2>/dev/null; then echo "$p"; return; fi
    done
}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

resolve() {  # env, python, then what else the environment installs from this checkout
    local env=$1 py=$2
    shift 2
    if [ -z "$py" ]; then
        echo "update_constraints: no Python for $env here; constraints-$env.txt NOT updated" >&2
        return 0
    fi
    local venv="$scratch/$env"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --dry-run \
        --report "$scratch/$env.json" -r "$REQ/$env.in" "$@" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    "$venv/bin/python" - "$scratch/$env.json" "$REQ/constraints-$env.txt" "$env" <<'EOF'
import json, re, sys
from datetime import date

report, out, env = sys.argv[1:]
pins = {}
for item in json.load(open(report))["install"]:
    if "dir_info" in item.get("download_info", {}):
        continue  # zarrkit and the drop-in: from this checkout
    meta = item["metadata"]
    pins[re.sub(r"[-_.]+", "-", meta["name"]).lower()] = meta["version"]
py = ".".join(map(str, sys.version_info[:3]))
with open(out, "w") as f:
    f.write(f"# Pins of the test environment '{env}' (tests/requirements/{env}.in), resolved on\n")
    f.write(f"# {date.today()} with Python {py}. Written by scripts/update_constraints.sh: do not\n")
    f.write("# edit by hand, re-run it to move the pins on purpose.\n")
    f.writelines(f"{name}=={pins[name]}\n" for name in sorted(pins))
print(f"update_constraints: {out}: {len(pins)} pins (Python {py})")
EOF
}

envs=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(zarr3 zarr2 conformance py3.10 py3.13 apps apps-ref v3apps)
for env in "${envs[@]}"; do
    case $env in
        zarr3 | zarr2) resolve "$env" "$PY" ".[test]" ;;
        conformance) resolve "$env" "$PY" . ;;
        py3.10 | py3.13) resolve "$env" "$(find_python "${env#py}")" ;;
        apps) resolve "$env" "$PY" . ./dropin ;;
        apps-ref) resolve "$env" "$PY" ;;
        v3apps) resolve "$env" "$PY" ".[v3]" ;;
        *) echo "update_constraints: unknown environment '$env'" >&2; exit 2 ;;
    esac
done
