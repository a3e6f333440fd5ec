#!/usr/bin/env bash
# Scenario 3, partition: a 4-validator localnet with every node in a
# network namespace of its own (localnet/up.sh with LOCALNET_NETNS,
# localnet/partition.sh moves nodes between two bridges). Each round: split
# 2–2 for RELIABILITY_SPLIT_SECS: no node past the block in flight; heal:
# blocks again, the same block at every height on every node; split 3–1:
# the three make five blocks, the one none; heal: it catches up.
# Test: reliability_e2e::partition_halts_two_two_and_heals_three_one.
# shellcheck source=scripts/reliability/lib.sh
source "$(dirname "$0")/lib.sh"
export RELIABILITY_PARTITIONS="${RELIABILITY_PARTITIONS:-5}"
export RELIABILITY_SPLIT_SECS="${RELIABILITY_SPLIT_SECS:-15}"
export RELIABILITY_SEED="${RELIABILITY_SEED:-$((RANDOM * 32768 + RANDOM))}"
RELIABILITY_COMMAND="RELIABILITY_SEED=$RELIABILITY_SEED RELIABILITY_PARTITIONS=$RELIABILITY_PARTITIONS $0"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
if reliability_cargo_test reliability_e2e partition_halts_two_two_and_heals_three_one 2>&1 | tee "$out"; then
  summary="$(grep -o 'SUMMARY .*' "$out" | tail -n 1)"
  reliability_result "$((RELIABILITY_PARTITIONS * 2))" PASS "${summary#SUMMARY }"
else
  reliability_result "?" FAIL "$(grep -m1 -A2 'panicked at' "$out" | tr '\n' ' ' | cut -c1-300)"
  exit 1
fi
