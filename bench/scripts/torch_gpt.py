#!/usr/bin/env python3
"""PyTorch eager reference for the language step benchmark (issue 19).

The same work as um-trainer's `run_step` on the demo-lm lineage, in stock
PyTorch modules (nn.Embedding, nn.LayerNorm, nn.Linear, GELU, masked
softmax attention): the training split, base weights and the batch indices
of nonce 1 exported by `bench_lm export DIR`. Each record (785 bytes) gives
784 / T windows of T + 1 bytes, input and next-byte targets; the loss is
the mean cross-entropy over every position; torch.optim.SGD(lr), no
momentum. Batches and initial weights are ours, so the per-step losses
must agree with `bench_lm step`'s.

usage: torch_gpt.py DIR REPS    one JSON line
"""

import json
import math
import statistics
import sys
import time

import numpy as np
import torch
from safetensors.torch import load_file

nn = torch.nn


def model(spec):
    V, T, L, H, E = (spec[k] for k in ("vocab", "block_size", "layers", "heads", "embed"))

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(E, 3 * E)
            self.proj = nn.Linear(E, E)

        def forward(self, x):
            n, t, _ = x.shape
            q, k, v = self.qkv(x).split(E, dim=-1)
            q, k, v = [z.view(n, t, H, E // H).transpose(1, 2) for z in (q, k, v)]
            att = (q @ k.transpose(-2, -1)) / math.sqrt(E // H)
            mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
            att = att.masked_fill(mask, float("-inf")).softmax(-1)
            return self.proj((att @ v).transpose(1, 2).reshape(n, t, E))

    class Mlp(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(E, 4 * E)
            self.proj = nn.Linear(4 * E, E)

        def forward(self, x):
            return self.proj(nn.functional.gelu(self.fc(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.attn, self.ln2, self.mlp = nn.LayerNorm(E), Attn(), nn.LayerNorm(E), Mlp()

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(V, E), nn.Embedding(T, E)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.ln_f, self.head = nn.LayerNorm(E), nn.Linear(E, V, bias=False)

        def forward(self, idx):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for b in self.blocks:
                x = b(x)
            return self.head(self.ln_f(x))

    return Gpt()


def main():
    directory, reps = sys.argv[1], int(sys.argv[2])
    torch.backends.mkldnn.enabled = False
    meta = json.load(open(f"{directory}/meta.json"))
    spec, width = meta["spec"], meta["record_bytes"]
    t = spec["block_size"]
    raw = np.fromfile(f"{directory}/train.bin", dtype=np.uint8).reshape(-1, width)
    records = torch.from_numpy(raw.astype(np.int64))
    windows = (width - 1) // t
    starts = torch.arange(windows) * t
    span = starts[:, None] + torch.arange(t + 1)[None, :]

    def batch(indices):
        rows = records[torch.tensor(indices)][:, span].reshape(-1, t + 1)
        return rows[:, :-1], rows[:, 1:].reshape(-1)

    batches = [batch(b) for b in meta["batches"]]
    base = load_file(f"{directory}/base.safetensors")
    lr = float(np.float32(meta["learning_rate"]))

    def update():
        m = model(spec)
        m.load_state_dict(base, strict=True)
        opt = torch.optim.SGD(m.parameters(), lr=lr)
        losses = []
        for x, y in batches:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(m(x).reshape(-1, spec["vocab"]), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    losses = update()
    secs = []
    for _ in range(max(reps, 1)):
        started = time.perf_counter()
        update()
        secs.append(time.perf_counter() - started)
    median = statistics.median(secs)
    n = len(batches) * len(meta["batches"][0])
    print(json.dumps({
        "bench": "lm_step", "side": "pytorch", "threads": torch.get_num_threads(),
        "torch": torch.__version__, "reps": reps, "median_update_secs": median,
        "records_per_sec": n / median, "tokens_per_sec": n * windows * t / median,
        "losses": losses,
    }))


if __name__ == "__main__":
    main()
