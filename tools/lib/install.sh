# Installs Debian 12 packages only when missing (non-interactive). Sourced by tools/*.
BUILD_PACKAGES=(g++ meson ninja-build pkg-config libxtensor-dev libxsimd-dev catch2 libfmt-dev
                libopenblas-dev libopenblas-openmp-dev  # the OpenMP build: one thread pool (docs/design.md)
                zlib1g-dev libcli11-dev libpng-dev nlohmann-json3-dev
                protobuf-compiler   # protoc: the tests decode event files with it
                libdnnl-dev)        # oneDNN: float32 convolutions (optional feature, on when found)
# The interactive hosts (interactive/: tapegrad-repl, the Jupyter kernel): clang's
# incremental interpreter (headers, libclang-cpp, libLLVM), xeus for the kernel, gnuplot
# for inline plots. meson builds them when these are installed; tools/repl and
# tools/jupyter install them on first use. (~1 min of apt in CI.)
INTERACTIVE_PACKAGES=(libclang-19-dev libclang-cpp19-dev llvm-19-dev xeus-dev gnuplot-nox)
# tools/jupyter's own: the notebook server, nbconvert, and headless Chromium for
# `tools/jupyter screenshot` (not installed by tools/check).
JUPYTER_PACKAGES=(jupyter-notebook python3-nbclient jupyter-nbconvert chromium)
# What tools/check adds for the tests: MPI (the optional distributed feature and its
# mpirun tests), Debian's PyTorch + NumPy (/usr/bin/python3: the safetensors parity
# oracle), clang-repl 19 (the REPL test), the interactive hosts and nbclient + Pillow (the
# notebook test: runs the kernel headless, decodes its PNGs), gdb (pretty-printer test),
# graphviz (DOT check), valgrind (the installed library runs on a CPU without AVX-512:
# test/scripts/install.sh), cmake (the CMake package test builds a consumer project; ~15 s),
# and clang 19 with its sanitizer and libFuzzer runtimes (the sanitize build and the fuzz
# targets: tools/check --sanitize, tools/fuzz, tools/lib/sanitize.sh; clang 14 rejects
# simd_kernels.cpp's __builtin_cpu_supports("f16c"), and clang-19 is here for clang-repl
# anyway). libomp-19-dev is clang's OpenMP runtime; it conflicts with libomp-14-dev, which
# apt removes when an older checkout installed it (nothing else here needs it).
# python3-onnx: the ONNX checker for the export test (test/scripts/onnx_export.sh, ~5 s of
# apt); Node.js/npm (install_node below) run ONNX Runtime from npm in the same test.
FUZZ_PACKAGES=(clang-19 libclang-rt-19-dev libomp-19-dev)
TEST_PACKAGES=(libopenmpi-dev openmpi-bin python3-torch python3-numpy clang-tools-19 gdb graphviz valgrind python3-onnx cmake
               "${INTERACTIVE_PACKAGES[@]}" python3-nbclient python3-pil "${FUZZ_PACKAGES[@]}")

# install_packages PKG...: apt-get installs those of PKG that are not installed yet.
install_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq || return 1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_build_deps() { install_packages "${BUILD_PACKAGES[@]}"; }

# Node.js and npm from Debian unless a node and npm are already on PATH (a NodeSource
# nodejs ships its own npm, which Debian's npm package would conflict with).
install_node() {
    if command -v node > /dev/null && command -v npm > /dev/null; then return 0; fi
    install_packages nodejs npm
}
