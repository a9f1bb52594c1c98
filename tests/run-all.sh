#!/usr/bin/env bash
# The project's one test command (README, and CI through .ci/run).
#
# On a fresh machine it installs what the tests need, under .peers/ (gitignored):
#   - a Python venv with the `websockets` server (an independent WebSocket peer),
#   - the Autobahn|Testsuite fuzzing server (wstest, on the machine's pyenv Python 2.7),
#   - headless Chromium (Debian's `chromium`) for the overlay's browser test,
#   - Xvfb (Debian's `xvfb`) for the keyboard-output tests,
# then checks formatting and lints (clippy, warnings are errors) and runs every test of the workspace in one build profile (release):
# unit, property, doc, peer, conformance and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test peers"
bash tests/peers/python-setup.sh
bash tests/peers/autobahn-setup.sh
bash tests/peers/x11-setup.sh
bash tests/peers/chromium-setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --release -- -D warnings

echo "== cargo test --release --workspace"
cargo test --release --workspace
