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
