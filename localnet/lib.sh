# Shared by the localnet scripts (sourced, not run).
#
# Settings, each from the environment (the first run records N, the base
# address, the chain id and the model in $LOCALNET_DIR/localnet.env, which
# later runs read):
#   LOCALNET_DIR           run folder: homes, logs, pid files   [localnet/.run]
#   LOCALNET_N             validators                           [4]
#   LOCALNET_BASE_IP       address of node0; node i gets base+i [127.0.0.2]
#   LOCALNET_CHAIN_ID                                           [um-localnet-1]
#   LOCALNET_TIMEOUT_COMMIT  CometBFT timeout_commit             [500ms]
#   LOCALNET_EPOCH_BLOCKS  blocks per validator-set epoch       [10]
#   LOCALNET_DIGITS        MNIST digits in the genesis dataset (records of
#                          each genesis dataset)                [all 10,000]
#   LOCALNET_TEXTS         a folder of .txt files: a second genesis dataset,
#                          `shakespeare` (e.g. data/shakespeare) [none]
#   LOCALNET_TRAIN_MODEL   the lineage train.sh trains          [LOCALNET_MODEL]
#   LOCALNET_MODEL / LOCALNET_SPEC / LOCALNET_HYPERPARAMS  the genesis lineage
#   LOCALNET_LINEAGES      lineages of that spec: MODEL, MODEL-2…  [1]
#   LOCALNET_ROUNDS        round params JSON: the lineages train in
#                          collaborative rounds, e.g.
#                          '{"max_contributions":3,"round_blocks":10}'  [none:
#                          one update at a time]
#   LOCALNET_VERIFIER_THREADS  libtorch threads per verifier     [1]
#   LOCALNET_SNAPSHOT_INTERVAL  a state-sync snapshot every this many
#                          blocks on each validator (join.sh)    [100]
#   LOCALNET_FAUCET_NRN    NRN of the genesis `faucet` key (faucet.sh) [1000000]
#   LOCALNET_AUTH_PARAMS   JSON merged into the genesis auth params, e.g.
#                          '{"max_block_contract_gas":400000000}'  [none]
#   LOCALNET_NETNS         K (1..254): every node in a network namespace of
#                          its own (needs root), see "Network namespaces" in
#                          localnet/README.md                   [off]
# Every node listens on its own address with the same ports: P2P 26656,
# RPC 26657, ABCI 26658 (umd), verifier 9091 (um-trainer serve).

set -euo pipefail

LOCALNET_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCALNET_DIR="${LOCALNET_DIR:-$LOCALNET_ROOT/localnet/.run}"
mkdir -p "$(dirname "$LOCALNET_DIR")"
LOCALNET_DIR="$(cd "$(dirname "$LOCALNET_DIR")" && pwd)/$(basename "$LOCALNET_DIR")"

# A network that exists keeps the settings it was made with.
if [ -f "$LOCALNET_DIR/localnet.env" ]; then
  # shellcheck source=/dev/null
  source "$LOCALNET_DIR/localnet.env"
fi
LOCALNET_N="${LOCALNET_N:-4}"
LOCALNET_NETNS="${LOCALNET_NETNS:-}"
if [ -n "$LOCALNET_NETNS" ]; then
  # Loopback addresses cannot leave a namespace: a private /24 instead.
  LOCALNET_BASE_IP="${LOCALNET_BASE_IP:-10.212.$LOCALNET_NETNS.2}"
fi
LOCALNET_BASE_IP="${LOCALNET_BASE_IP:-127.0.0.2}"
LOCALNET_CHAIN_ID="${LOCALNET_CHAIN_ID:-um-localnet-1}"
LOCALNET_MODEL="${LOCALNET_MODEL:-mnist-mlp}"

