#!/usr/bin/env bash
# Installs CometBFT into bin/. Pinned: `@latest` resolves to v1.x, whose ABCI
# differs from the v0.38 protocol umd speaks.
#
#   scripts/setup-cometbft.sh              cometbft
#   scripts/setup-cometbft.sh --abci-cli   and its abci-cli (the benchmarks'
#                                          out-of-process kvstore reference)
set -euo pipefail
cd "$(dirname "$0")/.."
version=v0.38.25
module=github.com/cometbft/cometbft
# abci-cli's `version` prints the ABCI protocol's, so a stamp beside each
# binary says which release it came from.
install() { # BINARY PACKAGE
  if [ -x "bin/$1" ] && [ "$(cat "bin/.$1.version" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  if [ "$1" = cometbft ] && [ -x bin/cometbft ] && bin/cometbft version 2>/dev/null | grep -q "^${version#v}"; then
    echo "$version" >"bin/.$1.version"
    return 0
  fi
  echo "setup: installing $1 (CometBFT $version) into bin/"
  mkdir -p bin
  GOBIN="$PWD/bin" GOFLAGS=-mod=mod go install "$module/$2@$version"
  echo "$version" >"bin/.$1.version"
}
install cometbft cmd/cometbft
if [ "${1:-}" = --abci-cli ]; then install abci-cli abci/cmd/abci-cli; fi
