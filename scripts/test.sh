#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, from the locks, then runs
# the whole suite: lint, the fast unit suite, then integration (real SQLite, PostgreSQL,
# NATS) and end-to-end tests (HTTP, headless Chromium with axe-core).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v faketime >/dev/null 2>&1 || need_apt+=(faketime)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "== installing Python packages from requirements/lock.txt"
# PIP_CONSTRAINT also pins what pip installs to build yswd itself (setuptools, wheel)
export PIP_CONSTRAINT="$PWD/requirements/lock.txt"
python3 -m pip install -q --disable-pip-version-check -e ".[test]"
unset PIP_CONSTRAINT

echo "== installing npm tools from package-lock.json"
npm ci --silent --no-audit --no-fund >/dev/null

echo "== lint"
python3 scripts/build_frontend.py --check  # static/nhsuk is the locked nhsuk-frontend
python3 -m ruff check src tests bench
python3 -m mypy src
lint-imports --no-cache --no-logo  # the layer rules: [tool.importlinter] in pyproject.toml

echo "== unit tests"
python3 -m pytest -q tests/unit

# the end-to-end files over HTTP, and those that drive Chromium (*_browser.py)
e2e_http=() e2e_browser=()
for file in tests/e2e/test_*.py; do
  if [[ $file == *_browser.py ]]; then e2e_browser+=("$file"); else e2e_http+=("$file"); fi
done

echo "== unit tests, and every end-to-end HTTP test, with the clock a year ahead"
# time is an input: nothing may depend on today's date. faketime moves the wall clock
# (dates) and leaves the monotonic clock (timeouts) real; tests/faketime/sitecustomize.py
# makes time.sleep work under Debian's libfaketime (see its docstring). The HTTP tier
# runs here only, a year ahead (about a minute slower than on the real clock); the
# integration and browser tiers run on the real clock below (a year ahead they pass
# too, checked by hand in session 7, but take some 13 minutes more)
FAKETIME_DONT_FAKE_MONOTONIC=1 PYTHONPATH="$PWD/tests/faketime" faketime -f '+365d' \
  python3 -m pytest -q -p no:cacheprovider tests/unit "${e2e_http[@]}"
# ... and a year behind, for the fast tier
FAKETIME_DONT_FAKE_MONOTONIC=1 PYTHONPATH="$PWD/tests/faketime" faketime -f '-365d' \
  python3 -m pytest -q -p no:cacheprovider tests/unit

echo "== integration tests and the browser tests"
python3 -m pytest -q tests/integration "${e2e_browser[@]}"
