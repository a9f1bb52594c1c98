#!/usr/bin/env bash
# Installs headless Chromium (Debian's `chromium` package) for the overlay's browser test
# (tests/server_browser.rs). Idempotent: does nothing when /usr/bin/chromium exists.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium-setup: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium-setup: installing chromium with apt-get"
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq chromium >/dev/null
else
    echo "chromium-setup: /usr/bin/chromium is required (Debian/Ubuntu: apt-get install chromium)" >&2
    exit 1
fi
/usr/bin/chromium --version
