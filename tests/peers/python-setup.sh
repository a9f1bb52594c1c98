#!/usr/bin/env bash
# Installs the independent WebSocket peer used by the `websockets` crate's tests:
# Python's `websockets` library (pinned) in a venv at <workspace>/.peers/venv.
# Idempotent: re-running it when the venv already has the pinned version does nothing.
# On a fresh Debian/Ubuntu machine run as root it installs python3 + python3-venv with apt-get if missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.peers/venv"
VERSION="17.4"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import websockets, sys; sys.exit(0 if websockets.__version__ == '$VERSION' else 1)" 2>/dev/null; then
    echo "python-setup: websockets $VERSION already installed in $VENV"
    exit 0
fi

# python3 with venv/ensurepip (Debian splits these into python3-venv).
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "python-setup: installing python3 and python3-venv with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    else
        echo "python-setup: python3 with the venv module is required (Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    fi
fi

mkdir -p "$ROOT/.peers"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "websockets==$VERSION"
"$VENV/bin/python" -c "import websockets; print('python-setup: websockets', websockets.__version__, 'installed in $VENV')"
