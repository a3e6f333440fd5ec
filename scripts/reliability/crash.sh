#!/usr/bin/env bash
# Scenario 1, crash anywhere: 50 cycles on a 4-validator localnet with two
# trainers, each crashing a random validator twice (a SIGKILL at whatever
# moment, then umd's UMD_CRASH_AT hook inside FinalizeBlock, around
# Commit's write or as a verification answer arrives, or one cycle in five
# a SIGKILL from outside after a random pause): 100 crashes. Every restart
# must catch up with every version and balance it had; all four agree at
# the end. Test: reliability_e2e::crash_anywhere_recovers_and_agrees.
#   RELIABILITY_CRASH_CYCLES (50), RELIABILITY_SEED (random, recorded)
# shellcheck source=scripts/reliability/lib.sh
source "$(dirname "$0")/lib.sh"
export RELIABILITY_CRASH_CYCLES="${RELIABILITY_CRASH_CYCLES:-50}"
export RELIABILITY_SEED="${RELIABILITY_SEED:-$((RANDOM * 32768 + RANDOM))}"
RELIABILITY_COMMAND="RELIABILITY_SEED=$RELIABILITY_SEED RELIABILITY_CRASH_CYCLES=$RELIABILITY_CRASH_CYCLES $0"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
if reliability_cargo_test reliability_e2e crash_anywhere_recovers_and_agrees 2>&1 | tee "$out"; then
  summary="$(grep -o 'SUMMARY .*' "$out" | tail -n 1)"
  crashes="$(sed -n 's/.*crashes=\([0-9]*\).*/\1/p' <<<"$summary")"
  reliability_result "${crashes:-?}" PASS "${summary#SUMMARY }"
else
  reliability_result "?" FAIL "$(grep -m1 -A2 'panicked at' "$out" | tr '\n' ' ' | cut -c1-300)"
  exit 1
fi
