#!/usr/bin/env bash
# Scenario 8, disk trouble: a one-validator chain whose umd state lives on a
# 24 MiB tmpfs, filled until writes fail: umd must stop (exit 2, "cannot
# persist block … stopping") with whole blocks only in its store, and go on
# once the space is back. Then the VM cache alone out of space while a
# contract is stored: umd stops instead of failing the tx, and the replayed
# block stores it. Tests: reliability_e2e::full_disk_stops_umd_cleanly_and_it_recovers
# (RELIABILITY_DISK_ROUNDS rounds; after the first, sled reuses its files,
# so a round that finds no refused write fails) and
# reliability_e2e::full_wasm_cache_stops_umd_instead_of_failing_the_tx.
# shellcheck source=scripts/reliability/lib.sh
source "$(dirname "$0")/lib.sh"
export RELIABILITY_DISK_ROUNDS="${RELIABILITY_DISK_ROUNDS:-1}"
runs="${RELIABILITY_DISK_RUNS:-3}"
RELIABILITY_COMMAND="RELIABILITY_DISK_RUNS=$runs $0"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
passed=0
for ((r = 1; r <= runs; r++)); do
  echo "== run $r/$runs"
  reliability_cargo_test reliability_e2e full_disk_stops_umd_cleanly_and_it_recovers 2>&1 | tee -a "$out" || break
  reliability_cargo_test reliability_e2e full_wasm_cache_stops_umd_instead_of_failing_the_tx 2>&1 | tee -a "$out" || break
  passed=$r
done
stops="$(grep -o 'stopped_at_heights=\[[0-9, ]*\]' "$out" | tr '\n' ' ')"
if [ "$passed" = "$runs" ]; then
  reliability_result "$((runs * 2))" PASS "store full: umd exit 2 and recovery each time ($stops); VM cache full: umd exit 2, tx stored on replay, $runs times"
else
  reliability_result "$((passed * 2))" FAIL "run $((passed + 1)): $(grep -m1 -A2 'panicked at' "$out" | tr '\n' ' ' | cut -c1-300)"
  exit 1
fi
