#!/usr/bin/env bash
# A full node (not a validator) that joins the running localnet as node<I>,
# the next free number, on the next address; prints I when it has started.
#
#   localnet/join.sh [--state-sync]
#
# With --state-sync it does not replay the chain from genesis: CometBFT's
# state sync fetches the newest snapshot the validators took (every
# LOCALNET_SNAPSHOT_INTERVAL blocks), its light client verifies the app
# hash of that height from a trusted header (taken from node0's RPC, like
# an operator who trusts their own node), umd rebuilds the state and its
# Merkle tree from the chunks and checks them against it, and block sync
# goes on from the next height.
set -euo pipefail
state_sync=0
for arg in "$@"; do
  case "$arg" in
    --state-sync) state_sync=1 ;;
    *) echo "usage: $0 [--state-sync]" >&2; exit 2 ;;
  esac
done
# shellcheck source=localnet/lib.sh
source "$(dirname "$0")/lib.sh"
require_binaries
[ -f "$LOCALNET_DIR/localnet.env" ] || { echo "localnet: no network in $LOCALNET_DIR (localnet/up.sh)" >&2; exit 1; }
[ -n "$(height 0)" ] || { echo "localnet: node0 is not running (localnet/up.sh)" >&2; exit 1; }

i="$LOCALNET_N"
while [ -e "$(node_home "$i")" ]; do i=$((i + 1)); done
home="$(node_home "$i")"
ip="$(node_ip "$i")"
"$UMD" init --home "$home" --chain-id "$LOCALNET_CHAIN_ID" --moniker "node$i" \
  --timeout-commit "${LOCALNET_TIMEOUT_COMMIT:-500ms}" \
  --rpc-laddr "tcp://$ip:$RPC_PORT" --p2p-laddr "tcp://$ip:$P2P_PORT" \
  --abci-laddr "tcp://$ip:$ABCI_PORT" >/dev/null
cp "$(node_home 0)/config/genesis.json" "$home/config/genesis.json"
peers=()
for ((v = 0; v < LOCALNET_N; v++)); do
  peers+=("$("$COMETBFT" show-node-id --home "$(node_home "$v")")@$(node_ip "$v"):$P2P_PORT")
done

settings=("p2p.persistent_peers=$(IFS=,; echo "${peers[*]}")")
if [ "$state_sync" = 1 ]; then
  interval="${LOCALNET_SNAPSHOT_INTERVAL:-100}"
  latest="$(height 0)"
  # Trust a header a little below the newest snapshot (the light client
  # verifies forward from it to the snapshot's height).
  snapshot=$(((latest - 1) / interval * interval))
  trust_height=$((snapshot > 10 ? snapshot - 10 : 1))
  if [ "$snapshot" -lt "$interval" ]; then
    echo "localnet: no snapshot yet (height $latest, one every $interval blocks)" >&2
    exit 1
  fi
  trust_hash="$(curl -sf --max-time 5 "$(node_rpc 0)/block?height=$trust_height" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["block_id"]["hash"])')"
  settings+=(
    "statesync.enable=true"
    "statesync.rpc_servers=\"$(node_rpc 0),$(node_rpc 1)\""
    "statesync.trust_height=$trust_height"
    "statesync.trust_hash=\"$trust_hash\""
    "statesync.trust_period=\"168h0m0s\""
    "statesync.discovery_time=\"5s\""
  )
  echo "localnet: node$i state-syncs from a snapshot (trusting height $trust_height, $trust_hash)" >&2
fi
python3 - "$home/config/config.toml" "${settings[@]}" <<'PY'
import re, sys
path, settings = sys.argv[1], sys.argv[2:]
text = open(path).read()
for setting in settings:
    name, value = setting.split("=", 1)
    section, key = name.split(".", 1)
    pattern = re.compile(r"(^\[%s\]\n(?:(?!^\[).*\n)*?)^%s = .*$" % (re.escape(section), re.escape(key)), re.M)
    text, count = pattern.subn(lambda m: m.group(1) + "%s = %s" % (key, value if value.startswith('"') or value in ("true", "false") or value.isdigit() else '"%s"' % value), text, count=1)
    if count != 1:
        sys.exit("config.toml has no %s in [%s]" % (key, section))
open(path, "w").write(text)
PY

# A full node: no verifier (it gives no verdicts); its own REST and gRPC.
# Predictions over its REST go to node0's um-trainer serve, as an operator
# points --predictor at a machine of its own.
setsid "$UMD" start --home "$home" --api-address "$ip:1317" --grpc-address "$ip:9090" \
  --predictor "http://$(node_verifier 0)" \
  </dev/null >>"$home/umd.log" 2>&1 &
echo $! >"$home/umd.pid"
echo "$i"
