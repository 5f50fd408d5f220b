# Sourced by scripts/apps.sh and scripts/v3apps.sh: the one way their environments are built.
# stamped_venv DIR ENV [FILE...]: a venv at DIR with tests/requirements/ENV.in pinned by
# constraints-ENV.txt, built once and kept (git-ignored); a stamp file (the checksum of those
# two files and any FILE given, e.g. an .in file that ENV.in includes) rebuilds it when they
# change.
stamped_venv() {
    local dir=$1 env=$2 req=tests/requirements stamp
    shift 2
    stamp=$(cat "$@" "$req/$env.in" "$req/constraints-$env.txt" | cksum)
    if [ ! -x "$dir/bin/python" ] || [ ! -f "$dir/.stamp" ] || [ "$(cat "$dir/.stamp")" != "$stamp" ]; then
        rm -rf "$dir"
        "${PYTHON:-python3}" -m venv "$dir"
        "$dir/bin/python" -m pip install -q --disable-pip-version-check \
            -r "$req/$env.in" -c "$req/constraints-$env.txt" \
            2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
        echo "$stamp" >"$dir/.stamp"
    fi
}
