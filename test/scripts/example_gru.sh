#!/usr/bin/env bash
# The Fashion-MNIST GRU example (each image read as 28 rows of 28 pixels, GRU(128) + dense),
# shortened to one epoch over the first 12000 training images (94 Adam steps; about 10 s of
# CPU time, user + sys, plus loading the data), must reach a test accuracy of at least 0.70 on
# the full real test set (it reaches 0.74 with --seed 1). tools/check installs the dataset,
# so a missing dataset is a failure, not a skip.
set -euo pipefail
source "$(dirname "$0")/lib/example_setup.sh" fashion_mnist_gru  # BUILD, DATA, exe, $tmp
min_accuracy=0.70

run_example 600 "$min_accuracy" --data "$DATA" --epochs 1 --train-limit 12000 --seed 1 --quiet
