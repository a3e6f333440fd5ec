#!/usr/bin/env bash
# Runs a trainer of the localnet in the foreground (Ctrl-C stops it):
# trainer<i> (1 to 4) talks to node i-1 (node (i-1) mod N on a smaller
# network); the keys are in node0's keyring. More arguments go to `um-trainer train`
# (e.g. --updates 10); --max-failures is 0 (never give up) unless given.
# A round's checkpoints are served from 127.0.0.1 on a port of the
# trainer's own (--checkpoint-listen 127.0.0.1:0) unless told otherwise;
# with LOCALNET_NETNS they ride in the tx, as the host's loopback is out of
# the validators' reach there.
#
#   localnet/train.sh trainer1|trainer2|trainer3|trainer4 [um-trainer train options]
set -euo pipefail
# shellcheck source=localnet/lib.sh
source "$(dirname "$0")/lib.sh"
key="${1:-}"
case "$key" in
  trainer[1-4]) node=$(((${key#trainer} - 1) % LOCALNET_N)) ;;
  *) echo "usage: $0 trainer1|trainer2|trainer3|trainer4 [um-trainer train options]" >&2; exit 2 ;;
esac
shift
[ -f "$LOCALNET_DIR/localnet.env" ] || { echo "localnet: no network in $LOCALNET_DIR (localnet/up.sh)" >&2; exit 1; }
require_binaries
# Two trainers racing for the same head lose many rounds: unless told
# otherwise, keep trying instead of giving up after 20 lost rounds.
options=("$@")
case " $* " in
  *" --max-failures"*) ;;
  *) options+=(--max-failures 0) ;;
esac
# Every validator runs on this host's loopback and fetches the checkpoints
# it samples from here; port 0 gives each trainer a free port of its own.
# Harmless for a lineage without rounds: nothing is served.
case " $* " in
  *" --checkpoint-listen"*) ;;
  *) [ -n "$LOCALNET_NETNS" ] || options+=(--checkpoint-listen 127.0.0.1:0) ;;
esac
# exec keeps the pid, so localnet/down.sh can stop the trainer too.
echo $$ >"$LOCALNET_DIR/$key.pid"
exec "$UM_TRAINER" train --node "$(node_rpc "$node")" --home "$(node_home 0)" \
  --key "$key" --model "${LOCALNET_TRAIN_MODEL:-$LOCALNET_MODEL}" "${options[@]}"
