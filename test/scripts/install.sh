#!/usr/bin/env bash
# meson install into a temporary prefix, then build a 3-line program against the
# installed copy with nothing but `pkg-config --cflags --libs tapegrad`.
set -euo pipefail
BUILD=${BUILD:-build}
source "$(dirname "$0")/lib/staged_install.sh"
stage_install "$BUILD"
prefix=$stage_dir
root=$stage_root
pcdir=$(dirname "$(find "$root" -name tapegrad.pc | head -1)")
# The .pc names the final prefix; point it at the staged copy.
sed -i "s|^prefix=.*|prefix=$root|" "$pcdir/tapegrad.pc"
cat > "$prefix/hello.cpp" <<'CPP'
#include <tapegrad/tapegrad.hpp>
#include <iostream>
int main() { auto x = tg::tensor({3.0}).requires_grad_(); auto y = x * x; y.backward(); std::cout << x.grad().item<float>() << "\n"; }
CPP
PKG_CONFIG_PATH="$pcdir" g++ "$prefix/hello.cpp" -o "$prefix/hello" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs tapegrad)
out=$(LD_LIBRARY_PATH="$stage_libdir" "$prefix/hello")
echo "installed program printed: $out"
[ "$out" = "6" ]
# The installed headers must not pull in xtensor, xsimd or cblas (REPLs parse them).
if grep -rlE '#include <(xtensor|xsimd|cblas)' "$root/include/tapegrad" | grep -v '/xtensor.hpp$'; then
    echo "public headers include kernel libraries"; exit 1
fi
# The installed library loads OpenBLAS's OpenMP build (one thread pool) and is portable:
# valgrind's CPU has no AVX-512, so a library built with -march=native on this machine
# would stop there with SIGILL (docs/design.md, "Portable build, dispatched kernels").
libdir=$stage_libdir
deps=$(LD_LIBRARY_PATH="$libdir" ldd "$prefix/hello")
[[ $deps == *openblas-openmp/libopenblas* ]] || { echo "installed library does not load OpenBLAS's OpenMP build"; exit 1; }
if command -v valgrind >/dev/null; then
    out=$(LD_LIBRARY_PATH="$libdir" valgrind --tool=none -q "$prefix/hello")
    echo "under valgrind: $out"
    [ "$out" = "6" ]
fi
# tbplot is installed as a command (docs/summaries.md calls it `tbplot` once installed).
tbplot_help=$("$root/bin/tbplot" --help 2>&1) || { echo "installed bin/tbplot missing or broken"; exit 1; }
grep -q "^usage: tbplot LOGDIR" <<< "$tbplot_help" || { echo "bin/tbplot --help: $tbplot_help"; exit 1; }
