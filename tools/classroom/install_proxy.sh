#!/usr/bin/env bash
# configurable-http-proxy (JupyterHub's proxy, an npm package) into the project-local, git-ignored .node/.
# Called by `make classroom` (which needs it: --require) and `make test` (which only wants it: without node or
# npm it says why and exits 0, and tests/test_classroom.py skips, saying the same). As root on Debian/Ubuntu it
# installs node and npm with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=5.3.0
BIN=.node/node_modules/.bin/configurable-http-proxy
REQUIRE=${1:-}

give_up() {
    echo "classroom proxy: $1" >&2
    [ "$REQUIRE" = --require ] && exit 1
    exit 0
}

if [ -x "$BIN" ] && grep -q "\"version\": \"$VERSION\"" .node/node_modules/configurable-http-proxy/package.json; then
    exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm; } \
            || give_up "apt-get could not install nodejs and npm"
    else
        give_up "node and npm are needed (apt-get install nodejs npm, as root); the classroom test will skip"
    fi
fi
# node 20 prints an EBADENGINE warning (the package asks for node >= 22.12); it runs on node 20 all the same
npm install --prefix .node --no-save --no-audit --no-fund --loglevel=error "configurable-http-proxy@$VERSION" \
    || give_up "npm install configurable-http-proxy@$VERSION failed (is the npm registry reachable?)"
echo "classroom proxy: configurable-http-proxy $VERSION in .node/"
