#!/usr/bin/env bash
# The installed Jupyter kernel (interactive/tapegrad-kernel and its kernelspec, as `meson
# install` puts them) runs docs/notebooks/tour.ipynb headless through nbclient; notebook_check.py asserts the gradient values, the tg::Error output of
# the deliberate shape error, that later cells ran, and the inline PNGs' sizes.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/lib/install.sh
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac

install_packages "${INTERACTIVE_PACKAGES[@]}" python3-nbclient python3-pil dataset-fashion-mnist || true
if [ ! -x "$BUILD/interactive/tapegrad-kernel" ]; then
    echo "FAIL: $BUILD/interactive/tapegrad-kernel not built (are ${INTERACTIVE_PACKAGES[*]} installed?)"
    exit 1
fi

# The installed kernel: `meson install` staged in a temporary folder, Jupyter pointed at the
# staged <prefix>/share/jupyter (JUPYTER_PATH; nothing is registered for the user). The
# installed kernelspec names the final path of the binary, so (as install.sh does with the
# .pc file) it is pointed at the staged copy; the kernel finds the staged libtapegrad,
# headers and prelude relative to itself.
source test/scripts/lib/staged_install.sh
stage_install "$BUILD"
spec="$stage_root/share/jupyter/kernels/tapegrad/kernel.json"
[ -f "$spec" ] || { echo "FAIL: meson install put no kernelspec at <prefix>/share/jupyter/kernels/tapegrad"; exit 1; }
grep -qF "\"$stage_prefix/bin/tapegrad-kernel\"" "$spec" || { echo "FAIL: the kernelspec does not name $stage_prefix/bin/tapegrad-kernel"; cat "$spec"; exit 1; }
sed -i "s|\"$stage_prefix/bin/tapegrad-kernel\"|\"$stage_root/bin/tapegrad-kernel\"|" "$spec"
JUPYTER_PATH="$stage_root/share/jupyter" JUPYTER_RUNTIME_DIR="$stage_dir/runtime" \
    timeout 600 /usr/bin/python3 test/scripts/notebook_check.py docs/notebooks/tour.ipynb
