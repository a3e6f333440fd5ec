#!/usr/bin/env bash
# The demo: a single-validator chain on loopback, the NRN token deployed
# through signed txs, and transfers landing in blocks. Ctrl-C stops it;
# DEMO_EXIT=1 stops after a few transfers (used to check the demo itself).
set -euo pipefail
cd "$(dirname "$0")/.."
umd="$PWD/target/debug/umd"
home="${DEMO_HOME:-$PWD/.demo}"
export UMD_HOME="$home"
export UMD_NODE="http://127.0.0.1:26657"

pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== a fresh single-validator chain in $home"
"$umd" init --chain-id um-demo-1 --timeout-commit 500ms --overwrite >/dev/null
"$umd" start >"$home/umd.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -sf "$UMD_NODE/status" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
height() { curl -sf "$UMD_NODE/status" | sed -n 's/.*"latest_block_height":"\([0-9]*\)".*/\1/p'; }
until [ "$(height)" != "" ] && [ "$(height)" -ge 1 ]; do sleep 0.2; done
echo "   CometBFT v0.38 + umd running, height $(height); logs: $home/umd.log, $home/cometbft.log"

"$umd" keys add alice >/dev/null
"$umd" keys add bob >/dev/null
alice=$("$umd" keys show alice -a)
bob=$("$umd" keys show bob -a)
echo "== keys: alice $alice"
echo "         bob   $bob"

echo "== storing the NRN token contract (artifacts/nrn_token.wasm)"
code_id=$("$umd" tx wasm store artifacts/nrn_token.wasm --from alice --gas 50000000 \
  | sed -n 's/^event store_code.code_id = //p')
echo "   code id $code_id"
init_msg=$(printf '{"name":"Neuron","symbol":"NRN","decimals":6,"initial_balances":[{"address":"%s","amount":"1000000000"}],"mint":{"minter":"%s","cap":"21000000000000"}}' "$alice" "$alice")
token=$("$umd" tx wasm instantiate "$code_id" "$init_msg" --label nrn --admin "$alice" --from alice \
  | sed -n 's/^event instantiate._contract_address = //p')
echo "== NRN token at $token"

balance() {
  "$umd" query wasm smart "$token" "{\"balance\":{\"address\":\"$1\"}}" | sed -n 's/.*"balance":"\([0-9]*\)".*/\1/p'
}
echo "== transfers of 1.5 NRN from alice to bob, each in a block (Ctrl-C to stop)"
round=0
while :; do
  round=$((round + 1))
  out=$("$umd" tx wasm execute "$token" "{\"transfer\":{\"recipient\":\"$bob\",\"amount\":\"1500000\"}}" --from alice)
  tx_height=$(echo "$out" | sed -n 's/^height: //p')
  hash=$(echo "$out" | sed -n 's/^txhash: //p')
  printf '   block %-5s tx %.12s…  alice %s uNRN  bob %s uNRN\n' "$tx_height" "$hash" "$(balance "$alice")" "$(balance "$bob")"
  if [ "${DEMO_EXIT:-0}" = 1 ] && [ "$round" -ge 3 ]; then
    echo "== DEMO_EXIT=1: stopping after $round transfers"
    break
  fi
  sleep 1
done
