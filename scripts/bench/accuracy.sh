#!/usr/bin/env bash
# Issue 7, item 4: time to accuracy. A fresh 4-validator localnet (the
# localnet's lineage: MLP 784-128-64-10, lr 0.1, batch 64, 20 local steps,
# min_improvement 0.0001, all 10,000 digits) with K trainers (each
# `um-trainer train` on its own node) until the chain's head reaches 90 % and
# 95 % validation accuracy as the validators measured it, or the cap; then
# the trainer's loop alone (bench_training alone: same hyperparameters, the
# chain's version-0 weights, no chain) to the same accuracies. Wall times from
# the trainers' start. Appends JSON lines to RESULTS.
#
#   scripts/bench/accuracy.sh RESULTS PROFILE CAP_SECONDS K...
set -euo pipefail
cd "$(dirname "$0")/../.."
results="$1" profile="$2" cap="$3"
shift 3
root="$(pwd)"
work="$root/target/bench"
ip=127.0.0.80
model=mnist-mlp
export LOCALNET_DIR="$work/accuracy-net" LOCALNET_BASE_IP="$ip"
export UMD="$root/target/$profile/umd" UM_TRAINER="$root/target/$profile/um-trainer"
export UMD_API_ADDRESS=off UMD_GRPC_ADDRESS=off
example="$root/target/$profile/examples/bench_training"
trainer_pids=()
stop_trainers() {
  local pid
  for pid in "${trainer_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${trainer_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  trainer_pids=()
}
trap 'stop_trainers; localnet/down.sh --clean >/dev/null 2>&1 || true' EXIT

# best_accuracy: the highest validation accuracy among the chain's versions.
best_accuracy() {
  "$UMD" query training versions "$model" --node "http://$ip:26657" 2>/dev/null |
    awk '$1 ~ /^[0-9]+$/ && $4 + 0 > best { best = $4 + 0 } END { printf "%.4f\n", best + 0 }'
}

base="$work/accuracy-v0.safetensors"
for k in "$@"; do
  if [ "$k" -gt 2 ]; then
    echo "accuracy.sh: the localnet bonds two trainers; K=$k is not supported" >&2
    continue
  fi
  echo "== time to accuracy: 4 validators, $k trainer(s) (at most $cap s)"
  localnet/up.sh 4 --fresh >/dev/null
  "$UMD" query training weights "$model" --version 0 --output "$base" --node "http://$ip:26657" >/dev/null
  start=$(date +%s.%N)
  for ((t = 1; t <= k; t++)); do
    "$UM_TRAINER" train --node "http://127.0.0.$((80 + t - 1)):26657" --home "$LOCALNET_DIR/node0" \
      --key "trainer$t" --model "$model" --max-failures 0 >"$work/accuracy-trainer$t.log" 2>&1 &
    trainer_pids+=($!)
  done
  at90=null at95=null best=0
  while :; do
    now=$(date +%s.%N)
    elapsed=$(python3 -c "print(round($now - $start, 2))")
    best="$(best_accuracy)"
    if [ "$at90" = null ] && python3 -c "import sys; sys.exit(0 if $best >= 0.90 else 1)"; then at90=$elapsed; fi
    if python3 -c "import sys; sys.exit(0 if $best >= 0.95 else 1)"; then at95=$elapsed; break; fi
    if python3 -c "import sys; sys.exit(0 if $elapsed >= $cap else 1)"; then break; fi
    sleep 1
  done
  versions="$("$UMD" query lineage "$model" --node "http://$ip:26657" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["head_version"])')"
  stop_trainers
  localnet/down.sh --clean >/dev/null
  echo "{\"bench\":\"accuracy\",\"side\":\"chain\",\"validators\":4,\"trainers\":$k,\"secs_to_90\":$at90,\"secs_to_95\":$at95,\"final_accuracy\":$best,\"versions\":$versions,\"cap_secs\":$cap}" |
    tee -a "$results"
done

echo "== time to accuracy: the trainer's loop alone (at most $cap s)"
"$example" alone "$base" 20 0.0001 "$cap" | tee -a "$results"
