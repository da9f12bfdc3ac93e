#!/usr/bin/env bash
# tg::distributed under `mpirun -np 2` on this machine: collectives, the sampler, and
# DistributedDataParallel (2 ranks × batch b == 1 process × batch 2b) — then a rank that
# dies, and a rank that stalls, must make the job fail with a clear message in time.
# Skips (exit 0) only when the library was built without MPI.
set -euo pipefail
BUILD=${BUILD:-build}
exe="$BUILD/test/mpi_check"
lib="$BUILD/lib/libtapegrad.so"

if [ ! -x "$exe" ]; then
    if [ -e "$lib" ] && ! ldd "$lib" | grep -q libmpi; then
        echo "SKIP: tapegrad was built without MPI (install libopenmpi-dev and reconfigure with -Dmpi=enabled)"
        exit 0
    fi
    echo "FAIL: $exe is not built (but the library links MPI)"; exit 1
fi
command -v mpirun >/dev/null || { echo "FAIL: mpirun not found (install openmpi-bin)"; exit 1; }

# A container without a network: shared memory between the ranks, loopback for the rest.
export OMPI_MCA_btl=self,vader
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_tcp_if_include=lo
export OMPI_MCA_plm_rsh_agent=false
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_hwloc_base_binding_policy=none
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np 2)

echo "== basic"
out=$(timeout 300 "${MPIRUN[@]}" "$exe" basic 2>&1) || { echo "$out"; echo "FAIL: mpi_check basic failed"; exit 1; }
echo "$out"
printf '%s\n' "$out" | grep -q "mpi_check basic: .* 0 failures over 2 ranks" || { echo "FAIL: no success line"; exit 1; }

# run_failing_job DEADLINE CASE: mpi_check CASE with TG_DIST_TIMEOUT=DEADLINE (s), at most 60 s;
# sets out (and prints it), status and elapsed (s).
run_failing_job() {
    local start=$SECONDS
    set +e
    out=$(TG_DIST_TIMEOUT=$1 timeout 60 "${MPIRUN[@]}" "$exe" "$2" 2>&1)
    status=$?
    set -e
    echo "$out"
    elapsed=$((SECONDS - start))
}

# A rank dies: mpirun must end the job (not hang) and say why.
echo "== die"
run_failing_job 10 die
[ "$status" -ne 0 ] || { echo "FAIL: the job succeeded although rank 1 died"; exit 1; }
[ "$status" -ne 124 ] || { echo "FAIL: the job hung until the test's timeout"; exit 1; }
printf '%s\n' "$out" | grep -q "returned although" && { echo "FAIL: rank 0 got a result"; exit 1; }
printf '%s\n' "$out" | grep -Eq "exited with non-zero status|exiting improperly|has not completed after" ||
    { echo "FAIL: neither mpirun nor rank 0 said why the job ended"; exit 1; }
echo "ok: dead rank ended the job in ${elapsed}s (status $status)"

# A rank stalls (alive, never joins): the others' deadline aborts the job with our message.
echo "== stall"
run_failing_job 3 stall
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || { echo "FAIL: status $status (0: succeeded, 124: hung)"; exit 1; }
printf '%s\n' "$out" | grep -q "rank 0 of 2: all_reduce .* has not completed after 3 s" ||
    { echo "FAIL: no timeout message from rank 0"; exit 1; }
[ "$elapsed" -lt 40 ] || { echo "FAIL: took ${elapsed}s"; exit 1; }
echo "ok: stalled rank aborted the job in ${elapsed}s"

# The examples under mpirun, once they take --distributed: one epoch on the real data (the
# CNN on 12000 images) must reach their single-process script tests' accuracy bars, with one
# 'test accuracy' line (rank 0 only) and the checkpoint written.
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
for example in fashion_mnist_mlp fashion_mnist_cnn; do
    bin="$BUILD/examples/$example"
    [ -x "$bin" ] && "$bin" --help 2>/dev/null | grep -q -- --distributed || { echo "(no --distributed in $example)"; continue; }
    [ -f "$DATA/train-images-idx3-ubyte.gz" ] || { echo "FAIL: $DATA has no Fashion-MNIST"; exit 1; }
    echo "== $example --distributed"
    tmp=$(mktemp -d)
    args=(--data "$DATA" --epochs 1 --seed 1 --save "$tmp/model.ckpt")
    [ "$example" = fashion_mnist_cnn ] && args+=(--train-size 12000)  # a few minutes on 2 busy cores
    out=$(OPENBLAS_NUM_THREADS=1 timeout 600 "${MPIRUN[@]}" "$bin" "${args[@]}" --distributed 2>&1) ||
        { echo "$out"; rm -rf "$tmp"; echo "FAIL: $example --distributed failed"; exit 1; }
    echo "$out"
    accuracy=$(printf '%s\n' "$out" | sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p')
    [ "$(printf '%s\n' "$accuracy" | grep -c .)" -eq 1 ] || { echo "FAIL: expected one 'test accuracy' line (rank 0 only)"; exit 1; }
    min=0.80; [ "$example" = fashion_mnist_cnn ] && min=0.75  # as its own short-run script test
    awk -v a="$accuracy" -v m="$min" 'BEGIN { exit !(a >= m) }' || { echo "FAIL: test accuracy $accuracy < $min"; exit 1; }
    [ -s "$tmp/model.ckpt" ] || { echo "FAIL: no checkpoint written"; exit 1; }
    rm -rf "$tmp"
    echo "ok: $example --distributed reached $accuracy on 2 processes"
done
