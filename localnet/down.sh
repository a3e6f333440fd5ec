#!/usr/bin/env bash
# Stops the localnet: trainers started by localnet/train.sh, then every
# node (umd and its CometBFT, the verifier). The chain stays in
# $LOCALNET_DIR for the next `localnet/up.sh`, unless --clean deletes it.
#
#   localnet/down.sh [--clean]
set -euo pipefail
clean=0
for arg in "$@"; do
  case "$arg" in
    --clean) clean=1 ;;
    *) echo "usage: $0 [--clean]" >&2; exit 2 ;;
  esac
done
# shellcheck source=localnet/lib.sh
source "$(dirname "$0")/lib.sh"

if [ -f "$LOCALNET_DIR/localnet.env" ]; then
  for pidfile in "$LOCALNET_DIR"/trainer*.pid; do
    [ -e "$pidfile" ] || continue
    signal TERM "$pidfile" um-trainer
  done
  for ((i = 0; i < LOCALNET_N; i++)); do
    if [ -d "$(node_home "$i")" ]; then stop_node "$i"; fi
  done
  # Full nodes that joined (join.sh): node<N>, node<N+1>, …
  for ((i = LOCALNET_N; ; i++)); do
    [ -d "$(node_home "$i")" ] || break
    stop_node "$i"
  done
  for pidfile in "$LOCALNET_DIR"/trainer*.pid; do
    [ -e "$pidfile" ] || continue
    wait_gone "$pidfile" um-trainer 10 || signal KILL "$pidfile" um-trainer
    rm -f "$pidfile"
  done
  echo "localnet: stopped ($LOCALNET_N nodes in $LOCALNET_DIR)"
fi
# Only ever delete a folder a localnet made (.localnet marks it).
if [ "$clean" = 1 ] && [ -e "$LOCALNET_DIR/.localnet" ]; then
  netns_down
  rm -rf "$LOCALNET_DIR"
  echo "localnet: deleted $LOCALNET_DIR"
fi
