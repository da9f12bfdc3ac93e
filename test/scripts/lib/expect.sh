# Sourced by the REPL script tests (repl.sh, repl_host.sh) after a session's output is in
# the file $out: `expect LABEL FIXED-STRING` prints "ok: LABEL" when the output contains the
# string, else "FAIL: ..." and sets fail=1 (the script ends with `exit $fail`).
fail=0
expect() {
    if grep -qF -- "$2" "$out"; then echo "ok: $1"; else echo "FAIL: $1: no '$2' in the output"; fail=1; fi
}
