#!/usr/bin/env bash
# Issue 7, item 1: committed tx/s and broadcast-to-commit latency of a umd
# localnet under signed cw20 NRN transfers, against the same CometBFT
# configuration running its built-in kvstore app; 4 validators and 1.
# Both sides: the same generator (um-loadgen), the same senders per node,
# window and duration, one network at a time, repetitions alternating
# umd (fees on), umd feeless, umd with max_block_contract_gas lifted,
# kvstore, and kvstore out of process (kvstore-socket: the same app behind
# CometBFT's socket client, as umd is). Appends JSON lines to RESULTS.
#
#   bench/scripts/chain.sh RESULTS PROFILE REPS DURATION_S
#   BENCH_SIDES="umd-lifted kvstore kvstore-socket" bench/scripts/chain.sh …   (only those sides)
set -euo pipefail
cd "$(dirname "$0")/../.."
results="$1" profile="$2" reps="$3" duration="$4"
root="$(pwd)"
work="$root/target/bench"
loadgen="$root/target/$profile/um-loadgen"
# 400 txs of ~54,000 gas per sender stay within the share of umd's mempool
# one sender may hold (two blocks of its 1/4 block share, issue 17); more
# would be refused at CheckTx, which async broadcasts do not report.
window="${BENCH_WINDOW:-400}"
# async: each sender keeps many CheckTx requests in flight. A sync sender
# waits a round trip through CometBFT's socket client to umd (an
# out-of-process app, unlike the in-process kvstore) per tx: ~75 tx/s per
# sender whatever the app's speed (measured 2026-12-05).
broadcast="${BENCH_BROADCAST:-async}"
max_txs="${BENCH_MAX_TXS:-40000}"
# Addresses of their own, away from localnet/'s default 127.0.0.2+.
umd_ip=127.0.0.40 kv_ip=127.0.0.60

umd_net() { # up|down N
  LOCALNET_DIR="$work/umd-net" LOCALNET_BASE_IP="$umd_ip" LOCALNET_DIGITS=1000 \
    UMD="$root/target/$profile/umd" UM_TRAINER="$root/target/$profile/um-trainer" \
    "$root/localnet/$1.sh" "${@:2}"
}
nodes() { # BASE_IP N: --node flags
  local a b c d i
  IFS=. read -r a b c d <<<"$1"
  for ((i = 0; i < $2; i++)); do echo "--node http://$a.$b.$c.$((d + i)):26657"; done
}
record() { # side validators rep json
  jq -c --arg side "$1" --argjson v "$2" --argjson rep "$3" \
    '. + {bench: "chain", side: $side, validators: $v, rep: $rep}' <<<"$4" | tee -a "$results"
}
cleanup() {
  umd_net down --clean >/dev/null 2>&1 || true
  bench/scripts/kvnet.sh down "$work/kv-net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
wanted() { [ -z "${BENCH_SIDES:-}" ] || [[ " $BENCH_SIDES " == *" $1 "* ]]; }
umd_round() { # side auth-params-json validators rep [fee-params-json gas-price [loadgen options]]
  wanted "$1" || return 0
  echo "== chain, $3 validator(s), round $4/$reps: $1"
  LOCALNET_AUTH_PARAMS="$2" LOCALNET_FEE_PARAMS="${5:-}" umd_net up "$3" --fresh >/dev/null
  local out
  # shellcheck disable=SC2046
  out="$("$loadgen" --mode chain $(nodes "$umd_ip" "$3") "${senders[@]}" "${common[@]}" \
    --window "${round_window:-$window}" --gas-price "${6:-0.025unrn}" "${@:7}")"
  record "$1" "$3" "$4" "$out"
  umd_net down --clean >/dev/null
}
kv_round() { # side builtin|socket validators rep
  wanted "$1" || return 0
  echo "== chain, $3 validator(s), round $4/$reps: $1"
  KVNET_APP="$2" bench/scripts/kvnet.sh up "$3" "$work/kv-net" "$kv_ip"
  local out
  # shellcheck disable=SC2046
  out="$("$loadgen" --mode kvstore --kv-senders $((${#senders[@]} / 2)) $(nodes "$kv_ip" "$3") "${common[@]}" --window "$window")"
  record "$1" "$3" "$4" "$out"
  bench/scripts/kvnet.sh down "$work/kv-net"
}

for n in ${BENCH_VALIDATORS:-4 1}; do
  senders=()
  if [ "$n" = 1 ]; then
    # Four senders: a block takes at most 1/4 of its gas from one sender.
    senders=(--sender "$work/umd-net/node0/keys:operator" --sender "$work/umd-net/node0/keys:trainer1"
      --sender "$work/umd-net/node0/keys:trainer2" --sender "$work/umd-net/node0/keys:trainer3")
  else
    for ((i = 0; i < n; i++)); do senders+=(--sender "$work/umd-net/node$i/keys:operator"); done
  fi
  common=(--duration "$duration" --txs "$max_txs" --broadcast "$broadcast")
  for r in $(seq 1 "$reps"); do
    umd_round umd '' "$n" "$r"
    # Issue 15: the same with fees off (min_gas_price 0, no fee offered):
    # what charging the fee through the token costs per tx.
    umd_round umd-feeless '' "$n" "$r" '{"min_gas_price":"0"}' 0unrn
    # The same with the block's contract-gas budget lifted to the block gas
    # limit: what the budget costs in throughput, and what the CPU allows.
    umd_round umd-lifted '{"max_block_contract_gas":400000000}' "$n" "$r"
    # Issue 15: lifted and feeless, so the CPU cost of taking the fee shows.
    umd_round umd-lifted-feeless '{"max_block_contract_gas":400000000}' "$n" "$r" \
      '{"min_gas_price":"0"}' 0unrn
    # Issue 17: latency below capacity (offered load at about half of what
    # the chain commits), and the mempool's refusals far above it.
    rate=$([ "$n" = 1 ] && echo "${BENCH_RATE_1:-550}" || echo "${BENCH_RATE_4:-250}")
    umd_round umd-paced '' "$n" "$r" '' 0.025unrn --rate "$rate"
    round_window="${BENCH_OVERLOAD_WINDOW:-1500}" umd_round umd-overload '' "$n" "$r" '' 0.025unrn
    kv_round kvstore builtin "$n" "$r"
    # The reference's app out of process: what the ABCI socket alone costs.
    kv_round kvstore-socket socket "$n" "$r"
  done
done
