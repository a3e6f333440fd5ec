#!/usr/bin/env bash
# Issue 7, item 5: cost of history. A 1-validator localnet with four
# lineages of a tiny model (MLP 784-16-10, 12,730 parameters), one local
# step per update and very short blocks; four trainers (one per lineage)
# make VERSIONS accepted versions between them (1,000 in `make bench`), or
# stop at the time cap. Measures the growth of umd's
# store and CometBFT's data per accepted version against the raw weights
# size, umd's resident memory before and after, and the time to serve
# weights over umd's REST gateway (the head version and version 1, the
# oldest after genesis) against the same bytes from CometBFT's RPC
# (abci_query of /um.training.v1.Query/Weights), side by side. Appends one
# JSON line.
#
#   bench/scripts/history.sh RESULTS PROFILE VERSIONS CAP_SECONDS
set -euo pipefail
cd "$(dirname "$0")/../.."
results="$1" profile="$2" versions="$3" cap="$4"
root="$(pwd)"
work="$root/target/bench"
ip=127.0.0.70
# All 10,000 digits, like the demo: the first thousand alone make a split
# whose validation accuracy stays at chance.
export LOCALNET_DIR="$work/history-net" LOCALNET_BASE_IP="$ip"
# A version takes about six blocks (submit; the verdicts in the next block's
# vote extensions; the decision in the one after; the trainer's next
# submission lands about three blocks after that), so the block time sets
# the pace: 20 ms of timeout_commit instead of the localnet's 500 ms (a
# debug umd takes ~230 ms per block anyway: one lineage made 40 versions a
# minute). A lineage's versions come one at a time, so four lineages with a
# trainer each make four times as many.
export LOCALNET_TIMEOUT_COMMIT=20ms
lineages=4
export LOCALNET_LINEAGES=$lineages
export LOCALNET_SPEC='{"kind":"mlp","input":[1,28,28],"hidden":[16],"classes":10}'
# min_improvement 0: an update is accepted when it does not make the
# validation loss worse. One step of lr 0.01 on batches of 256 lowers the
# validation loss nearly every time for well over 1,000 steps (lr 0.1 over 5
# steps levels off within a few hundred versions, after which most updates
# are rejected by the trainer's own check and cost rounds).
export LOCALNET_HYPERPARAMS='{"learning_rate":"0.01","batch_size":256,"local_steps":1,"verification_tolerance":"0.001","min_improvement":"0","reward_per_update":"1000000","reward_halving_interval":100}'
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export UMD="$root/target/$profile/umd" UM_TRAINER="$root/target/$profile/um-trainer"
# The localnet's throwaway keys are in the plain-text test keyring.
export UMD_KEYRING_BACKEND=test
# umd's REST gateway on this node's address; no gRPC server needed.
export UMD_API_ADDRESS="$ip:1317" UMD_GRPC_ADDRESS=off
params=12730
model=mnist-mlp
rpc="http://$ip:26657" rest="http://$ip:1317"
home="$LOCALNET_DIR/node0"
trap 'localnet/down.sh --clean >/dev/null 2>&1 || true' EXIT

localnet/up.sh 1 --fresh >/dev/null
rm -f "$work"/history-trainer*.log
# du of the node's stores: umd's sled database (data/umd/umd.db) and
# CometBFT's data (the rest of data/: blocks, state, tx index).
sizes() {
  local all umd app
  all="$(du -sb "$home/data" | cut -f1)"
  app="$(du -sb "$home/data/umd" | cut -f1)"
  umd="$(du -sb "$home/data/umd/umd.db" | cut -f1)"
  echo "$umd $((all - app))"
}
rss_kib() { ps -o rss= -p "$(cat "$home/umd.pid")" | tr -d ' '; }
# lineage L: the model id of lineage L (1..lineages).
lineage() { if [ "$1" = 1 ]; then echo "$model"; else echo "$model-$1"; fi; }
head_version() {
  "$UMD" query lineage "$1" --node "$rpc" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["head_version"])'
}
# versions_now: the head versions of all lineages added up.
versions_now() {
  local l total=0
  for ((l = 1; l <= lineages; l++)); do total=$((total + $(head_version "$(lineage "$l")"))); done
  echo "$total"
}
read -r db0 data0 <<<"$(sizes)"
rss0="$(rss_kib)"
v0="$(versions_now)"
echo "== cost of history: training up to $versions versions on $lineages lineages (at most $cap s)"
start=$SECONDS
pids=()
for ((l = 1; l <= lineages; l++)); do
  OMP_NUM_THREADS=1 timeout "$cap" "$UM_TRAINER" train --node "$rpc" --home "$home" --key "trainer$l" \
    --model "$(lineage "$l")" --updates $(((versions + lineages - 1) / lineages)) --max-failures 0 \
    >"$work/history-trainer$l.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || true; done
secs=$((SECONDS - start))
sleep 2 # the last decision's block
total="$(versions_now)"
v1="$(head_version "$model")"
read -r db1 data1 <<<"$(sizes)"
rss1="$(rss_kib)"

# Serving the head version's weights, 30 times each way, alternating; then
# version 1's over REST (the oldest, under a thousand newer ones).
weights="$LOCALNET_DIR/weights.safetensors"
sha="$(curl -sf -D - -o "$weights" "$rest/um/training/v1/models/$model/versions/$v1/weights" |
  tr -d '\r' | sed -n 's/^x-weights-sha256: //Ip')"
bytes="$(stat -c %s "$weights")"
rest_times=() rpc_times=() old_times=()
for _ in $(seq 30); do
  rest_times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$rest/um/training/v1/models/$model/versions/$v1/weights")")
  # QueryWeightsRequest{weights_sha256}: field 1, 32 bytes.
  rpc_times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$rpc/abci_query?path=%22/um.training.v1.Query/Weights%22&data=0x0a20$sha")")
  old_times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$rest/um/training/v1/models/$model/versions/1/weights")")
done
python3 - "$results" <<EOF
import json, statistics, sys
rest = [float(x) for x in "${rest_times[*]}".split()]
rpc = [float(x) for x in "${rpc_times[*]}".split()]
old = [float(x) for x in "${old_times[*]}".split()]
accepted = $total - $v0
row = {
    "bench": "history", "versions_target": $versions, "cap_secs": $cap, "secs": $secs,
    "accepted_versions": accepted, "submitted": $(cat "$work"/history-trainer*.log | grep -c ' submitted at height' || true), "lineages": $lineages, "head_version": $v1, "parameters": $params,
    "raw_weights_bytes": 4 * $params, "served_bytes": $bytes,
    "umd_db_bytes": [$db0, $db1], "cometbft_data_bytes": [$data0, $data1],
    "umd_rss_kib": [$rss0, $rss1],
    "rest_ms_median": statistics.median(rest) * 1000, "rpc_ms_median": statistics.median(rpc) * 1000,
    "rest_v1_ms_median": statistics.median(old) * 1000,
    "rest_ms": [x * 1000 for x in rest], "rpc_ms": [x * 1000 for x in rpc],
}
print(json.dumps(row))
open(sys.argv[1], "a").write(json.dumps(row) + "\n")
EOF
