#!/usr/bin/env bash
# Installs the Autobahn|Testsuite fuzzing server (`wstest`, autobahntestsuite 25.10.1) into
# <workspace>/.peers/autobahn, for websockets/tests/autobahn.rs.
#
# wstest is Python 2.7 code. It runs on the CPython 2.7 that the machine image ships under pyenv:
#   python3 venv -> virtualenv<20.22 (the last line that still creates 2.7 envs) -> py27 env -> autobahntestsuite.
# Where no Python 2.7 exists, it falls back to kosoku (Python 3, the same Autobahn case files, ws:// only,
# its own command line; the test puts a TLS relay in front of it for wss://) at $AB/venv3/bin/kosoku;
# websockets/tests/autobahn.rs drives either one.
#
# Idempotent: a second run only checks. Works on a fresh machine as root (CI). Prints the server path last.
# Override the install dir with AUTOBAHN_DIR, the interpreter with PY27.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
AB="${AUTOBAHN_DIR:-$ROOT/.peers/autobahn}"
WSTEST="$AB/py27/bin/wstest"

KOSOKU="$AB/venv3/bin/kosoku"
if [ -x "$WSTEST" ] && "$WSTEST" --help >/dev/null 2>&1; then
    echo "$WSTEST"
    exit 0
fi
if [ -z "${PY27:-}" ] && [ -x "$KOSOKU" ] && ! ls "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7*/bin/python2.7 >/dev/null 2>&1 \
    && ! command -v python2.7 >/dev/null; then
    echo "$KOSOKU"
    exit 0
fi

PY27="${PY27:-$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7*/bin/python2.7 2>/dev/null | sort -V | tail -n 1 || true)}"
[ -n "$PY27" ] || PY27="$(command -v python2.7 || true)"

# A Python 3 with venv; on a fresh Debian (CI runs as root) apt can supply it.
apt_python3() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "autobahn-setup.sh: installing python3 + python3-venv with apt-get" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    fi
}
command -v python3 >/dev/null || apt_python3
PY3="$(command -v python3 || true)"
[ -n "$PY3" ] || { echo "autobahn-setup.sh: python3 is needed (apt-get install python3 python3-venv)" >&2; exit 2; }

mkdir -p "$AB"
if [ ! -x "$AB/venv3/bin/pip" ]; then
    rm -rf "$AB/venv3"
    if ! "$PY3" -m venv "$AB/venv3"; then
        rm -rf "$AB/venv3"
        apt_python3
        "$PY3" -m venv "$AB/venv3"
    fi
fi

if [ -n "$PY27" ] && [ -x "$PY27" ]; then
    echo "autobahn-setup.sh: installing autobahntestsuite on $PY27 into $AB/py27" >&2
    "$AB/venv3/bin/pip" install -q "virtualenv<20.22"
    rm -rf "$AB/py27"
    "$AB/venv3/bin/virtualenv" -q -p "$PY27" "$AB/py27"
    # Pins Twisted 19.10, autobahn 0.10.9, pyOpenSSL 19.1.
    "$AB/py27/bin/pip" install -q autobahntestsuite==25.10.1
else
    echo "autobahn-setup.sh: no Python 2.7 found (pyenv or PATH); falling back to kosoku" >&2
    "$AB/venv3/bin/pip" install -q kosoku
    "$KOSOKU" --help >/dev/null 2>&1 || { echo "autobahn-setup.sh: $KOSOKU does not run" >&2; exit 2; }
    echo "$KOSOKU"
    exit 0
fi

"$WSTEST" --help >/dev/null 2>&1 || { echo "autobahn-setup.sh: $WSTEST does not run" >&2; exit 2; }
echo "$WSTEST"
