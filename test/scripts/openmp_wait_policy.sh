#!/usr/bin/env bash
# The one thread pool (docs/design.md, "Threads: one OpenMP pool"): libtapegrad loads
# OpenBLAS's OpenMP build whatever Debian's alternatives point libopenblas.so.0 at, and
# libgomp starts with a short spin (GOMP_SPINCOUNT=3000) unless the user chose a policy.
set -euo pipefail
BUILD=${BUILD:-build}
bin="$BUILD/test/test_parallel"
[ -x "$bin" ] || { echo "missing $bin"; exit 1; }
lib=$(find "$BUILD/lib" -name 'libtapegrad.so' | head -1)

deps=$(ldd "$lib")
blas=$(echo "$deps" | awk '/libopenblas/ { print $3 }')
echo "libtapegrad loads $blas"
[[ $(readlink -f "$blas") == */openblas-openmp/* ]] || { echo "expected OpenBLAS's OpenMP build"; exit 1; }
[[ $deps == *libgomp* ]] || { echo "expected libgomp"; exit 1; }

# libgomp prints the settings it read at start-up (OMP_DISPLAY_ENV=verbose); a test run
# that does nothing is enough to load the library.
spin() { env "$@" OMP_DISPLAY_ENV=verbose "$bin" "set_num_threads governs*" 2>&1 | sed -n "s/.*GOMP_SPINCOUNT = '\([0-9]*\)'.*/\1/p" | head -1; }
default=$(spin -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT)
echo "GOMP_SPINCOUNT by default: $default"
[ "$default" = "3000" ]
passive=$(spin -u GOMP_SPINCOUNT OMP_WAIT_POLICY=passive)
echo "GOMP_SPINCOUNT with OMP_WAIT_POLICY=passive: $passive"
[ "$passive" = "0" ]
active=$(spin -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active)
echo "GOMP_SPINCOUNT with OMP_WAIT_POLICY=active: $active"
[ -n "$active" ] && [ "$active" != "0" ]
user=$(spin -u OMP_WAIT_POLICY GOMP_SPINCOUNT=12345)
echo "GOMP_SPINCOUNT=12345 kept: $user"
[ "$user" = "12345" ]

# TG_NUM_THREADS sets the count, over OMP_NUM_THREADS (the test case checks it when set).
for n in 1 3; do
    TG_NUM_THREADS=$n OMP_NUM_THREADS=2 "$bin" "TG_NUM_THREADS sets the thread count at start" >/dev/null
    echo "TG_NUM_THREADS=$n: ok"
done
