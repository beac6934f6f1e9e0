#!/usr/bin/env bash
# Installs everything tinker-ts needs on a fresh Debian/Ubuntu machine: OpenBLAS (for the
# engine's native addon) from apt, then the npm workspace (which builds the addon).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s libopenblas-dev >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq libopenblas-dev >/dev/null
fi

if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
npm run build
