#!/usr/bin/env bash
# Installs CometBFT into bin/. Pinned: `@latest` resolves to v1.x, whose ABCI
# differs from the v0.38 protocol umd speaks.
set -euo pipefail
cd "$(dirname "$0")/.."
version=v0.38.25
if [ -x bin/cometbft ] && bin/cometbft version 2>/dev/null | grep -q "^${version#v}"; then
  exit 0
fi
echo "setup: installing CometBFT $version into bin/"
mkdir -p bin
GOBIN="$PWD/bin" GOFLAGS=-mod=mod go install "github.com/cometbft/cometbft/cmd/cometbft@$version"
bin/cometbft version
