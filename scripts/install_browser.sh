#!/usr/bin/env bash
# Debian's headless Chromium for the browser tests (Playwright drives it; never `playwright install`).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian's chromium (no recommended packages)..."
$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
echo "chromium: $(/usr/bin/chromium --version)"