# What an operator runs: release builds (`make localnet-up` builds them
# first), debug ones when there is no release build; UMD / UM_TRAINER pick
# others (the tests run their debug builds with test hooks).
built_binary() {
  if [ -x "$LOCALNET_ROOT/target/release/$1" ]; then
    echo "$LOCALNET_ROOT/target/release/$1"
  else
    echo "$LOCALNET_ROOT/target/debug/$1"
  fi
}
UMD="${UMD:-$(built_binary umd)}"
UM_TRAINER="${UM_TRAINER:-$(built_binary um-trainer)}"
# A localnet's keys are throwaway: the plain-text test keyring, for every
# umd and um-trainer these scripts run (they default to the encrypted file
# backend). Set here, not taken from the caller, so an operator's own
# UMD_KEYRING_BACKEND does not reach the localnet.
export UMD_KEYRING_BACKEND=test
COMETBFT="${UMD_COMETBFT:-$LOCALNET_ROOT/bin/cometbft}"
export UMD_COMETBFT="$COMETBFT"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

P2P_PORT=26656
RPC_PORT=26657
ABCI_PORT=26658
VERIFIER_PORT=9091

# node_ip I: node I's loopback address (the base address plus I).
node_ip() {
  local a b c d
  IFS=. read -r a b c d <<<"$LOCALNET_BASE_IP"
  if [ $((d + $1)) -gt 254 ]; then
    echo "localnet: $LOCALNET_BASE_IP + $1 leaves the /24; pick a lower LOCALNET_BASE_IP" >&2
    return 1
  fi
  echo "$a.$b.$c.$((d + $1))"
}

node_home() { echo "$LOCALNET_DIR/node$1"; }
node_rpc() { echo "http://$(node_mgmt_ip "$1"):$RPC_PORT"; }
node_verifier() { echo "$(node_ip "$1"):$VERIFIER_PORT"; }

# --- network namespaces (LOCALNET_NETNS=K) -----------------------------------
# Node i runs in namespace um<K>-n<i>. Its eth0 (node_ip: 10.212.K.2+i, the
# P2P network) is a veth into bridge br0 of namespace um<K>-hub, where
# partition_network moves nodes to br1 and back. Its mgmt0
# (10.213.K.4i+2/30) is a veth to this (the host's) namespace, whose end is
# 10.213.K.4i+1: the RPC listens on every address of the node, so the host
# (scripts, trainers, tests) reaches it there whatever the partition.
netns_hub() { echo "um$LOCALNET_NETNS-hub"; }
netns_node() { echo "um$LOCALNET_NETNS-n$1"; }

# node_mgmt_ip I: where the host reaches node I (its own address without namespaces).
node_mgmt_ip() {
  if [ -z "$LOCALNET_NETNS" ]; then
    node_ip "$1"
  else
    echo "10.213.$LOCALNET_NETNS.$((4 * $1 + 2))"
  fi
}

# in_node I CMD…: runs CMD in node I's namespace (here without namespaces).
in_node() {
  local node="$1"
  shift
  if [ -z "$LOCALNET_NETNS" ]; then "$@"; else ip netns exec "$(netns_node "$node")" "$@"; fi
}

