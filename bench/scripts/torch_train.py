#!/usr/bin/env python3
"""PyTorch eager reference for the training-speed benchmark (issue 7, item 2).

The same work as um-trainer's `run_step` (trainer/src/step.rs), in stock
PyTorch: the training split, base weights and trainer address exported by
`bench_training export DIR`; per update the base weights are decoded from
safetensors bytes, every step draws the chain's batch (sha256 counter mode,
the same indices as ours), gathers it from the preloaded uint8 tensor,
scales to float/255, runs nn.Sequential(Linear, ReLU, Linear, ReLU, Linear)
with CrossEntropyLoss (mean) and torch.optim.SGD(lr), reads the loss
(`.item()`, like ours reads it every step), and at the end encodes the new
weights to safetensors bytes. Batches and initial weights are identical to
ours, so the losses must agree (checked against nonce 1 of the export).

usage: torch_train.py DIR REPS THREADS...   one JSON line per thread count
"""

import hashlib
import json
import statistics
import sys
import time

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save


def batch_indices(base_hash, trainer, nonce, step, batch_size, train_len):
    seed = hashlib.sha256(
        base_hash + trainer.encode() + nonce.to_bytes(8, "big") + step.to_bytes(4, "big")
    ).digest()
    out, block = [], 0
    while len(out) < batch_size:
        d = hashlib.sha256(seed + block.to_bytes(4, "big")).digest()
        for i in range(0, 32, 8):
            if len(out) == batch_size:
                break
            out.append(int.from_bytes(d[i : i + 8], "big") % train_len)
        block += 1
    return out


def make_model():
    return torch.nn.Sequential(
        torch.nn.Linear(784, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    )


# Our parameter names (layers.{i}.weight / .bias) to nn.Sequential's.
NAMES = {f"layers.{i}.{k}": f"{2 * i}.{k}" for i in range(3) for k in ("weight", "bias")}


def update(model, base_bytes, pixels, labels, trainer, nonce, steps, batch, lr):
    """One update: decode base, `steps` SGD steps, encode; returns step losses."""
    base_hash = hashlib.sha256(base_bytes).digest()
    state = {NAMES[k]: v for k, v in st_load(base_bytes).items()}
    model.load_state_dict(state)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    losses = []
    for s in range(steps):
        idx = torch.tensor(batch_indices(base_hash, trainer, nonce, s, batch, len(labels)))
        xs = pixels.index_select(0, idx).to(torch.float32) / 255.0
        ys = labels.index_select(0, idx)
        loss = loss_fn(model(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    st_save({k: v.detach().contiguous() for k, v in model.state_dict().items()})
    return losses


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    d, reps, threads = sys.argv[1], int(sys.argv[2]), [int(t) for t in sys.argv[3:]]
    ref = json.load(open(f"{d}/reference.json"))
    steps, batch = ref["local_steps"], ref["batch_size"]
    lr = float(np.float32(float(ref["learning_rate"])))  # ours rounds lr to f32
    n = ref["train_len"]
    pixels = torch.from_numpy(np.fromfile(f"{d}/train_pixels.u8", dtype=np.uint8).reshape(n, 784))
    labels = torch.from_numpy(np.fromfile(f"{d}/train_labels.u8", dtype=np.uint8).astype(np.int64))
    base_bytes = open(f"{d}/base.safetensors", "rb").read()
    model = make_model()
    trainer = ref["trainer"]
    for t in threads:
        torch.set_num_threads(t)
        update(model, base_bytes, pixels, labels, trainer, 0, steps, batch, lr)  # warm-up
        secs, loss_diff = [], None
        for nonce in range(1, reps + 1):
            started = time.perf_counter()
            losses = update(model, base_bytes, pixels, labels, trainer, nonce, steps, batch, lr)
            secs.append(time.perf_counter() - started)
            if nonce == ref["nonce"]:
                loss_diff = max(abs(a - b) for a, b in zip(losses, ref["step_losses"]))
        med = statistics.median(secs)
        print(
            json.dumps(
                {
                    "bench": "train",
                    "side": "pytorch",
                    "torch": torch.__version__,
                    "threads": t,
                    "reps": reps,
                    "local_steps": steps,
                    "batch_size": batch,
                    "secs": secs,
                    "median_secs": med,
                    "samples_per_s": steps * batch / med,
                    "max_step_loss_diff_vs_ours": loss_diff,
                    "mkldnn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
