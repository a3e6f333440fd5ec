#!/usr/bin/env bash
# One line per node of the localnet: its processes, height, app hash,
# peers and verifier; then the head of the model.
set -euo pipefail
# shellcheck source=localnet/lib.sh
source "$(dirname "$0")/lib.sh"
if [ ! -f "$LOCALNET_DIR/localnet.env" ]; then
  echo "localnet: no network in $LOCALNET_DIR (make localnet-up)"
  exit 0
fi

# port_open IP PORT
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

printf '%-6s %-11s %-5s %-8s %7s  %-16s %5s %-8s %s\n' \
  node address umd cometbft height "app hash" peers syncing verifier
live_rpc=""
for ((i = 0; i < LOCALNET_N; i++)); do
  home="$(node_home "$i")"
  ip="$(node_ip "$i")"
  umd=down cometbft=down h=- app=- peers=- syncing=- verifier=down
  alive "$home/umd.pid" umd && umd=up
  alive "$home/cometbft.pid" cometbft && cometbft=up
  if status="$(curl -sf --max-time 2 "$(node_rpc "$i")/status")"; then
    h="$(json_field "$status" latest_block_height)"
    app="$(json_field "$status" latest_app_hash | cut -c1-16)"
    syncing="$(json_field "$status" catching_up)"
    [ "$syncing" = false ] && syncing=no || syncing=yes
    if net="$(curl -sf --max-time 2 "$(node_rpc "$i")/net_info")"; then
      peers="$(json_field "$net" n_peers)"
    fi
    live_rpc="${live_rpc:-$(node_rpc "$i")}"
  fi
  if alive "$home/verifier.pid" um-trainer; then
    if port_open "$ip" "$VERIFIER_PORT"; then verifier="up ($(node_verifier "$i"))"; else verifier=starting; fi
  fi
  printf '%-6s %-11s %-5s %-8s %7s  %-16s %5s %-8s %s\n' \
    "node$i" "$ip" "$umd" "$cometbft" "$h" "$app" "$peers" "$syncing" "$verifier"
done

if [ -n "$live_rpc" ]; then
  lineage="$("$UMD" query lineage "$LOCALNET_MODEL" --node "$live_rpc" 2>/dev/null || true)"
  head_version="$(json_field "$lineage" head_version)"
  if [ -n "$head_version" ]; then
    echo "model $LOCALNET_MODEL: head version $head_version" \
      "(history: ${UMD#"$LOCALNET_ROOT/"} query training versions $LOCALNET_MODEL --node $live_rpc)"
  fi
fi
for pidfile in "$LOCALNET_DIR"/trainer*.pid; do
  [ -e "$pidfile" ] || continue
  name="$(basename "$pidfile" .pid)"
  if alive "$pidfile" um-trainer; then echo "$name: training (pid $(cat "$pidfile"))"; fi
done
