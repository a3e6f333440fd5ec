#!/usr/bin/env bash
# Scenario 2, validator churn: on a 4-validator localnet with two trainers,
# a random validator is SIGKILLed, left down a random moment and restarted,
# 20 times. The nodes must agree at the end with every accepted version; the
# longest time without a new block must stay within a few blocks: at most
# RELIABILITY_MAX_STALL_BLOCKS (default 8) median block times, or one
# CometBFT round with a dead proposer (timeout_propose 2 s and the
# prevote/precommit waits: ~4.4 s measured) plus a block.
# Test: reliability_e2e::validator_churn_keeps_one_chain.
# shellcheck source=scripts/reliability/lib.sh
source "$(dirname "$0")/lib.sh"
export RELIABILITY_CHURN="${RELIABILITY_CHURN:-20}"
export RELIABILITY_SEED="${RELIABILITY_SEED:-$((RANDOM * 32768 + RANDOM))}"
max_blocks="${RELIABILITY_MAX_STALL_BLOCKS:-8}"
RELIABILITY_COMMAND="RELIABILITY_SEED=$RELIABILITY_SEED RELIABILITY_CHURN=$RELIABILITY_CHURN $0"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
if reliability_cargo_test reliability_e2e validator_churn_keeps_one_chain 2>&1 | tee "$out"; then
  summary="$(grep -o 'SUMMARY .*' "$out" | tail -n 1)"
  median="$(sed -n 's/.*median_block_s=\([0-9.]*\).*/\1/p' <<<"$summary")"
  stall="$(sed -n 's/.*max_stall_s=\([0-9.]*\).*/\1/p' <<<"$summary")"
  verdict="$(python3 -c "import sys; m, s, n = map(float, sys.argv[1:]); b = s / m if m else 0; print(('PASS' if b <= n else 'FAIL') + ' %.1f' % b)" "$median" "$stall" "$max_blocks")"
  reliability_result "$RELIABILITY_CHURN" "${verdict% *}" \
    "longest stall ${stall}s = ${verdict#* } median block times (limit $max_blocks); ${summary#SUMMARY }"
  [ "${verdict% *}" = PASS ]
else
  reliability_result "?" FAIL "$(grep -m1 -A2 'panicked at' "$out" | tr '\n' ' ' | cut -c1-300)"
  exit 1
fi
