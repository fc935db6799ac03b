#!/usr/bin/env bash
# Debian's Chromium for the dashboard tests (tests/frontend_api/test_dashboard.py),
# driven by Playwright for Python through `executable_path`. Playwright's own
# browser download is never used (`playwright install` cannot reach its hosts).
# Idempotent: does nothing when /usr/bin/chromium is there. Without apt (or
# without root) it says so and the dashboard tests skip with that reason.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "[chromium] apt-get not available: the dashboard tests will skip" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "[chromium] not root and no passwordless sudo: the dashboard tests will skip" >&2
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
echo "[chromium] installing Debian's chromium package (once)"
# apt-get update only when the package lists do not know chromium yet
if ! apt-cache show chromium >/dev/null 2>&1; then
    $SUDO apt-get update -qq
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
/usr/bin/chromium --version
