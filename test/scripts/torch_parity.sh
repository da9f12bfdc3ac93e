#!/usr/bin/env bash
# PyTorch as an independent oracle for tapegrad's safetensors files and its layers: the MLP
# and a conv-BatchNorm-ReLU-pool-linear CNN (BatchNorm in eval and in train mode).
#  1. tapegrad initialises the models and writes weights, input, logits, loss and gradients;
#     torch (reading the files with plain json/struct/numpy) recomputes and must match.
#  2. torch initialises the models and writes the same; tapegrad loads and must match.
# Tolerance: per tensor, max|diff| <= 1e-5 * max|value|, float32.
#  3. single ops (scatter, index_put, einsum, the new activations/losses/norms, bilinear
#     interpolate, ...): values and gradients in float64 against torch, 1e-9 relative.
# Skips (exit 0) only when /usr/bin/python3 cannot import torch and numpy.
set -euo pipefail
BUILD=${BUILD:-build}
PY=/usr/bin/python3
exe="$BUILD/test/torch_parity"
here=$(cd "$(dirname "$0")/.." && pwd)

if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
    echo "SKIP: $PY cannot import torch and numpy (install python3-torch python3-numpy)"
    exit 0
fi
[ -x "$exe" ] || { echo "FAIL: $exe is not built"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== tapegrad -> torch"
timeout 120 "$exe" export "$tmp"
timeout 300 "$PY" "$here/python/torch_parity.py" check "$tmp"
echo "== torch -> tapegrad"
timeout 300 "$PY" "$here/python/torch_parity.py" export "$tmp"
timeout 120 "$exe" import "$tmp"
echo "== single ops, float64"
timeout 120 "$exe" ops "$tmp"
timeout 300 "$PY" "$here/python/ops_parity.py" "$tmp"
echo "ok: tapegrad and torch agree both ways"
