#!/usr/bin/env bash
# tools/repl's clang-repl fallback (TG_REPL=clang-repl) with a scripted session on stdin: a Linear layer with known weights, an MSE
# loss, backward, the printed gradient checked against the hand-computed one; then a shape
# error inside TG_TRY must print the tg::Error message and the session must go on.
# clang-repl 19 exits 0 even after errors, so the output is what is asserted. (No top-level
# { block } or try: they crash clang-repl 16; CLANG_REPL=clang-repl-16 runs this with 16.)
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/lib/install.sh
BUILD=${BUILD:-build}

have_repl() { command -v clang-repl-19 > /dev/null || command -v clang-repl-16 > /dev/null; }
if ! have_repl; then
    install_packages clang-tools-19 || true
    if ! have_repl; then
        echo "SKIP: no clang-repl here and clang-tools-19 could not be installed"
        exit 0
    fi
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# y = x W^T + b with W = [[0.1, 0.2, 0.3], [-0.1, 0, 0.1]], b = [0, 0.5], x = [[1, 2, 3], [4, 5, 6]]:
# y = [[1.4, 0.7], [3.2, 0.7]]; mse(y, 0) = 13.18 / 4 = 3.295; dL/dy = y / 2;
# dL/dW = (dL/dy)^T x = [[7.1, 9.4, 11.7], [1.75, 2.45, 3.15]]; dL/db = [2.3, 0.7].
TG_REPL=clang-repl BUILD="$BUILD" JOBS=${JOBS:-2} timeout 300 tools/repl > "$out" 2>&1 <<'SESSION'
tg::nn::Linear lin(3, 2);
std::cout << "module: " << lin << std::endl;
void set_weights(tg::nn::Linear& l) { tg::NoGradGuard no_grad; l.weight.copy_(tg::tensor({{0.1, 0.2, 0.3}, {-0.1, 0.0, 0.1}})); l.bias.copy_(tg::tensor({0.0, 0.5})); }
set_weights(lin);
auto x = tg::tensor({{1, 2, 3}, {4, 5, 6}});
auto y = lin(x);
show(y);
auto loss = tg::nn::functional::mse_loss(y, tg::zeros({2, 2}));
std::cout << "loss = " << loss.item<float>() << std::endl;
loss.backward();
show(lin.weight.grad());
show(lin.bias.grad());
show(lin.named_parameters());
TG_TRY(show(lin(tg::ones({2, 4}))));
std::cout << "still running: " << 6 * 7 << std::endl;
show(x.sizes());
SESSION
status=$?
cat "$out"
echo "-- tools/repl exited with $status"

source test/scripts/lib/expect.sh
expect "module prints"         "module: Linear(in_features=3, out_features=2, bias=true)"
expect "forward values"        "[[1.4, 0.7],"
expect "forward row 2"         " [3.2, 0.7]]"
expect "forward grad_fn"       "[ float32 [2, 2], grad_fn="
expect "loss"                  "loss = 3.295"
expect "weight grad row 1"     "[[7.1, 9.4, 11.7],"
expect "weight grad row 2"     " [1.75, 2.45, 3.15]]"
expect "weight grad shape"     "[ float32 [2, 3] ]"
expect "bias grad"             "[2.3, 0.7]"
expect "named parameters"      "weight  [2, 3] float32, requires_grad"
expect "shape error reported"  "tg::Error: "
expect "error names the shape" "[2, 4]"
expect "session went on"       "still running: 42"
expect "shape prints"          "[2, 3]"
if grep -qE "error: Parsing failed|Symbols not found|Failed to materialize|Segmentation|terminate called" "$out"; then
    echo "FAIL: clang-repl reported an error"; fail=1
fi

# An error outside TG_TRY ends clang-repl (abort); the prelude's terminate handler must
# still print the message and the hint, and nothing after it may run.
TG_REPL=clang-repl BUILD="$BUILD" JOBS=${JOBS:-2} timeout 300 tools/repl > "$out" 2>&1 <<'SESSION'
auto a = tg::ones({2, 3});
std::cout << "before" << std::endl;
auto bad = tg::matmul(a, a);
std::cout << "not reached" << std::endl;
SESSION
status=$?
echo "-- second session:"; cat "$out"; echo "-- exited with $status"
expect "uncaught: message"     "tg::Error: matmul: shapes [2, 3] and [2, 3]"
expect "uncaught: hint"        "wrap statements that may throw in TG_TRY(...)"
if grep -qF "not reached" "$out"; then echo "FAIL: the session went on after an uncaught error"; fail=1; fi
if [ "$status" -eq 0 ]; then echo "FAIL: exit status 0 after an uncaught error"; fail=1; fi
exit $fail
