#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, python3 and node:
# Debian packages (redis-server for the multi-instance tests, nginx-light for the deployment suite,
# chromium for the browser tests),
# Python msal (a real client of the local tenant) and playwright-core (drives chromium).
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

apt_packages=()
command -v redis-server >/dev/null 2>&1 || apt_packages+=(redis-server)
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v nginx >/dev/null 2>&1 || apt_packages+=(nginx-light)
if [ "${#apt_packages[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${apt_packages[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_packages[@]}"
fi

if ! python3 -c 'import msal' >/dev/null 2>&1; then
  echo "installing Python msal"
  python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
fi

if [ -f tests/e2e/package.json ] && [ ! -d tests/e2e/node_modules/playwright-core ]; then
  echo "installing playwright-core"
  (cd tests/e2e && npm ci --silent --no-audit --no-fund)
fi