# netns_up: makes whatever of the namespaces, bridges and veths is missing.
netns_up() {
  [ -n "$LOCALNET_NETNS" ] || return 0
  if ! [[ "$LOCALNET_NETNS" =~ ^[0-9]+$ ]] || [ "$LOCALNET_NETNS" -lt 1 ] ||
    [ "$LOCALNET_NETNS" -gt 254 ] || [ "$LOCALNET_N" -gt 63 ]; then
    echo "localnet: LOCALNET_NETNS must be 1..254 (and N at most 63)" >&2
    return 1
  fi
  local hub ns i k="$LOCALNET_NETNS"
  hub="$(netns_hub)"
  ip netns list | grep -qw "$hub" || ip netns add "$hub"
  ip -n "$hub" link set lo up
  for br in br0 br1; do
    ip -n "$hub" link show "$br" >/dev/null 2>&1 || ip -n "$hub" link add "$br" type bridge
    ip -n "$hub" link set "$br" up
  done
  for ((i = 0; i < LOCALNET_N; i++)); do
    ns="$(netns_node "$i")"
    ip netns list | grep -qw "$ns" || ip netns add "$ns"
    ip -n "$ns" link set lo up
    if ! ip -n "$hub" link show "um${k}d$i" >/dev/null 2>&1; then
      ip -n "$hub" link add "um${k}d$i" type veth peer name eth0 netns "$ns"
      ip -n "$ns" addr add "$(node_ip "$i")/24" dev eth0
      ip -n "$hub" link set "um${k}d$i" master br0
    fi
    ip -n "$hub" link set "um${k}d$i" up
    ip -n "$ns" link set eth0 up
    # A host end without its mgmt0 is left over from a namespace of the same
    # name being deleted (the kernel frees veths after `ip netns del`
    # returns): remove it and make the pair again.
    if ip link show "um${k}m$i" >/dev/null 2>&1 && ! ip -n "$ns" link show mgmt0 >/dev/null 2>&1; then
      ip link del "um${k}m$i" 2>/dev/null || true
    fi
    if ! ip link show "um${k}m$i" >/dev/null 2>&1; then
      ip link add "um${k}m$i" type veth peer name mgmt0 netns "$ns"
      ip addr add "10.213.$k.$((4 * i + 1))/30" dev "um${k}m$i"
      ip -n "$ns" addr add "$(node_mgmt_ip "$i")/30" dev mgmt0
    fi
    ip link set "um${k}m$i" up
    ip -n "$ns" link set mgmt0 up
  done
}

# netns_down: deletes the namespaces (their veths and bridges go with them).
# The kernel frees the veths a moment after `ip netns del` returns, so it
# waits (bounded) until the host ends are gone: a network made next with the
# same K would otherwise find them and skip making its own.
netns_down() {
  [ -n "$LOCALNET_NETNS" ] || return 0
  local i deadline=$((SECONDS + 15))
  for ((i = 0; i < LOCALNET_N; i++)); do
    ip netns del "$(netns_node "$i")" 2>/dev/null || true
  done
  ip netns del "$(netns_hub)" 2>/dev/null || true
  for ((i = 0; i < LOCALNET_N; i++)); do
    while ip link show "um${LOCALNET_NETNS}m$i" >/dev/null 2>&1; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        ip link del "um${LOCALNET_NETNS}m$i" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
  done
}

# partition_network GROUP…: each group (comma-separated node numbers) on a
# bridge of its own (br0, br1); nodes named in no group stay on br0. No
# arguments: every node back on br0 (healed).
partition_network() {
  [ -n "$LOCALNET_NETNS" ] || { echo "localnet: partitions need LOCALNET_NETNS" >&2; return 1; }
  local hub i group b=0
  hub="$(netns_hub)"
  for ((i = 0; i < LOCALNET_N; i++)); do
    ip -n "$hub" link set "um${LOCALNET_NETNS}d$i" master br0
  done
  for group in "$@"; do
    [ "$b" -lt 2 ] || { echo "localnet: at most two groups" >&2; return 1; }
    for i in ${group//,/ }; do
      ip -n "$hub" link set "um${LOCALNET_NETNS}d$i" master "br$b"
    done
    b=$((b + 1))
  done
}

# alive PIDFILE NAME: the pid in PIDFILE runs a program called NAME
# (a stale pid file, a pid reused by something else or a zombie does not count).
alive() {
  local pid stat comm
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] || return 1
  read -r stat comm < <(ps -p "$pid" -o stat=,comm= 2>/dev/null) || return 1
  [ "$comm" = "$2" ] && [ "${stat#Z}" = "$stat" ]
}

# signal SIG PIDFILE NAME: sends SIG when the pid file names a live NAME.
signal() {
  if alive "$2" "$3"; then kill "-$1" "$(cat "$2")" 2>/dev/null || true; fi
}

