#!/usr/bin/env bash
# Installs the independent WebSocket peer used by the `websockets` crate's tests:
# Python's `websockets` library in a venv at <workspace>/.peers/venv.
# Idempotent: re-running it when the venv already has the pinned version does nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.peers/venv"
PIN="websockets==17.4"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import websockets, sys; sys.exit(0 if websockets.__version__ == "17.4" else 1)' 2>/dev/null; then
    echo "python-setup: $PIN already installed in $VENV"
    exit 0
fi

mkdir -p "$ROOT/.peers"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PIN"
"$VENV/bin/python" -c 'import websockets; print("python-setup: websockets", websockets.__version__, "installed in '"$VENV"'")'
