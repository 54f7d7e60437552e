#!/bin/sh
# Make sure a headless Chromium is available for the report-rendering tests (Debian package `chromium`).
# Usage: tests/tools/ensure_chromium.sh   (needs root or sudo on Debian/Ubuntu when Chromium is missing)
set -eu
for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
        echo "chromium: $(command -v "$name")"
        exit 0
    fi
done
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is missing and apt-get is not available: install Chromium by hand" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium
command -v chromium
