#!/usr/bin/env bash
# The Fashion-MNIST MLP example (784-256-128-10, ReLU, dropout, Adam), shortened to one
# epoch (about half a minute on two cores), must reach a test accuracy of at least 0.80 (it
# reaches about 0.85) on the real data with batches from two loader workers, and --save must
# write a non-empty checkpoint.
# tools/check installs the dataset, so a missing dataset is a failure, not a skip.
set -euo pipefail
source "$(dirname "$0")/lib/example_setup.sh" fashion_mnist_mlp  # BUILD, DATA, exe, $tmp
min_accuracy=0.80
checkpoint="$tmp/mlp.tgckpt"

out=$(timeout 180 "$exe" --data "$DATA" --epochs 1 --seed 1 --workers 2 --save "$checkpoint") || {
    status=$?; echo "$out"; echo "FAIL: the example exited with status $status"; exit 1; }
echo "$out"
accuracy=$(printf '%s\n' "$out" | sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p' | tail -1)
[ -n "$accuracy" ] || { echo "FAIL: no 'test accuracy: X' line in the output"; exit 1; }
if awk -v a="$accuracy" -v m="$min_accuracy" 'BEGIN { exit !(a >= m) }'; then
    echo "ok: test accuracy $accuracy >= $min_accuracy"
else
    echo "FAIL: test accuracy $accuracy < $min_accuracy"; exit 1
fi

[ -s "$checkpoint" ] || { echo "FAIL: --save did not write a non-empty $checkpoint"; exit 1; }
echo "ok: --save wrote $(wc -c < "$checkpoint") bytes"
