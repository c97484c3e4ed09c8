#!/bin/sh
# Makes sure a Chromium is on PATH for the browser test (test/e2e/ui.test.ts drives the Temporal
# UI with playwright-core, which downloads no browser: it launches this one). Idempotent: does
# nothing when `chromium` is already there. Meant for CI on a Debian (or Ubuntu) machine, as root:
# otherwise it runs `apt-get update` and `apt-get install -y chromium` (Debian's package).
set -eu

report() {
  # Debian's /usr/bin/chromium is a launcher script; --version goes through it to the browser.
  echo "ensure-chromium: $1 $(chromium --version 2>/dev/null | head -n 1) at $(command -v chromium)"
}

if command -v chromium >/dev/null 2>&1; then
  report "already installed:"
  exit 0
fi

echo "ensure-chromium: no chromium on PATH"
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: run me as root to install Debian's chromium package, or put a chromium on PATH (or set CHROMIUM_PATH) for test/e2e" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: no apt-get: install Chromium with this system's package manager, or set CHROMIUM_PATH to a Chromium binary" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-chromium: apt-get update"
apt-get update
echo "ensure-chromium: apt-get install -y chromium"
apt-get install -y chromium

if command -v chromium >/dev/null 2>&1; then
  report "installed"
else
  echo "ensure-chromium: the chromium package is installed, but chromium is still not on PATH" >&2
  exit 1
fi
