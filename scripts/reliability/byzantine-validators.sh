#!/usr/bin/env bash
# Scenario 5, byzantine validators: adversarial_e2e's
# byzantine_validators_are_outvoted_and_forged_verdict_blocks_refused on a
# 4-validator localnet, with all eight rounds of node3's byzantine modes
# (`umd start --byzantine`, a test hook): always-accept, always-reject,
# malformed and oversized vote extensions, each paired with forging or
# omitting the injected verdict tx as proposer (`make test` runs two). Each
# round an honest update must be accepted and a tampered one rejected and
# slashed; forged blocks refused in ProcessProposal, bad extensions in
# VerifyVoteExtension, and all four nodes on one app hash at the end.
#   UM_BYZANTINE_ROUNDS (8)
# shellcheck source=scripts/reliability/lib.sh
source "$(dirname "$0")/lib.sh"
export UM_BYZANTINE_ROUNDS="${UM_BYZANTINE_ROUNDS:-8}"
RELIABILITY_COMMAND="UM_BYZANTINE_ROUNDS=$UM_BYZANTINE_ROUNDS $0"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
if reliability_cargo_test adversarial_e2e \
  byzantine_validators_are_outvoted_and_forged_verdict_blocks_refused 2>&1 | tee "$out"; then
  summary="$(grep -o 'BYZANTINE .*' "$out" | tail -n 1)"
  minority="$(grep -o 'minority: .*' "$out" | tail -n 1)"
  double_sign="$(grep -o 'double sign: .*' "$out" | tail -n 1)"
  reliability_result "$UM_BYZANTINE_ROUNDS" PASS "${summary#BYZANTINE }; $minority; $double_sign"
else
  reliability_result "?" FAIL "$(grep -m1 -A2 'panicked at' "$out" | tr '\n' ' ' | cut -c1-300)"
  exit 1
fi
