#!/usr/bin/env bash
# Starts an N-validator network on loopback: node i on its own address
# (127.0.0.2 + i) with its CometBFT, its umd and its verifier
# (um-trainer serve). Creates the network first when $LOCALNET_DIR holds
# none; otherwise starts whatever of it is not running (a restart keeps the
# chain).
#
#   localnet/up.sh [N] [--fresh]     --fresh: stop and delete an existing network first
#
# Settings: see localnet/lib.sh. Homes and logs: $LOCALNET_DIR/node<i>/.
set -euo pipefail
fresh=0
n_arg=""
for arg in "$@"; do
  case "$arg" in
    --fresh) fresh=1 ;;
    [0-9]*) n_arg="$arg" ;;
    *) echo "usage: $0 [N] [--fresh]" >&2; exit 2 ;;
  esac
done
if [ "$fresh" = 1 ]; then
  "$(dirname "$0")/down.sh" --clean
fi
# shellcheck source=localnet/lib.sh
source "$(dirname "$0")/lib.sh"
require_binaries

if [ -f "$LOCALNET_DIR/localnet.env" ]; then
  if [ -n "$n_arg" ] && [ "$n_arg" != "$LOCALNET_N" ]; then
    echo "localnet: $LOCALNET_DIR holds a $LOCALNET_N-validator network;" \
      "\`make localnet-down CLEAN=1\` (or up.sh --fresh) to make a new one" >&2
    exit 1
  fi
else
  LOCALNET_N="${n_arg:-$LOCALNET_N}"
fi
if [ "$LOCALNET_N" -lt 1 ]; then
  echo "localnet: N must be at least 1" >&2
  exit 2
fi

# --- creating the network ---------------------------------------------------
spec_default='{"kind":"mlp","input":[1,28,28],"hidden":[128,64],"classes":10}'
hyperparams_default='{"learning_rate":"0.1","batch_size":64,"local_steps":20,"verification_tolerance":"0.001","min_improvement":"0.0001","reward_per_update":"1000000","reward_halving_interval":100}'
validator_bond=100000000 # 100 NRN each: equal stake, equal voting power
trainer_bond=100000000

