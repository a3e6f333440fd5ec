#!/usr/bin/env bash
# Splits a localnet made with LOCALNET_NETNS=K into two groups that cannot
# reach each other (P2P only: the host still reaches every node's RPC), or
# heals it.
#
#   localnet/partition.sh split 0,1 2,3    node0+node1 | node2+node3
#   localnet/partition.sh split 0,1,2 3    three and one
#   localnet/partition.sh heal             everyone on one network again
set -euo pipefail
# shellcheck source=localnet/lib.sh
source "$(dirname "$0")/lib.sh"
usage() { echo "usage: $0 split GROUP GROUP | heal   (GROUP: comma-separated node numbers)" >&2; exit 2; }
[ -f "$LOCALNET_DIR/localnet.env" ] || { echo "localnet: no network in $LOCALNET_DIR (localnet/up.sh)" >&2; exit 1; }
[ -n "$LOCALNET_NETNS" ] || { echo "localnet: $LOCALNET_DIR was not made with LOCALNET_NETNS" >&2; exit 1; }
case "${1:-}" in
  split)
    [ $# = 3 ] || usage
    for group in "$2" "$3"; do
      [[ "$group" =~ ^[0-9]+(,[0-9]+)*$ ]] || usage
      for i in ${group//,/ }; do [ "$i" -lt "$LOCALNET_N" ] || usage; done
    done
    partition_network "$2" "$3"
    echo "localnet: split {$2} | {$3}"
    ;;
  heal)
    [ $# = 1 ] || usage
    partition_network
    echo "localnet: healed"
    ;;
  *) usage ;;
esac
