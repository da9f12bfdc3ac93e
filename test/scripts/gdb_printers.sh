#!/usr/bin/env bash
# gdb pretty-printers (tools/gdb/tapegrad_printers.py): gdb in batch mode stops
# test/gdb_printers_target in tg_gdb_stop() and prints its tensors. Three runs:
#   1. the script given with -x (the build-tree way, docs/repl.md);
#   2. the same with a copy of libtapegrad without debug info (a release library: the
#      printer derives the layout from tg::Shape);
#   3. auto-loaded: the file `meson install` puts under share/gdb/auto-load/<libdir>/ is
#      found by its name, "<real path of the library>-gdb.py", in gdb's scripts-directory.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
if ! command -v gdb > /dev/null; then
    echo "SKIP: gdb is not installed (tools/check installs it)"
    exit 0
fi
prog="$BUILD/test/gdb_printers_target"
if [ ! -x "$prog" ]; then
    ninja -C "$BUILD" -j2 test/gdb_printers_target || exit 1
fi
lib=$(readlink -f "$BUILD/lib/libtapegrad.so")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

commands=(-ex 'break tg_gdb_stop' -ex run -ex up
          -ex 'print t' -ex 'print tt' -ex 'print w' -ex 'print y' -ex 'print idx'
          -ex 'print mask' -ex 'print big' -ex 'print s' -ex 'print undef' -ex 'print shape'
          -ex 'print t.impl_.get()->sizes_'
          -ex 'set print elements 4' -ex 'print big' -ex 'print/r t')

fail=0
expect() {  # expect FILE LABEL FIXED-STRING
    if grep -qF -- "$3" "$1"; then echo "ok: $2"; else echo "FAIL: $2: no '$3'"; fail=1; fi
}
check_output() {  # check_output FILE RUN-NAME
    local f=$1 r=$2
    echo "---- $r"
    grep -E '^\$[0-9]+ = ' "$f"
    expect "$f" "$r: 2-D float32"   '= tg::Tensor float32 [2, 3] = [[1, 2, 3], [4, 5, 6]]'
    expect "$f" "$r: strided view"  '= tg::Tensor float32 [3, 2] = [[1, 4], [2, 5], [3, 6]]'
    expect "$f" "$r: float64 leaf"  '= tg::Tensor float64 [2], requires_grad'
    expect "$f" "$r: leaf values"   '= [0.5, -1.25]'
    expect "$f" "$r: grad_fn"       '= tg::Tensor float64 [], grad_fn = '
    expect "$f" "$r: 0-dim value"   ' = 1.8125'
    expect "$f" "$r: int64, first values" '= tg::Tensor int64 [3, 4] = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, ...'
    expect "$f" "$r: bool"          '= tg::Tensor bool [3] = [true, false, true]'
    expect "$f" "$r: long 1-D"      '= tg::Tensor float32 [100] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...'
    expect "$f" "$r: scalar"        '= tg::Tensor float32 [] = 7.5'
    expect "$f" "$r: undefined"     '= tg::Tensor (undefined)'
    expect "$f" "$r: Shape"         '= [2, 3]'
    expect "$f" "$r: print elements" '= tg::Tensor float32 [100] = [0, 1, 2, 3, ...'
    expect "$f" "$r: print/r is raw" 'impl_ = '
}

# 1. -x, library as built.
gdb -nx -batch -iex 'set debuginfod enabled off' -x tools/gdb/tapegrad_printers.py \
    "${commands[@]}" "$prog" > "$tmp/run1.txt" 2>&1
check_output "$tmp/run1.txt" "-x"
if readelf -S "$lib" | grep -q '\.debug_info'; then
    expect "$tmp/run1.txt" "-x: op name from debug info" 'grad_fn = sum'
    expect "$tmp/run1.txt" "-x: tensor name from debug info" 'name = "weights"'
fi

# 2. -x, a copy of the library without debug info, found first through LD_LIBRARY_PATH.
mkdir -p "$tmp/stripped"
objcopy --strip-debug "$lib" "$tmp/stripped/$(basename "$lib")"
for link in libtapegrad.so libtapegrad.so.0; do ln -sf "$(basename "$lib")" "$tmp/stripped/$link"; done
gdb -nx -batch -iex 'set debuginfod enabled off' -iex "set environment LD_LIBRARY_PATH=$tmp/stripped:$(dirname "$lib")" \
    -x tools/gdb/tapegrad_printers.py "${commands[@]}" "$prog" > "$tmp/run2.txt" 2>&1
check_output "$tmp/run2.txt" "no debug info"
gdb -nx -batch -iex "set environment LD_LIBRARY_PATH=$tmp/stripped:$(dirname "$lib")" -ex 'break tg_gdb_stop' -ex run \
    -ex 'info sharedlibrary' "$prog" 2>&1 | grep -q "$tmp/stripped/" \
    || { echo "FAIL: the program did not load the stripped copy"; fail=1; }

