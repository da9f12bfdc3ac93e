# Sourced by the script tests that check the installed copy (install.sh, notebook.sh):
# `stage_install BUILD` runs `meson install --destdir` into a temporary folder (removed at
# exit) and sets $stage_root (the staged <prefix>), $stage_prefix (the configured prefix)
# and $stage_libdir (where libtapegrad.so landed).
stage_install() {
    local build=$1
    stage_dir=$(mktemp -d)
    trap 'rm -rf "$stage_dir"' EXIT
    meson install -C "$build" --destdir "$stage_dir" --no-rebuild --quiet
    stage_prefix=$(meson introspect "$build" --buildoptions | /usr/bin/python3 -c \
        'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
    stage_root="$stage_dir$stage_prefix"
    stage_libdir=$(dirname "$(find "$stage_root" -name 'libtapegrad.so' | head -1)")
}
