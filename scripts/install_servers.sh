#!/usr/bin/env bash
# Install the test servers and native libraries the server-backed stores are tested with,
# idempotently (a second run that finds everything in place takes well under a second):
#   redis-server   Debian package (RedisStore)
#   libdb-dev      Debian package: Berkeley DB headers, to build the `berkeleydb`/`bsddb3` wheels
#   Azurite        npm package (ABSStore), cached under $ZARRKIT_SERVERS_DIR
# The Python clients (redis, pymongo, azure-storage-blob, berkeleydb, bsddb3) and the MongoDB
# wire-protocol emulator `nx-27017` are pip packages of the `test` extra (pyproject.toml).
# No MongoDB server package installs on these machines: the tests run against the emulator,
# and against a real server too when ZARRKIT_TEST_MONGODB_URL names one.
# tests/servers.py starts and stops the servers.
set -euo pipefail
DIR=${ZARRKIT_SERVERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zarrkit/servers}
AZURITE_VERSION=3.37.0

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
[ -f /usr/include/db.h ] || missing+=(libdb-dev)
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "install_servers: apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

main="$DIR/azurite-$AZURITE_VERSION/node_modules/azurite/dist/src/blob/main.js"
if [ ! -f "$main" ]; then
    command -v npm >/dev/null || { echo "install_servers: npm is needed for Azurite" >&2; exit 1; }
    echo "install_servers: npm install azurite@$AZURITE_VERSION into $DIR"
    mkdir -p "$DIR/azurite-$AZURITE_VERSION"
    npm install --silent --no-audit --no-fund --no-save --cache "$DIR/npm-cache" \
        --prefix "$DIR/azurite-$AZURITE_VERSION" "azurite@$AZURITE_VERSION" >/dev/null
    [ -f "$main" ] || { echo "install_servers: $main is missing after npm install" >&2; exit 1; }
fi
