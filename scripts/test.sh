#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs the whole suite:
# the fast unit suite first, then integration (real SQLite, PostgreSQL, NATS) and
# end-to-end tests (HTTP, headless Chromium with axe-core).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "== installing Python packages"
python3 -m pip install -q --disable-pip-version-check -e ".[test]"

if [ ! -f tests/e2e/node_modules/axe-core/axe.min.js ]; then
  echo "== installing axe-core"
  npm install --silent --no-audit --no-fund --prefix tests/e2e axe-core@4 >/dev/null
fi

echo "== lint"
python3 -m ruff check src tests bench
python3 -m mypy src

echo "== unit tests"
python3 -m pytest -q tests/unit

echo "== integration and end-to-end tests"
python3 -m pytest -q tests/integration tests/e2e
