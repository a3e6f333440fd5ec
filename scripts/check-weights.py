#!/usr/bin/env python3
"""Loads model weights downloaded from the chain into PyTorch and measures
their accuracy on the held-out (validation) MNIST digits, independently of
the Rust code: the split is recomputed here from its definition
(sha256(label || pixels)[0] < 26, duplicates counted once).

usage: check-weights.py WEIGHTS.safetensors DATA_DIR   (an MLP spec's weights)
"""
import hashlib
import json
import math
import sys

import torch
from safetensors.torch import load_file


def validation_digits(data_dir):
    seen = set()
    images, labels = [], []
    for label in range(10):
        with open(f"{data_dir}/{label}.json") as f:
            values = json.load(f)["data"]
        for start in range(0, len(values), 784):
            # As um-formats: round half away from zero (values are >= 0).
            pixels = bytes(math.floor(v * 255 + 0.5) for v in values[start:start + 784])
            digest = hashlib.sha256(bytes([label]) + pixels).digest()
            if digest in seen or digest[0] >= 26:
                seen.add(digest)
                continue
            seen.add(digest)
            images.append(list(pixels))
            labels.append(label)
    return torch.tensor(images, dtype=torch.float32) / 255.0, torch.tensor(labels)


def main():
    weights = load_file(sys.argv[1])
    xs, ys = validation_digits(sys.argv[2])
    layers = sorted({int(name.split(".")[1]) for name in weights if name.startswith("layers.")})
    h = xs
    for i in layers:
        h = h @ weights[f"layers.{i}.weight"].T + weights[f"layers.{i}.bias"]
        if i != layers[-1]:
            h = torch.relu(h)
    accuracy = (h.argmax(dim=1) == ys).float().mean().item()
    shapes = ", ".join(f"{n} {list(t.shape)}" for n, t in sorted(weights.items()))
    print(f"   PyTorch {torch.__version__}: {shapes}")
    print(f"   accuracy on the {len(ys)} held-out digits, measured in PyTorch: {accuracy:.4f}")


if __name__ == "__main__":
    main()
