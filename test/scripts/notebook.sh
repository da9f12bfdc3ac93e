#!/usr/bin/env bash
# The Jupyter kernel (interactive/tapegrad-kernel) runs docs/notebooks/tour.ipynb headless
# through nbclient; notebook_check.py asserts the gradient values, the tg::Error output of
# the deliberate shape error, that later cells ran, and the inline PNGs' sizes.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/lib/install.sh
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac

install_packages "${INTERACTIVE_PACKAGES[@]}" python3-nbclient python3-pil dataset-fashion-mnist || true
spec="$BUILD/interactive/kernel-build.json"
if [ ! -x "$BUILD/interactive/tapegrad-kernel" ] || [ ! -f "$spec" ]; then
    echo "FAIL: $BUILD/interactive/tapegrad-kernel not built (are ${INTERACTIVE_PACKAGES[*]} installed?)"
    exit 1
fi

# A kernelspec for this build only, found through JUPYTER_PATH (nothing is registered for
# the user). The same kernel.json, naming the installed binary, is what meson install puts
# under <prefix>/share/jupyter/kernels/tapegrad.
jupyter_dir=$(mktemp -d)
trap 'rm -rf "$jupyter_dir"' EXIT
mkdir -p "$jupyter_dir/kernels/tapegrad"
cp "$spec" "$jupyter_dir/kernels/tapegrad/kernel.json"
JUPYTER_PATH="$jupyter_dir" JUPYTER_RUNTIME_DIR="$jupyter_dir/runtime" \
    timeout 600 /usr/bin/python3 test/scripts/notebook_check.py docs/notebooks/tour.ipynb
