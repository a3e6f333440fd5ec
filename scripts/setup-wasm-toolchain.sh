#!/usr/bin/env bash
# Unpacks Debian's rustc-web (a rustc that ships the std sources needed to
# build std for wasm32) into tools/rust-web without installing it system-wide,
# so it cannot conflict with rustup's toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/tools/rust-web"
if [ -x "$dir/usr/bin/rustc" ] && [ -x "$dir/usr/bin/rust-lld" ]; then
  exit 0
fi
echo "setup: unpacking the wasm toolchain (Debian rustc-web) into tools/rust-web"
ver="1.96.0+dfsg1-1~deb12u2"
packages=(
  "rustc-web=$ver" "libstd-rust-web-dev=$ver" "libstd-rust-web-1.96=$ver"
  "rust-web-llvm=$ver" "rust-web-src=$ver" libllvm22 lld-22 liblld-22
)
download="$(mktemp -d)"
trap 'rm -rf "$download"' EXIT
if ! (cd "$download" && apt-get download "${packages[@]}" >/dev/null 2>&1); then
  apt-get update -qq
  (cd "$download" && apt-get download "${packages[@]}")
fi
rm -rf "$dir"
mkdir -p "$dir"
for deb in "$download"/*.deb; do dpkg -x "$deb" "$dir"; done
LD_LIBRARY_PATH="$dir/usr/lib/x86_64-linux-gnu:$dir/usr/lib/llvm-22/lib" "$dir/usr/bin/rustc" --version