# wait_gone PIDFILE NAME SECONDS: waits until it is not alive; fails on timeout.
wait_gone() {
  local deadline=$((SECONDS + $3))
  while alive "$1" "$2"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# start_node I: starts whatever of node I is not running: its verifier
# (um-trainer serve), then umd, which starts its CometBFT. Each runs in a
# session of its own (setsid), so it outlives the shell that started it.
start_node() {
  local home ip
  home="$(node_home "$1")"
  ip="$(node_ip "$1")"
  if ! alive "$home/verifier.pid" um-trainer; then
    setsid ${LOCALNET_NETNS:+ip netns exec "$(netns_node "$1")"} "$UM_TRAINER" serve --listen "$ip:$VERIFIER_PORT" --node "http://$ip:$RPC_PORT" \
      --threads "${LOCALNET_VERIFIER_THREADS:-1}" </dev/null >>"$home/verifier.log" 2>&1 &
    echo $! >"$home/verifier.pid"
  fi
  if ! alive "$home/umd.pid" umd; then
    # umd waits for a CometBFT of its previous run that is still exiting.
    setsid ${LOCALNET_NETNS:+ip netns exec "$(netns_node "$1")"} "$UMD" start --home "$home" --verifier "http://$ip:$VERIFIER_PORT" \
      --snapshot-interval "${LOCALNET_SNAPSHOT_INTERVAL:-100}" </dev/null >>"$home/umd.log" 2>&1 &
    echo $! >"$home/umd.pid"
  fi
  if [ -n "$LOCALNET_NETNS" ]; then
    # `ip netns exec` becomes the program (same pid) a moment later; until
    # then alive() would take the pid for something else.
    local deadline=$((SECONDS + 5))
    until alive "$home/umd.pid" umd && alive "$home/verifier.pid" um-trainer; do
      [ "$SECONDS" -lt "$deadline" ] || break
      sleep 0.05
    done
  fi
}

# kill_node I: a crash: SIGKILL to node I's umd and its CometBFT (its
# verifier keeps running).
kill_node() {
  local home
  home="$(node_home "$1")"
  signal KILL "$home/umd.pid" umd
  signal KILL "$home/cometbft.pid" cometbft
  wait_gone "$home/umd.pid" umd 10 && wait_gone "$home/cometbft.pid" cometbft 10
}

# stop_node I: the clean way: SIGTERM to umd (which stops its CometBFT) and
# to the verifier; SIGKILL whatever is still there after 20 s.
stop_node() {
  local home
  home="$(node_home "$1")"
  signal TERM "$home/umd.pid" umd
  signal TERM "$home/verifier.pid" um-trainer
  if ! wait_gone "$home/umd.pid" umd 20; then kill_node "$1"; fi
  if ! wait_gone "$home/cometbft.pid" cometbft 20; then signal KILL "$home/cometbft.pid" cometbft; fi
  if ! wait_gone "$home/verifier.pid" um-trainer 10; then signal KILL "$home/verifier.pid" um-trainer; fi
}

# json_field JSON NAME: the first string or number value of "NAME" in JSON.
json_field() {
  sed -n "s/.*\"$2\": *\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$1" | head -n 1
}

# height I: node I's latest block height (empty when its RPC is down).
height() {
  local status
  status="$(curl -sf --max-time 2 "$(node_rpc "$1")/status" 2>/dev/null)" || return 0
  json_field "$status" latest_block_height
}

require_binaries() {
  local missing=0
  for bin in "$UMD" "$UM_TRAINER" "$COMETBFT"; do
    if [ ! -x "$bin" ]; then
      echo "localnet: $bin is missing (make build)" >&2
      missing=1
    fi
  done
  for tool in python3 curl setsid; do
    if ! command -v "$tool" >/dev/null; then
      echo "localnet: $tool is missing" >&2
      missing=1
    fi
  done
  return "$missing"
}
