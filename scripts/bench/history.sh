#!/usr/bin/env bash
# Issue 7, item 5: cost of history. A 1-validator localnet with a tiny model
# (MLP 784-16-10, 12,730 parameters) and fast blocks; one trainer makes
# VERSIONS accepted versions (or stops at the time cap). Measures the
# growth of umd's store and CometBFT's data per accepted version against
# the raw weights size, umd's resident memory before and after, and the
# time to serve the head version's weights over umd's REST gateway against
# the same bytes from CometBFT's RPC (abci_query of
# /um.training.v1.Query/Weights), side by side. Appends one JSON line.
#
#   scripts/bench/history.sh RESULTS PROFILE VERSIONS CAP_SECONDS
set -euo pipefail
cd "$(dirname "$0")/../.."
results="$1" profile="$2" versions="$3" cap="$4"
root="$(pwd)"
work="$root/target/bench"
ip=127.0.0.70
# All 10,000 digits, like the demo: the first thousand alone make a split
# whose validation accuracy stays at chance.
export LOCALNET_DIR="$work/history-net" LOCALNET_BASE_IP="$ip"
export LOCALNET_TIMEOUT_COMMIT=100ms
export LOCALNET_SPEC='{"kind":"mlp","input":[1,28,28],"hidden":[16],"classes":10}'
# min_improvement 0: an update is accepted when it does not make the
# validation loss worse, so versions keep coming as the model converges.
export LOCALNET_HYPERPARAMS='{"learning_rate":"0.1","batch_size":64,"local_steps":5,"verification_tolerance":"0.001","min_improvement":"0","reward_per_update":"1000000","reward_halving_interval":100}'
export UMD="$root/target/$profile/umd" UM_TRAINER="$root/target/$profile/um-trainer"
# umd's REST gateway on this node's address; no gRPC server needed.
export UMD_API_ADDRESS="$ip:1317" UMD_GRPC_ADDRESS=off
params=12730
model=mnist-mlp
rpc="http://$ip:26657" rest="http://$ip:1317"
home="$LOCALNET_DIR/node0"
trap 'localnet/down.sh --clean >/dev/null 2>&1 || true' EXIT

localnet/up.sh 1 --fresh >/dev/null
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
head_version() {
  "$UMD" query lineage "$model" --node "$rpc" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["head_version"])'
}
read -r db0 data0 <<<"$(sizes)"
rss0="$(rss_kib)"
v0="$(head_version)"
echo "== cost of history: training up to $versions versions (at most $cap s)"
start=$SECONDS
timeout "$cap" "$UM_TRAINER" train --node "$rpc" --home "$home" --key trainer1 \
  --model "$model" --updates "$versions" --max-failures 0 \
  >"$work/history-trainer.log" 2>&1 || true
secs=$((SECONDS - start))
sleep 2 # the last decision's block
v1="$(head_version)"
read -r db1 data1 <<<"$(sizes)"
rss1="$(rss_kib)"

# Serving the head version's weights, 30 times each way, alternating.
weights="$LOCALNET_DIR/weights.safetensors"
sha="$(curl -sf -D - -o "$weights" "$rest/um/training/v1/models/$model/versions/$v1/weights" |
  tr -d '\r' | sed -n 's/^x-weights-sha256: //Ip')"
bytes="$(stat -c %s "$weights")"
rest_times=() rpc_times=()
for _ in $(seq 30); do
  rest_times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$rest/um/training/v1/models/$model/versions/$v1/weights")")
  # QueryWeightsRequest{weights_sha256}: field 1, 32 bytes.
  rpc_times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$rpc/abci_query?path=%22/um.training.v1.Query/Weights%22&data=0x0a20$sha")")
done
python3 - "$results" <<EOF
import json, statistics, sys
rest = [float(x) for x in "${rest_times[*]}".split()]
rpc = [float(x) for x in "${rpc_times[*]}".split()]
accepted = $v1 - $v0
row = {
    "bench": "history", "versions_target": $versions, "cap_secs": $cap, "secs": $secs,
    "accepted_versions": accepted, "submitted": $(grep -c ' submitted at height' "$work/history-trainer.log" || true), "head_version": $v1, "parameters": $params,
    "raw_weights_bytes": 4 * $params, "served_bytes": $bytes,
    "umd_db_bytes": [$db0, $db1], "cometbft_data_bytes": [$data0, $data1],
    "umd_rss_kib": [$rss0, $rss1],
    "rest_ms_median": statistics.median(rest) * 1000, "rpc_ms_median": statistics.median(rpc) * 1000,
    "rest_ms": [x * 1000 for x in rest], "rpc_ms": [x * 1000 for x in rpc],
}
print(json.dumps(row))
open(sys.argv[1], "a").write(json.dumps(row) + "\n")
EOF
