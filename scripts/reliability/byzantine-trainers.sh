#!/usr/bin/env bash
# Scenario 4, byzantine trainers: adversarial_e2e's
# byzantine_trainers_are_refused_or_slashed_and_the_honest_trainer_lands,
# RUNS times on a fresh chain each, with a mempool flood UM_FLOOD_SCALE times
# the `make test` one (200 garbage + 150 signed txs). Each run: an update
# without stake, weights of the wrong shapes, an oversized update, a copy of
# a pending update, a front-running copy, the flood; the honest trainer's
# stake untouched and its three updates accepted. Tampered, other-batch,
# NaN, stale-base and replayed weights: training_e2e (in `make test`).
#   RELIABILITY_TRAINER_RUNS (2), UM_FLOOD_SCALE (4)
# shellcheck source=scripts/reliability/lib.sh
source "$(dirname "$0")/lib.sh"
runs="${RELIABILITY_TRAINER_RUNS:-2}"
export UM_FLOOD_SCALE="${UM_FLOOD_SCALE:-4}"
RELIABILITY_COMMAND="RELIABILITY_TRAINER_RUNS=$runs UM_FLOOD_SCALE=$UM_FLOOD_SCALE $0"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
passed=0
for ((run = 1; run <= runs; run++)); do
  echo "== run $run of $runs"
  if reliability_cargo_test adversarial_e2e \
    byzantine_trainers_are_refused_or_slashed_and_the_honest_trainer_lands 2>&1 | tee -a "$out"; then
    passed=$((passed + 1))
  else
    reliability_result "$run" FAIL "run $run failed: $(grep -m1 -A2 'panicked at' "$out" | tr '\n' ' ' | cut -c1-300)"
    exit 1
  fi
done
flood="$(grep -o 'flood: .*' "$out" | tail -n 1)"
reliability_result "$passed" PASS "$passed runs x 7 attacks each, all refused or slashed, honest trainer unaffected, two replays agreeing with the chain; $flood"
