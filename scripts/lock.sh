#!/usr/bin/env bash
# Refreshes the locks: every Python dependency, direct and indirect, pinned to an exact
# version in requirements/lock.txt, and the npm tools in package-lock.json.
# Run it after changing pyproject.toml or package.json, then run scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check "uv==0.13.9"
python3 -m uv pip compile pyproject.toml requirements/build.in --extra test \
  --python-version 3.11 --upgrade --quiet --no-header -o requirements/lock.txt
sed -i '1i # The lock: exact versions of every dependency. Made by `bash scripts/lock.sh`; do not edit.' \
  requirements/lock.txt
npm install --package-lock-only --silent
