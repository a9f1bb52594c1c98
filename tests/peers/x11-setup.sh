#!/usr/bin/env bash
# The X server the keyboard-output e2e tests run the real bot against: Xvfb (a virtual framebuffer X server,
# with XTest, which enigo uses to press keys). Installed from Debian only when missing.
set -euo pipefail
if command -v Xvfb >/dev/null 2>&1; then
    exit 0
fi
echo "installing xvfb (Debian package) for the keyboard-output e2e tests"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq xvfb >/dev/null
command -v Xvfb >/dev/null
