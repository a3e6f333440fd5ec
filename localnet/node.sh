#!/usr/bin/env bash
# One validator of the localnet.
#
#   localnet/node.sh start I   start what of node I is not running (verifier, umd + CometBFT)
#   localnet/node.sh stop I    SIGTERM: umd stops its CometBFT; the verifier stops too
#   localnet/node.sh kill I    a crash: SIGKILL to umd and its CometBFT (the verifier stays)
#   localnet/node.sh logs I    where node I's logs are
set -euo pipefail
# shellcheck source=localnet/lib.sh
source "$(dirname "$0")/lib.sh"
usage() { echo "usage: $0 start|stop|kill|logs I   (0 <= I < $LOCALNET_N)" >&2; exit 2; }
[ $# = 2 ] || usage
[[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -lt "$LOCALNET_N" ] || usage
[ -f "$LOCALNET_DIR/localnet.env" ] || { echo "localnet: no network in $LOCALNET_DIR (localnet/up.sh)" >&2; exit 1; }
case "$1" in
  start) require_binaries; start_node "$2" ;;
  stop) stop_node "$2" ;;
  kill) kill_node "$2" ;;
  logs) ls "$(node_home "$2")"/*.log ;;
  *) usage ;;
esac
