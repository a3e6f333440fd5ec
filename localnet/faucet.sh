#!/usr/bin/env bash
# Sends NRN on a running localnet from its pre-funded `faucet` key (node0's
# keyring, funded at genesis by `umd genesis add-account`) to an address,
# in one transfer of the NRN token, then prints the tx hash and the
# recipient's new balance. A localnet made before the faucet key existed
# pays from node0's `operator` instead.
#
#   localnet/faucet.sh ADDRESS [AMOUNT_NRN]    AMOUNT_NRN: e.g. 25 or 0.5 [100]
#
# ADDRESS is a `um1…` address or the name of a key in node0's keyring.
# Settings: see localnet/lib.sh.
set -euo pipefail
usage() {
  echo "usage: $0 ADDRESS [AMOUNT_NRN]   (AMOUNT_NRN: NRN with up to 6 decimals, default 100)" >&2
  exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
recipient="$1"
amount="${2:-100}"
# shellcheck source=localnet/lib.sh
source "$(dirname "$0")/lib.sh"

if [ ! -x "$UMD" ]; then
  echo "faucet: $UMD is missing (make build)" >&2
  exit 1
fi
if [ ! -f "$LOCALNET_DIR/localnet.env" ]; then
  echo "faucet: no localnet in $LOCALNET_DIR (make localnet-up)" >&2
  exit 1
fi
home0="$(node_home 0)"

# NRN to unrn (6 decimals) in text, so no amount is rounded.
if ! [[ "$amount" =~ ^([0-9]+)(\.([0-9]{1,6}))?$ ]]; then
  echo "faucet: AMOUNT_NRN \"$amount\": not an amount (NRN with up to 6 decimals, e.g. 12.5)" >&2
  exit 2
fi
frac="${BASH_REMATCH[3]}000000"
unrn="$(sed 's/^0*//' <<<"${BASH_REMATCH[1]}${frac:0:6}")"
if [ -z "$unrn" ]; then
  echo "faucet: AMOUNT_NRN \"$amount\": must be above zero" >&2
  exit 2
fi

if [[ "$recipient" != um1* ]]; then
  if ! recipient="$("$UMD" keys show "$recipient" -a --home "$home0" 2>/dev/null)"; then
    echo "faucet: \"$1\" is neither a um1… address nor a key in $home0/keys" >&2
    exit 2
  fi
fi

if ! [[ "$recipient" =~ ^um1[02-9ac-hj-np-z]+$ ]]; then
  echo "faucet: \"$recipient\" is not a um1… address" >&2
  exit 2
fi

from=faucet
if ! "$UMD" keys show faucet -a --home "$home0" >/dev/null 2>&1; then
  from=operator
fi

# The first node whose RPC answers (any node may be down).
rpc=""
for ((i = 0; i < LOCALNET_N; i++)); do
  if [ -n "$(height "$i")" ]; then
    rpc="$(node_rpc "$i")"
    break
  fi
done
if [ -z "$rpc" ]; then
  echo "faucet: no node of the localnet answers (make localnet-up)" >&2
  exit 1
fi

token="$("$UMD" gov registry --node "$rpc" | sed -n 's/^token: //p')"
if [ -z "$token" ]; then
  echo "faucet: the chain at $rpc has no registered NRN token" >&2
  exit 1
fi

# The token checks the address (a query, so a typo costs no fee).
if ! out="$("$UMD" query wasm smart "$token" "{\"balance\":{\"address\":\"$recipient\"}}" \
  --node "$rpc" 2>&1)"; then
  echo "faucet: \"$recipient\" is not an address the token takes:" >&2
  echo "$out" >&2
  exit 2
fi

# One faucet tx at a time: two at once would sign with the same sequence.
if command -v flock >/dev/null; then
  exec 9>"$LOCALNET_DIR/faucet.lock"
  flock 9
fi

if ! out="$("$UMD" tx wasm execute "$token" \
  "{\"transfer\":{\"recipient\":\"$recipient\",\"amount\":\"$unrn\"}}" \
  --from "$from" --home "$home0" --node "$rpc" 2>&1)"; then
  echo "faucet: the transfer from $from failed:" >&2
  echo "$out" >&2
  exit 1
fi
txhash="$(sed -n 's/^txhash: //p' <<<"$out")"
balance="$("$UMD" query wasm smart "$token" "{\"balance\":{\"address\":\"$recipient\"}}" \
  --node "$rpc" | sed -n 's/.*"balance":"\([0-9]*\)".*/\1/p')"
# unrn back to NRN for the reader: 12500000 -> 12.5
nrn="$(python3 -c 'import sys; u = int(sys.argv[1]); w, f = divmod(u, 10**6)
print(f"{w}.{f:06d}".rstrip("0").rstrip("."))' "${balance:-0}")"
echo "sent $amount NRN (${unrn}unrn) from $from to $recipient"
echo "txhash: $txhash"
echo "balance: $nrn NRN (${balance}unrn)"
