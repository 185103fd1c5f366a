#!/usr/bin/env bash
# Debian's Chromium for the Model health page's browser test (Playwright drives it; it never downloads a
# browser of its own). Installs only when no chromium is on PATH; needs root (CI and the dev machines are).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM_PATH:-}" ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian's chromium (apt-get) for the browser test ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation fonts-dejavu-core >/dev/null
command -v chromium
