#!/usr/bin/env bash
# tapegrad-repl (interactive/) survives mistakes: a scripted session through tools/repl
# makes three everyday errors (a shape error, a bad index, backward() of a non-scalar)
# plus a compile error and a std::exception, and after each one computes a gradient from
# tensors defined before it (checked against the closed form). A failed declaration is
# undone, so its name can be declared again. Crashes in the input's own code (a null
# pointer, runaway recursion, a division by zero, abort()) are survived too. Exit status 0
# at the end. Then Ctrl-C interrupts an endless loop.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/lib/install.sh
BUILD=${BUILD:-build}

install_packages "${INTERACTIVE_PACKAGES[@]}" || true
if ! ninja -C "$BUILD" -t targets all 2>/dev/null | grep '^interactive/tapegrad-repl:' > /dev/null; then
    echo "FAIL: $BUILD has no interactive/tapegrad-repl target (are ${INTERACTIVE_PACKAGES[*]} installed?)"
    exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# w = [[1, 2], [3, 4]], x = [0.5, -1].
#   L1 = sum(w x)        -> dL1/dw = [[0.5, -1], [0.5, -1]]
#   L2 = sum(w[1]^2)     -> dL2/dw = [[0, 0], [6, 8]]
#   L3 = sum(w^3)        -> dL3/dw = 3 w^2 = [[3, 12], [27, 48]]
#   L4 = sum(x * w[0])   -> dL4/dw = [[0.5, -1], [0, 0]]
BUILD="$BUILD" JOBS=${JOBS:-2} timeout 300 tools/repl > "$out" 2>&1 <<'SESSION'
auto w = tg::tensor({{1.0, 2.0}, {3.0, 4.0}}).requires_grad_();
auto x = tg::tensor({0.5, -1.0});
auto y = tg::matmul(w, tg::ones({3, 1}));
auto y = tg::matmul(w, x.unsqueeze(1)).sum();
std::cout << "grad 1 " << tg::autograd::grad({y}, {w})[0] << std::endl;
auto r = w[5];
auto r = w[1];
std::cout << "grad 2 " << tg::autograd::grad({(r * r).sum()}, {w})[0] << std::endl;
(w * 2).backward();
// a multi-line input: a function spanning lines
tg::Tensor cube_grad(const tg::Tensor& t) {
    auto loss = (t * t * t).sum();
    return tg::autograd::grad({loss}, {t})[0];
}
std::cout << "grad 3 " << cube_grad(w) << std::endl;
int z = undeclared_name + 1;
std::vector<int> empty; empty.at(3);
std::cout << "grad 4 " << tg::autograd::grad({(x * w[0]).sum()}, {w})[0] << std::endl;
int* nowhere = nullptr; *nowhere = 1;
long runaway(long n) { return n == -1 ? 0 : runaway(n + 1) + 1; }
runaway(0);
volatile int zero = 0; int q = 1 / zero;
std::abort();
std::cout << "grad 5 " << tg::autograd::grad({(w * w).sum()}, {w})[0] << std::endl;
show(y);
plot(std::vector<double>{3, 2, 1.5}, "loss");
%quit
std::cout << "after quit" << std::endl;
SESSION
status=$?
cat "$out"
echo "-- tools/repl exited with $status"

source test/scripts/lib/expect.sh
expect "shape error reported"   "tg::Error: matmul: shapes [2, 2] and [3, 1]"
expect "grad after shape error" "grad 1 [[0.5, -1],"
expect "grad 1 row 2"           " [0.5, -1]]"
expect "bad index reported"     "tg::Error: "
expect "the index is named"     "index 5 is out of range"
expect "grad after bad index"   "grad 2 [[0, 0],"
expect "grad 2 row 2"           " [6, 8]]"
expect "non-scalar backward"    "tg::Error: backward: a gradient can be created implicitly only for one-element outputs"
expect "grad after backward"    "grad 3 [[3, 12],"
expect "grad 3 row 2"           " [27, 48]]"
expect "compile error shown"    "use of undeclared identifier 'undeclared_name'"
expect "std::exception named"   "std::out_of_range: "
expect "grad after those"       "grad 4 [[0.5, -1],"
expect "grad 4 row 2"           " [0, 0]]"
expect "null pointer survived"  "SIGSEGV: the input crashed (Segmentation fault) and was abandoned"
expect "division by 0 survived" "SIGFPE: the input crashed"
expect "abort() survived"       "SIGABRT: the input crashed"
if [ "$(grep -c '^SIGSEGV: the input crashed' "$out")" -ne 2 ]; then echo "FAIL: expected two SIGSEGV lines (null pointer, stack overflow)"; fail=1; fi
expect "grad after crashes"     "grad 5 [[2, 4],"
expect "grad 5 row 2"           " [6, 8]]"
expect "earlier value intact"   "[ float32 [], grad_fn=sum ]"
# In a terminal, plot writes its PNG to a file and names it.
png=$(grep -oE '^<line chart "loss": 1 series, 3 points> -> /[^ ]+\.png$' "$out" | sed 's/.*-> //')
if [ -n "$png" ] && [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
    echo "ok: plot wrote a PNG file"
else
    echo "FAIL: plot: no PNG file named in the output"; fail=1
fi
rm -f "$png"
if [ "$(grep -c '^tg::Error: ' "$out")" -ne 3 ]; then echo "FAIL: expected exactly three tg::Error lines"; fail=1; fi
if grep -qF "after quit" "$out"; then echo "FAIL: %quit did not end the session"; fail=1; fi
if grep -qE "^Segmentation|terminate called|Symbols not found|Failed to materialize" "$out"; then
    echo "FAIL: the host crashed or failed to link"; fail=1
fi
if [ "$status" -ne 0 ]; then echo "FAIL: exit status $status"; fail=1; fi

# Ctrl-C: SIGINT stops an endless loop of ops at its next op (tg::Interrupted), the session
# goes on with everything defined before; a Ctrl-C at the prompt changes nothing.
session_pipe=$(mktemp -u)
mkfifo "$session_pipe"
trap 'rm -f "$out" "$session_pipe"' EXIT
: > "$out"
"$BUILD/interactive/tapegrad-repl" < "$session_pipe" > "$out" 2>&1 &
host=$!
exec 3> "$session_pipe"
wait_for() {  # the host printed $1 (within 120 s)
    for _ in $(seq 1200); do grep -qF -- "$1" "$out" && return 0; sleep 0.1; done
    return 1
}
cat >&3 <<'SESSION'
auto a = tg::tensor({1.0, 2.0}).requires_grad_();
long steps = 0;
std::cout << "looping" << std::endl; for (;;) { auto t = a * 2; ++steps; }
SESSION
wait_for looping && sleep 0.5
kill -INT $host
wait_for "tg::Interrupted" && sleep 0.2
kill -INT $host  # at the prompt
sleep 0.5
cat >&3 <<'SESSION'
std::cout << "steps " << (steps > 0 ? "counted" : "none") << ", grad " << tg::autograd::grad({(a * a).sum()}, {a})[0] << std::endl;
%quit
SESSION
exec 3>&-
wait $host
status=$?
cat "$out"
expect "Ctrl-C stops the loop"     "tg::Interrupted: interrupted (Ctrl-C)"
expect "the session goes on"       "steps counted, grad [2, 4]"
if [ "$status" -ne 0 ]; then echo "FAIL: after Ctrl-C: exit status $status"; fail=1; fi
exit $fail