create() {
  local testnet="$LOCALNET_DIR/testnet"
  # Only ever delete a folder a localnet made (.localnet marks it).
  if [ -n "$(ls -A "$LOCALNET_DIR" 2>/dev/null)" ]; then
    if [ ! -e "$LOCALNET_DIR/.localnet" ]; then
      echo "localnet: $LOCALNET_DIR is not empty and holds no localnet; pick another LOCALNET_DIR" >&2
      exit 1
    fi
    rm -rf "$LOCALNET_DIR"
  fi
  mkdir -p "$LOCALNET_DIR"
  touch "$LOCALNET_DIR/.localnet"
  echo "== creating a $LOCALNET_N-validator network in $LOCALNET_DIR"
  # Validator and node keys, the genesis validator set and persistent_peers.
  "$COMETBFT" testnet --v "$LOCALNET_N" --o "$testnet" \
    --starting-ip-address "$LOCALNET_BASE_IP" --populate-persistent-peers >/dev/null

  local i home ip peers rpc_ip
  for ((i = 0; i < LOCALNET_N; i++)); do
    home="$(node_home "$i")"
    ip="$(node_ip "$i")"
    local dataset=()
    if [ "$i" = 0 ]; then
      # node0 builds the genesis every node gets.
      dataset=(--dataset "mnist=$LOCALNET_ROOT/data/mnist")
      if [ -n "${LOCALNET_TEXTS:-}" ]; then dataset+=(--dataset "shakespeare=$LOCALNET_TEXTS"); fi
      if [ -n "${LOCALNET_DIGITS:-}" ]; then dataset+=(--dataset-limit "$LOCALNET_DIGITS"); fi
    fi
    # umd's home layout and config (proxy_app = its ABCI address, fast
    # blocks, kv tx index), on this node's address.
    # In a namespace the RPC listens on every address of the node: the
    # host reaches it on mgmt0.
    rpc_ip="$ip"
    [ -z "$LOCALNET_NETNS" ] || rpc_ip=0.0.0.0
    "$UMD" init --home "$home" --chain-id "$LOCALNET_CHAIN_ID" --moniker "node$i" \
      --timeout-commit "${LOCALNET_TIMEOUT_COMMIT:-500ms}" \
      --rpc-laddr "tcp://$rpc_ip:$RPC_PORT" --p2p-laddr "tcp://$ip:$P2P_PORT" \
      --abci-laddr "tcp://$ip:$ABCI_PORT" --code-upload-access "${LOCALNET_CODE_UPLOAD:-everybody}" \
      "${dataset[@]}" >/dev/null
    # ... with the testnet's keys and peers.
    cp "$testnet/node$i/config/node_key.json" "$testnet/node$i/config/priv_validator_key.json" \
      "$home/config/"
    peers="$(sed -n 's/^persistent_peers = //p' "$testnet/node$i/config/config.toml")"
    sed -i "s|^persistent_peers = .*|persistent_peers = $peers|" "$home/config/config.toml"
    "$UMD" keys add operator --home "$home" >/dev/null
  done

  local home0 operator validators=()
  home0="$(node_home 0)"
  for ((i = 1; i < LOCALNET_N; i++)); do
    home="$(node_home "$i")"
    # Each node's consensus key signs that its operator may bond it.
    operator="$("$UMD" keys show operator -a --home "$home")"
    validators+=(--validator "$operator=$("$UMD" genesis validator-proof --home "$home" \
      --operator "$operator" --chain-id "$LOCALNET_CHAIN_ID")")
  done
  # Four trainer keys, funded and bonded alike (the benchmark of time to
  # accuracy runs up to four trainers at once).
  local trainers=()
  for t in trainer1 trainer2 trainer3 trainer4; do
    "$UMD" keys add "$t" --home "$home0" >/dev/null
    trainers+=(--trainer "$t=$trainer_bond")
  done
  # The faucet (localnet/faucet.sh): a genesis account with NRN to give
  # away, added before the token exists, so deploy-governance mints it.
  "$UMD" keys add faucet --home "$home0" >/dev/null
  "$UMD" genesis add-account faucet --nrn "${LOCALNET_FAUCET_NRN:-1000000}" --home "$home0" >/dev/null
  "$UMD" genesis deploy-governance --home "$home0" --artifacts "$LOCALNET_ROOT/artifacts" \
    --operator operator --self-bond "$validator_bond" "${validators[@]}" \
    --epoch-blocks "${LOCALNET_EPOCH_BLOCKS:-10}" "${trainers[@]}" >/dev/null
  local rounds=()
  if [ -n "${LOCALNET_ROUNDS:-}" ]; then rounds=(--rounds "$LOCALNET_ROUNDS"); fi
  "$UMD" genesis add-lineage --home "$home0" --model-id "$LOCALNET_MODEL" \
    --spec "${LOCALNET_SPEC:-$spec_default}" \
    --hyperparams "${LOCALNET_HYPERPARAMS:-$hyperparams_default}" --seed 1 "${rounds[@]}" >/dev/null
  # More lineages of the same spec (LOCALNET_LINEAGES=K: $LOCALNET_MODEL-2 to
  # -K): versions of one lineage come one at a time, several lineages
  # train side by side (the cost-of-history benchmark needs 1,000 versions).
  local l
  for ((l = 2; l <= ${LOCALNET_LINEAGES:-1}; l++)); do
    "$UMD" genesis add-lineage --home "$home0" --model-id "$LOCALNET_MODEL-$l" \
      --spec "${LOCALNET_SPEC:-$spec_default}" \
      --hyperparams "${LOCALNET_HYPERPARAMS:-$hyperparams_default}" --seed "$l" "${rounds[@]}" >/dev/null
  done
  # The validator set of `cometbft testnet`, with the power the stake gives.
  # Also any LOCALNET_AUTH_PARAMS and LOCALNET_FEE_PARAMS (the benchmark
  # lifts a cap, or makes the chain feeless, with them).
  python3 - "$testnet/node0/config/genesis.json" "$home0/config/genesis.json" "$validator_bond" \
    "${LOCALNET_AUTH_PARAMS:-}" "${LOCALNET_FEE_PARAMS:-}" <<'EOF'
import json, sys
testnet, path, bond = sys.argv[1], sys.argv[2], int(sys.argv[3])
auth_params, fee_params = json.loads(sys.argv[4] or "{}"), json.loads(sys.argv[5] or "{}")
genesis = json.load(open(path))
genesis["app_state"].setdefault("auth", {}).setdefault("params", {}).update(auth_params)
genesis["app_state"].setdefault("fee", {}).setdefault("params", {}).update(fee_params)
per_power = int(genesis["app_state"]["gov"]["params"].get("stake_per_power", 1000000))
validators = json.load(open(testnet))["validators"]
for validator in validators:
    validator["power"] = str(bond // per_power)
genesis["validators"] = validators
json.dump(genesis, open(path, "w"), indent=2)
EOF
  for ((i = 1; i < LOCALNET_N; i++)); do
    cp "$home0/config/genesis.json" "$(node_home "$i")/config/genesis.json"
  done
  cat >"$LOCALNET_DIR/localnet.env" <<EOF
LOCALNET_N=$LOCALNET_N
LOCALNET_BASE_IP=$LOCALNET_BASE_IP
LOCALNET_CHAIN_ID=$LOCALNET_CHAIN_ID
LOCALNET_MODEL=$LOCALNET_MODEL
LOCALNET_NETNS=$LOCALNET_NETNS
EOF
  echo "   genesis: MNIST dataset, NRN token + staking + DAO, $LOCALNET_N validator(s) bonded" \
    "with 100 NRN each, trainer1 to trainer4 (keys in $home0/keys) bonded, lineage $LOCALNET_MODEL," \
    "a faucet with ${LOCALNET_FAUCET_NRN:-1000000} NRN (localnet/faucet.sh)"
}

if [ ! -f "$LOCALNET_DIR/localnet.env" ]; then
  create
fi

# --- starting it ------------------------------------------------------------
netns_up
for ((i = 0; i < LOCALNET_N; i++)); do
  start_node "$i"
done
echo "== waiting for blocks"
deadline=$((SECONDS + ${LOCALNET_START_TIMEOUT:-120}))
# wait_height I H: waits until node I has committed height H.
wait_height() {
  local h
  while h="$(height "$1")"; [ -z "$h" ] || [ "$h" -lt "$2" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "localnet: node$1 is not at height $2 (at ${h:-no height});" \
        "see $(node_home "$1")/{umd,cometbft,verifier}.log" >&2
      exit 1
    fi
    if ! alive "$(node_home "$1")/umd.pid" umd; then
      echo "localnet: node$1's umd exited; tail of $(node_home "$1")/umd.log:" >&2
      tail -n 20 "$(node_home "$1")/umd.log" >&2
      exit 1
    fi
    sleep 0.3
  done
}
# Every RPC answers; then a block newer than any of them had (a restarted
# network shows its stored height at once).
top=0
for ((i = 0; i < LOCALNET_N; i++)); do
  wait_height "$i" 0
  h="$(height "$i")"
  if [ "$h" -gt "$top" ]; then top="$h"; fi
done
for ((i = 0; i < LOCALNET_N; i++)); do
  wait_height "$i" $((top + 1))
done
"$LOCALNET_ROOT/localnet/status.sh"
cat <<EOF
== train:  localnet/train.sh trainer1    (and trainer2, in another terminal)
   NRN:    localnet/faucet.sh um1… [AMOUNT_NRN]
   status: make localnet-status          stop: make localnet-down [CLEAN=1]
EOF
