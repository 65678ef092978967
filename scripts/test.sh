#!/usr/bin/env bash
# Set up (venv, pip, Debian's chromium for the browser tests), then lint, build the docs strictly and run
# the default test suite (the tests marked slow are left out: pass -m "slow or not slow" to run everything,
# as .ci/run does); the first failure stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
site="$(mktemp -d)"
trap 'rm -rf "$site"' EXIT
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet -d "$site"
.venv/bin/python -m pytest -q --durations=15 "$@"
