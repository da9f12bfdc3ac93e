#!/usr/bin/env bash
# ONNX import checked against PyTorch: Debian's python3-torch exports an MLP, three CNNs
# (Conv / BatchNorm in eval / Relu / MaxPool / AvgPool / the x.view(x.size(0), -1) shape
# chain / Flatten / Gemm / LogSoftmax / nn.Upsample as Resize), a GRU classifier and a 2-layer
# bidirectional LSTM with torch.onnx.export (opset 17, dynamic batch) and seeded random
# weights, and writes an input
# and torch's output; test/onnx_import_torch loads each .onnx with tg::onnx::load, runs it at
# that (other) batch size and requires max|tapegrad - torch| <= 1e-5 * max|torch|, and the same
# after exporting the imported graph with tapegrad's exporter and importing that.
# Skips (exit 0) only when /usr/bin/python3 cannot import torch (tools/check installs
# python3-torch).
set -euo pipefail
BUILD=${BUILD:-build}
PY=/usr/bin/python3
here=$(cd "$(dirname "$0")/.." && pwd)
exe="$BUILD/test/onnx_import_torch"

if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "SKIP: $PY cannot import torch (install python3-torch)"
    exit 0
fi
[ -x "$exe" ] || { echo "FAIL: $exe is not built"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout 300 "$PY" -W ignore "$here/python/onnx_import_torch.py" "$tmp"
timeout 300 "$exe" "$tmp"
echo "ok: every model torch exported imports and matches torch's outputs"