# 3. Auto-load: install, then lay the installed script out under a scripts-directory as gdb
#    expects it for this library (<dir>/<real path>-gdb.py).
#    Only the files tagged "gdb" are installed (the rest need not be built).
if meson install -C "$BUILD" --destdir "$tmp/dest" --no-rebuild --quiet --tags gdb > "$tmp/install.log" 2>&1; then
    installed=$(find "$tmp/dest" -path '*/gdb/auto-load/*' -name "libtapegrad.so.*-gdb.py" | head -1)
    opts=$(meson introspect "$BUILD" --buildoptions)
    opt() { python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]==sys.argv[1]))' "$1" <<< "$opts"; }
    prefix=$(opt prefix); libdir=$(opt libdir); datadir=$(opt datadir)
    case $libdir in /*) ;; *) libdir="$prefix/$libdir" ;; esac
    case $datadir in /*) ;; *) datadir="$prefix/$datadir" ;; esac
    # For a prefix under /usr the script goes where gdb looks without any setup: its own
    # data directory's auto-load (as gdb itself reports it); elsewhere <datadir>/gdb/auto-load.
    gdb_data=$(gdb -nx -batch -ex 'show data-directory' 2>&1 | sed -n 's/.*"\(.*\)".*/\1/p')
    case $prefix in
        /usr|/usr/*) auto_load_dir="$gdb_data/auto-load" ;;
        *) auto_load_dir="$datadir/gdb/auto-load" ;;
    esac
    want="$auto_load_dir$libdir/$(basename "$lib")-gdb.py"
    if [ -z "$installed" ]; then
        cat "$tmp/install.log"; echo "FAIL: meson install put no */gdb/auto-load/*/libtapegrad.so.*-gdb.py"; fail=1
    elif [ "${installed#"$tmp/dest"}" != "$want" ]; then
        echo "FAIL: installed as ${installed#"$tmp/dest"}, gdb looks for $want"; fail=1
    else
        echo "ok: installed as $want"
        cmp -s "$installed" tools/gdb/tapegrad_printers.py || { echo "FAIL: installed script differs"; fail=1; }
        mkdir -p "$tmp/auto$(dirname "$lib")"
        cp "$installed" "$tmp/auto$lib-gdb.py"
        gdb -nx -batch -iex 'set debuginfod enabled off' -iex "set auto-load scripts-directory $tmp/auto" \
            -iex "set auto-load safe-path $tmp/auto" "${commands[@]}" -ex 'info auto-load python-scripts' \
            "$prog" > "$tmp/run3.txt" 2>&1
        check_output "$tmp/run3.txt" "auto-load"
        expect "$tmp/run3.txt" "auto-load: gdb lists the script as loaded" "$lib-gdb.py"
    fi
else
    cat "$tmp/install.log"; echo "FAIL: meson install"; fail=1
fi

# 4. The installed case for real: in a private mount namespace (nothing outside it sees the
#    install), the prefix and gdb's auto-load directory are scratch copies; a plain
#    `meson install` fills them, and a plain gdb (-nx: no .gdbinit, default auto-load settings)
#    debugging the program against the installed library must print tensors.
case $prefix in
    /usr|/usr/*) real_install=yes ;;
    *) real_install=no ;;
esac
if [ "$real_install" = yes ] && [ "$(id -u)" -eq 0 ] && unshare -m --propagation private true 2> /dev/null; then
    mkdir -p "$tmp/ns/prefix" "$tmp/ns/auto-load"
    cp -a "$gdb_data/auto-load/." "$tmp/ns/auto-load/" 2> /dev/null || true
    unshare -m --propagation private bash -c '
        set -e
        tmp=$1 prefix=$2 gdb_data=$3 build=$4
        shift 4
        mount --bind "$tmp/ns/prefix" "$prefix"
        mount --bind "$tmp/ns/auto-load" "$gdb_data/auto-load"
        meson install -C "$build" --no-rebuild --quiet > "$tmp/ns/install.log" 2>&1
        gdb -nx -batch -iex "set debuginfod enabled off" "$@" > "$tmp/ns/run4.txt" 2>&1
    ' ns "$tmp" "$prefix" "$gdb_data" "$BUILD" \
        -iex "set environment LD_LIBRARY_PATH=$libdir" "${commands[@]}" -ex 'info sharedlibrary' \
        -ex 'info auto-load python-scripts' "$prog" || true
    f="$tmp/ns/run4.txt"
    if [ ! -s "$f" ]; then
        cat "$tmp/ns/install.log" 2> /dev/null; echo "FAIL: the real-install run produced nothing"; fail=1
    else
        check_output "$f" "installed, plain gdb"
        expect "$f" "installed: the program loaded the installed library" "$libdir/libtapegrad.so"
        expect "$f" "installed: gdb auto-loaded the installed script" "$want"
    fi
else
    echo "note: the real-install run needs root, a mount namespace and a prefix under /usr; skipped"
fi
if [ "$fail" -ne 0 ]; then
    for f in "$tmp"/run*.txt; do echo "==== $f"; cat "$f"; done
fi
exit $fail
