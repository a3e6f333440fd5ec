#!/usr/bin/env bash
# Creates .venv with the PyPI torch wheel whose libtorch matches `tch`
# (tch 0.26 expects torch 2.13.0), plus safetensors for checking exported
# weights from Python. The full wheel with its nvidia-* dependencies (about
# 2.7 GB download): `import torch` needs them even on a machine without a
# GPU, and the same libtorch serves CUDA where there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
torch_version=2.13.0
stamp=.venv/.torch-$torch_version
if [ -f "$stamp" ]; then
  # A .venv made before safetensors was on the list (the API test loads
  # downloaded weights with safetensors.torch) gets it now.
  if ! .venv/bin/python -c 'import safetensors' 2>/dev/null; then
    .venv/bin/pip install --quiet safetensors
  fi
  exit 0
fi
echo "setup: creating .venv with torch==$torch_version (libtorch for tch, PyTorch for checks)"
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet "torch==$torch_version" numpy safetensors
.venv/bin/python -c 'import torch; print("setup: torch", torch.__version__)'
touch "$stamp"
