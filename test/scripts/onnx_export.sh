#!/usr/bin/env bash
# ONNX export checked by independent readers: test/onnx_export_models exports the four
# Fashion-MNIST example architectures, a TF "same"-padding CNN, a depthwise / grouped CNN
# (ceil_mode pooling, softplus with beta), a GRU classifier and an
# embedding + 2-layer bidirectional LSTM model (seeded random weights); python3-onnx's
# checker (full_check: shape inference too) must accept each file, and ONNX Runtime must
# reproduce tapegrad's outputs at another batch size than the traced one
# (max|diff| <= 1e-5 * max|output|).
# ONNX Runtime comes from npm (onnxruntime-node 1.30.0, its Linux x64 CPU library inside),
# installed once with --ignore-scripts (its install script downloads from hosts CI cannot
# reach) into ${TG_ORT_CACHE:-~/.cache/tapegrad/onnxruntime}: ~25 s the first time.
set -euo pipefail
BUILD=${BUILD:-build}
PY=/usr/bin/python3
here=$(cd "$(dirname "$0")/.." && pwd)
exe="$BUILD/test/onnx_export_models"
[ -x "$exe" ] || { echo "FAIL: $exe is not built"; exit 1; }
"$PY" -c 'import onnx' || { echo "FAIL: $PY cannot import onnx (install python3-onnx)"; exit 1; }
command -v node > /dev/null || { echo "FAIL: node is not installed (nodejs)"; exit 1; }

cache=${TG_ORT_CACHE:-$HOME/.cache/tapegrad/onnxruntime}
ort="$cache/node_modules/onnxruntime-node"
if [ ! -f "$ort/package.json" ] || ! grep -q '"version": "1.30.0"' "$ort/package.json"; then
    mkdir -p "$cache"
    (cd "$cache" && npm install --ignore-scripts --no-audit --no-fund --prefix . onnxruntime-node@1.30.0)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout 300 "$exe" "$tmp"
"$PY" - "$tmp" <<'PY'
import sys, onnx
d = sys.argv[1]
for line in open(f"{d}/manifest.txt"):
    name = line.split()[0]
    model = onnx.load(f"{d}/{name}.onnx")
    onnx.checker.check_model(model, full_check=True)
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"ok   {name}: onnx.checker (full_check) accepts it; opset {model.opset_import[0].version}; ops {', '.join(ops)}")
PY
timeout 300 node "$here/js/onnx_run.js" "$ort" "$tmp"
echo "ok: every exported model passes the checker and matches in ONNX Runtime"
