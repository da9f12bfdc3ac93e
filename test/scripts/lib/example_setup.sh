# Sourced by the example script tests (test/scripts/example_*.sh) as
#   source "$(dirname "$0")/lib/example_setup.sh" fashion_mnist_cnn
# Sets BUILD, DATA and exe (the example's binary, which must be built), checks the four
# Fashion-MNIST files are there (tools/check installs the dataset, so a missing file is a
# failure, not a skip), and makes $tmp, a scratch directory removed on exit.
BUILD=${BUILD:-build}
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
exe="$BUILD/examples/$1"

[ -x "$exe" ] || { echo "FAIL: $exe is not built"; exit 1; }
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
         t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [ -f "$DATA/$f" ] || { echo "FAIL: $DATA/$f missing (install the dataset-fashion-mnist package)"; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run_example SECONDS MIN_ACCURACY ARGS...: runs "$exe" ARGS... with a time limit, prints
# its output, fails unless it exits 0 and prints "test accuracy: X" with X >= MIN_ACCURACY.
# Leaves the output in $out and X in $accuracy.
run_example() {
    local seconds=$1 min_accuracy=$2
    shift 2
    out=$(timeout "$seconds" "$exe" "$@") || {
        local status=$?; echo "$out"; echo "FAIL: the example exited with status $status"; exit 1; }
    echo "$out"
    accuracy=$(printf '%s\n' "$out" | sed -n 's/^test accuracy: \([0-9.]*\).*$/\1/p' | tail -1)
    [ -n "$accuracy" ] || { echo "FAIL: no 'test accuracy: X' line in the output"; exit 1; }
    if awk -v a="$accuracy" -v m="$min_accuracy" 'BEGIN { exit !(a >= m) }'; then
        echo "ok: test accuracy $accuracy >= $min_accuracy"
    else
        echo "FAIL: test accuracy $accuracy < $min_accuracy"; exit 1
    fi
}
