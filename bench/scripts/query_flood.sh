#!/usr/bin/env bash
# Issue 15: median block interval of a fresh 1-validator localnet idle and
# under CLIENTS concurrent clients flooding `abci_query` (smart queries,
# list queries), in one run. Appends a JSON line to RESULTS.
#
#   bench/scripts/query_flood.sh RESULTS PROFILE SECONDS CLIENTS
set -euo pipefail
cd "$(dirname "$0")/../.."
results="$1" profile="$2" seconds="$3" clients="$4"
root="$(pwd)"
work="$root/target/bench"
ip=127.0.0.80
net() { # up|down ...
  LOCALNET_DIR="$work/flood-net" LOCALNET_BASE_IP="$ip" LOCALNET_DIGITS=1000 \
    UMD="$root/target/$profile/umd" UM_TRAINER="$root/target/$profile/um-trainer" \
    "$root/localnet/$1.sh" "${@:2}"
}
trap 'net down --clean >/dev/null 2>&1 || true' EXIT
net up 1 --fresh >/dev/null
echo "== block interval idle and under $clients query clients (${seconds}s each)"
python3 bench/scripts/query_flood.py "http://$ip:26657" "${LOCALNET_MODEL:-mnist-mlp}" "$seconds" "$clients" |
  jq -c --arg profile "$profile" '. + {validators: 1, profile: $profile}' | tee -a "$results"
