#!/usr/bin/env bash
# The standard clients the interop tests (abci-app/tests/interop_e2e.rs) run
# against a real umd: CosmJS and playwright-core from npm (versions pinned
# by interop/package-lock.json), Debian's chromium for the headless browser
# test of the dashboard (playwright's own browser download is not used), and
# schemathesis from PyPI in .venv for the fuzz test of the REST API.
# Each step skips itself once done.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm ci again whenever the lock file changed since the last install.
lock_sum=$(sha256sum interop/package-lock.json | cut -d' ' -f1)
stamp=interop/node_modules/.um-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  echo "setup: npm ci in interop/ (CosmJS, playwright-core)"
  (cd interop && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$stamp"
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "setup: apt-get install chromium (headless browser for the dashboard test)"
  sudo=
  if [ "$(id -u)" != 0 ]; then
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

schemathesis_version=4.32.5
if [ ! -x .venv/bin/python ]; then
  echo "setup-interop: .venv is missing; run scripts/setup-venv.sh (make setup-venv) first" >&2
  exit 1
fi
if [ "$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" != "$schemathesis_version" ]; then
  echo "setup: pip install schemathesis==$schemathesis_version into .venv (REST API fuzz test)"
  .venv/bin/pip install --quiet "schemathesis==$schemathesis_version"
fi
