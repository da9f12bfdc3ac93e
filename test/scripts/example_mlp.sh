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

run_example 180 "$min_accuracy" --data "$DATA" --epochs 1 --seed 1 --workers 2 --save "$checkpoint"

[ -s "$checkpoint" ] || { echo "FAIL: --save did not write a non-empty $checkpoint"; exit 1; }
echo "ok: --save wrote $(wc -c < "$checkpoint") bytes"
