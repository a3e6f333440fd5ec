#!/usr/bin/env bash
# Scenario 6, hostile contracts: adversarial_e2e's
# hostile_contracts_run_out_of_gas_or_fail_clearly_and_the_chain_goes_on,
# RUNS times on a fresh node each: an endless loop, memory growth, deep
# recursion, 60 kB storage writes without end, a 4 MB event and a contract
# calling itself must each end in out-of-gas or a clear error, and the node
# keeps making blocks. Block intervals while they ran are reported (the
# test prints them; no timing is asserted).
#   RELIABILITY_CONTRACT_RUNS (3)
# shellcheck source=scripts/reliability/lib.sh
source "$(dirname "$0")/lib.sh"
runs="${RELIABILITY_CONTRACT_RUNS:-3}"
RELIABILITY_COMMAND="RELIABILITY_CONTRACT_RUNS=$runs $0"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for ((run = 1; run <= runs; run++)); do
  echo "== run $run of $runs"
  if ! reliability_cargo_test adversarial_e2e \
    hostile_contracts_run_out_of_gas_or_fail_clearly_and_the_chain_goes_on 2>&1 | tee -a "$out"; then
    reliability_result "$run" FAIL "run $run failed: $(grep -m1 -A2 'panicked at' "$out" | tr '\n' ' ' | cut -c1-300)"
    exit 1
  fi
done
max="$(sed -n 's/.*max \([0-9]*\) ms.*/\1/p' "$out" | sort -n | tail -n 1)"
median="$(sed -n 's/.*median \([0-9]*\) ms.*/\1/p' "$out" | sort -n | tail -n 1)"
reliability_result "$runs" PASS "$runs runs x 8 contracts (range storms included): out of gas or a clear VM error each, node unaffected; block interval while they ran: median ${median:-?} ms, max ${max:-?} ms"
