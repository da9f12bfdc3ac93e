#!/usr/bin/env bash
# The Fashion-MNIST CNN example (2x conv5x5-BN-ReLU-maxpool, dense, dropout), shortened to
# one epoch over the first 12000 training images (~10 s of CPU), must reach a test accuracy
# of at least 0.75 on the full test set (it reaches 0.817 with --seed 3). Then the
# checkpoint it saved (--save), evaluated by a second process (--load), must print exactly
# the same accuracy and correct count: the parameters and the batch-norm running statistics
# round-trip, and eval mode is deterministic.
# tools/check installs the dataset, so a missing dataset is a failure, not a skip.
set -euo pipefail
source "$(dirname "$0")/lib/example_setup.sh" fashion_mnist_cnn  # BUILD, DATA, exe, $tmp
min_accuracy=0.75
checkpoint="$tmp/cnn.tgckpt"

accuracy_line() { printf '%s\n' "$1" | sed -n 's/^test accuracy: \([0-9.]* ([0-9]*\/[0-9]*)\)$/\1/p' | tail -1; }

out=$(timeout 300 "$exe" --data "$DATA" --epochs 1 --train-size 12000 --seed 3 --save "$checkpoint") || {
    status=$?; echo "$out"; echo "FAIL: the example exited with status $status"; exit 1; }
echo "$out"
trained=$(accuracy_line "$out")
[ -n "$trained" ] || { echo "FAIL: no 'test accuracy: X (C/N)' line in the output"; exit 1; }
accuracy=${trained%% *}
if awk -v a="$accuracy" -v m="$min_accuracy" 'BEGIN { exit !(a >= m) }'; then
    echo "ok: test accuracy $accuracy >= $min_accuracy"
else
    echo "FAIL: test accuracy $accuracy < $min_accuracy"; exit 1
fi
[ -s "$checkpoint" ] || { echo "FAIL: --save did not write a non-empty $checkpoint"; exit 1; }

out=$(timeout 120 "$exe" --data "$DATA" --load "$checkpoint") || {
    status=$?; echo "$out"; echo "FAIL: --load exited with status $status"; exit 1; }
echo "$out"
loaded=$(accuracy_line "$out")
if [ "$loaded" == "$trained" ]; then
    echo "ok: the loaded model evaluates to the same accuracy: $loaded"
else
    echo "FAIL: trained model gave '$trained' but the loaded one '$loaded'"; exit 1
fi
