#!/usr/bin/env bash
# Scenario 7, hostile input: the cargo-fuzz targets of fuzz/ (tx decoding,
# safetensors weights, vote extensions, injected verdict txs), each run for
# FUZZ_SECONDS with libFuzzer; any crash (a panic, an abort, a leak of the
# time or memory limits) fails the scenario and leaves its input in
# fuzz/artifacts/<target>/. Then adversarial_e2e's
# hostile_requests_to_grpc_and_rest_get_errors_and_the_node_serves_on:
# malformed and oversized gRPC and REST requests get 4xx/InvalidArgument and
# the node serves on.
#
# The fuzz crate is not part of the workspace: it needs nightly compiler
# features, which RUSTC_BOOTSTRAP=1 unlocks on the stable toolchain, and
# builds into fuzz/target. cargo-fuzz is installed into tools/cargo-fuzz.
#   FUZZ_SECONDS (40 per target), FUZZ_TARGETS (all)
#   fuzz.sh --build-only: only build the targets (run.sh does so first)
# shellcheck source=scripts/reliability/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$RELIABILITY_ROOT"
seconds="${FUZZ_SECONDS:-40}"
targets="${FUZZ_TARGETS:-tx_decode safetensors vote_extension injected_verdicts}"
RELIABILITY_COMMAND="FUZZ_SECONDS=$seconds $0"
cargo_fuzz="$RELIABILITY_ROOT/tools/cargo-fuzz/bin/cargo-fuzz"
if [ ! -x "$cargo_fuzz" ]; then
  cargo install cargo-fuzz --locked --version 0.13.2 --root "$RELIABILITY_ROOT/tools/cargo-fuzz"
fi
# Only for cargo-fuzz: exported, it would also reach the workspace builds
# below (reliability_cargo_test), and cargo rebuilds every crate of the
# shared target/ when RUSTC_BOOTSTRAP changes (it did, taking scenario 7
# past its limit and the next plain build with it).
run_cargo_fuzz() { RUSTC_BOOTSTRAP=1 "$cargo_fuzz" "$@"; }
# Panics are what we look for; safe Rust needs no address sanitizer, and
# without it the build is much smaller and faster.
fuzz_flags=(--sanitizer none --release)
(cd fuzz && run_cargo_fuzz build "${fuzz_flags[@]}")
# run.sh builds everything before the scenarios (their limits count runs).
if [ "${1:-}" = --build-only ]; then exit 0; fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
total_runs=0
details=""
for target in $targets; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  echo "== fuzz $target for ${seconds}s"
  if ! (cd fuzz && run_cargo_fuzz run "${fuzz_flags[@]}" "$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
    -print_final_stats=1) >"$out" 2>&1; then
    tail -n 40 "$out"
    reliability_result "$total_runs" FAIL "$target crashed: $(grep -m1 -E 'panicked|ERROR|deadly' "$out" | cut -c1-200); input in fuzz/artifacts/$target/"
    exit 1
  fi
  runs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$out" | tail -n 1)"
  tail -n 5 "$out"
  total_runs=$((total_runs + ${runs:-0}))
  details+="$target ${runs:-?} execs, "
done

echo "== hostile gRPC and REST requests"
if ! reliability_cargo_test adversarial_e2e \
  hostile_requests_to_grpc_and_rest_get_errors_and_the_node_serves_on 2>&1 | tee "$out"; then
  reliability_result "$total_runs" FAIL "hostile API requests: $(grep -m1 -A2 'panicked at' "$out" | tr '\n' ' ' | cut -c1-300)"
  exit 1
fi
reliability_result "$total_runs" PASS "${details}${seconds}s each, 0 crashes; malformed/oversized gRPC and REST requests refused with 4xx/InvalidArgument, node up"
