#!/usr/bin/env bash
# The reference network of `make bench` item 1: N CometBFT nodes running the
# built-in kvstore app (--proxy_app=kvstore), configured like a umd localnet
# (localnet/up.sh via `umd init`): same timeout_commit and timeout_propose,
# kv tx index, vote extensions from height 1, one loopback address per node
# (base + i) with the localnet's ports.
#
# KVNET_APP=socket runs the same kvstore out of process instead, as
# `abci-cli kvstore` behind CometBFT's socket client on the port umd uses
# (26658): the transport an out-of-process app like umd pays for, with the
# app's own work as small as the in-process one's.
#
#   bench/scripts/kvnet.sh up N DIR BASE_IP [TIMEOUT_COMMIT]   (fresh network in DIR)
#   bench/scripts/kvnet.sh down DIR                             (stop it and delete DIR)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cometbft="${UMD_COMETBFT:-$root/bin/cometbft}"
abci_cli="${UMD_ABCI_CLI:-$root/bin/abci-cli}"
app="${KVNET_APP:-builtin}"
case "$app" in
  builtin | socket) ;;
  *) echo "kvnet: KVNET_APP is builtin or socket, not $app" >&2; exit 2 ;;
esac

# set_config FILE SECTION KEY VALUE: one key of a section of config.toml.
set_config() {
  python3 - "$@" <<'EOF'
import re, sys
path, section, key, value = sys.argv[1:]
text = open(path).read()
out, current, done = [], "", False
for line in text.split("\n"):
    m = re.match(r"^\[([^\]]+)\]\s*$", line)
    if m:
        current = m.group(1)
    elif current == section and re.match(rf"^{re.escape(key)}\s*=", line) and not done:
        line, done = f"{key} = {value}", True
    out.append(line)
if not done:
    sys.exit(f"{path}: no {key} in [{section}]")
open(path, "w").write("\n".join(out))
EOF
}

up() {
  local n="$1" dir="$2" base="$3" timeout_commit="${4:-500ms}"
  if [ -e "$dir" ]; then down "$dir"; fi
  mkdir -p "$dir"
  touch "$dir/.kvnet"
  "$cometbft" testnet --v "$n" --o "$dir" --starting-ip-address "$base" \
    --populate-persistent-peers >/dev/null
  local a b c d i ip home
  IFS=. read -r a b c d <<<"$base"
  for ((i = 0; i < n; i++)); do
    ip="$a.$b.$c.$((d + i))"
    home="$dir/node$i"
    if [ "$app" = socket ]; then
      setsid "$abci_cli" kvstore --address "tcp://$ip:26658" --persist "$home/kvstore-data" --log_level error \
        </dev/null >"$home/abci-cli.log" 2>&1 &
      echo $! >"$home/abci-cli.pid"
      set_config "$home/config/config.toml" "" proxy_app "\"tcp://$ip:26658\""
    else
      set_config "$home/config/config.toml" "" proxy_app '"kvstore"'
    fi
    set_config "$home/config/config.toml" rpc laddr "\"tcp://$ip:26657\""
    set_config "$home/config/config.toml" p2p laddr "\"tcp://$ip:26656\""
    set_config "$home/config/config.toml" p2p addr_book_strict false
    set_config "$home/config/config.toml" p2p allow_duplicate_ip true
    set_config "$home/config/config.toml" consensus timeout_commit "\"$timeout_commit\""
    set_config "$home/config/config.toml" consensus timeout_propose '"2s"'
    set_config "$home/config/config.toml" tx_index indexer '"kv"'
    python3 - "$home/config/genesis.json" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
g.setdefault("consensus_params", {}).setdefault("abci", {})["vote_extensions_enable_height"] = "1"
json.dump(g, open(sys.argv[1], "w"), indent=2)
EOF
    setsid "$cometbft" start --home "$home" </dev/null >"$home/cometbft.log" 2>&1 &
    echo $! >"$home/cometbft.pid"
  done
  # Up when every node has committed a block.
  local deadline=$((SECONDS + 60)) h
  for ((i = 0; i < n; i++)); do
    ip="$a.$b.$c.$((d + i))"
    while :; do
      h="$(curl -sf --max-time 2 "http://$ip:26657/status" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["sync_info"]["latest_block_height"])' 2>/dev/null || true)"
      if [ -n "$h" ] && [ "$h" -ge 2 ]; then break; fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "kvnet: node$i at $ip is not committing blocks; see $dir/node$i/cometbft.log" >&2
        exit 1
      fi
      sleep 0.3
    done
  done
}

down() {
  local dir="$1" pidfile pid
  [ -e "$dir" ] || return 0
  if [ ! -e "$dir/.kvnet" ]; then
    echo "kvnet: $dir holds no kvnet network; not touching it" >&2
    exit 1
  fi
  for pidfile in "$dir"/node*/cometbft.pid "$dir"/node*/abci-cli.pid; do
    [ -e "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    case "$(ps -p "$pid" -o comm= 2>/dev/null)" in
      cometbft | abci-cli) kill -TERM "$pid" 2>/dev/null || true ;;
    esac
  done
  for pidfile in "$dir"/node*/cometbft.pid "$dir"/node*/abci-cli.pid; do
    [ -e "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    for _ in $(seq 100); do
      case "$(ps -p "$pid" -o comm= 2>/dev/null)" in cometbft | abci-cli) ;; *) break ;; esac
      sleep 0.1
    done
    case "$(ps -p "$pid" -o comm= 2>/dev/null)" in
      cometbft | abci-cli) kill -KILL "$pid" 2>/dev/null || true ;;
    esac
  done
  rm -rf "$dir"
}

case "${1:-}" in
  up) shift; [ $# -ge 3 ] || { echo "usage: $0 up N DIR BASE_IP [TIMEOUT_COMMIT]" >&2; exit 2; }; up "$@" ;;
  down) shift; [ $# -eq 1 ] || { echo "usage: $0 down DIR" >&2; exit 2; }; down "$1" ;;
  *) echo "usage: $0 up N DIR BASE_IP [TIMEOUT_COMMIT] | down DIR" >&2; exit 2 ;;
esac
