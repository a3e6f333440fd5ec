#!/usr/bin/env python3
"""Issue 15: the block interval of a running localnet, idle and under a
query flood from CLIENTS concurrent clients, side by side in one run.

Each client loops over the expensive unauthenticated queries a public node
answers, through CometBFT's `abci_query` (the path that used to take the
node's consensus lock): a cw20 smart query, a list query of model
versions, and the registry. The block interval is the median gap between
consecutive block times (CometBFT header time) over the window.

    query_flood.py RPC_URL MODEL SECONDS CLIENTS

Prints one JSON line.
"""

import base64
import json
import statistics
import sys
import threading
import time
import urllib.request
from datetime import datetime


def rpc(url, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, payload):
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def abci_query(url, path, data):
    result = rpc(url, "abci_query", {"path": path, "data": data.hex()})
    return result["response"]


def block_time(url, height):
    header = rpc(url, "block", {"height": str(height)})["block"]["header"]
    # RFC 3339 with nanoseconds; seconds precision of the fraction is enough.
    text = header["time"]
    whole, _, fraction = text.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(whole + "+00:00").timestamp()
    return stamp + float("0." + (fraction or "0"))


def latest_height(url):
    return int(rpc(url, "status", {})["sync_info"]["latest_block_height"])


def median_interval_ms(url, seconds):
    start = latest_height(url)
    time.sleep(seconds)
    end = latest_height(url)
    times = [block_time(url, h) for h in range(start, end + 1)]
    gaps = [(b - a) * 1000 for a, b in zip(times, times[1:])]
    return (statistics.median(gaps) if gaps else None), end - start


def main():
    url, model, seconds, clients = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    registry = abci_query(url, "custom/gov/registry", b"")
    token = json.loads(base64.b64decode(registry["value"]))["token"]
    smart = field(1, token.encode()) + field(
        2, json.dumps({"all_accounts": {"limit": 30}}).encode()
    )
    versions = field(1, model.encode())
    queries = [
        ("/cosmwasm.wasm.v1.Query/SmartContractState", smart),
        ("/um.training.v1.Query/Versions", versions),
        ("custom/gov/registry", b""),
    ]
    for path, data in queries:
        response = abci_query(url, path, data)
        if response.get("code", 0) != 0:
            raise RuntimeError(f"{path}: code {response['code']}: {response.get('log')}")

    idle_ms, idle_blocks = median_interval_ms(url, seconds)

    stop = threading.Event()
    answered = [0] * clients
    refused = [0] * clients

    def client(i):
        while not stop.is_set():
            for path, data in queries:
                try:
                    response = abci_query(url, path, data)
                    if response.get("code", 0) == 0:
                        answered[i] += 1
                    else:
                        refused[i] += 1
                except Exception:
                    refused[i] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    started = time.time()
    for thread in threads:
        thread.start()
    flood_ms, flood_blocks = median_interval_ms(url, seconds)
    stop.set()
    elapsed = time.time() - started
    for thread in threads:
        thread.join(timeout=30)
    print(
        json.dumps(
            {
                "bench": "query_flood",
                "clients": clients,
                "seconds": seconds,
                "idle_median_block_ms": idle_ms,
                "idle_blocks": idle_blocks,
                "flood_median_block_ms": flood_ms,
                "flood_blocks": flood_blocks,
                "flood_over_idle": (flood_ms / idle_ms) if idle_ms and flood_ms else None,
                "queries_answered": sum(answered),
                "queries_refused": sum(refused),
                "queries_per_s": sum(answered) / elapsed,
            }
        )
    )


if __name__ == "__main__":
    main()
