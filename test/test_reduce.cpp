// Reductions: sum, mean, max/min (all and along a dim), argmax/argmin, var/std.
#include "test_support.hpp"

#include <cmath>

using namespace tgtest;

namespace {
// 0, 1, ..., 23 as a float64 [2, 3, 4] tensor.
tg::Tensor iota234() { return tg::arange(24, tg::kFloat64).reshape({2, 3, 4}); }
}  // namespace

TEST_CASE("sum over all or some dims, with keepdim") {
    auto x = iota234();
    CHECK(tg::sum(x).item<double>() == 276.0);  // 23 * 24 / 2
    CHECK(tg::sum(x).dim() == 0);
    auto s1 = tg::sum(x, {1});
    CHECK(s1.sizes() == tg::Shape{2, 4});
    // x[0][:, 0] = 0, 4, 8; x[1][:, 3] = 15, 19, 23
    CHECK(values(s1) == std::vector<double>{12, 15, 18, 21, 48, 51, 54, 57});
    auto s02 = tg::sum(x, {0, -1}, /*keepdim=*/true);
    CHECK(s02.sizes() == tg::Shape{1, 3, 1});
    // for each j: sum over i, k of (12 i + 4 j + k) = 48 + 32 j + 12
    CHECK(values(s02) == std::vector<double>{60, 92, 124});
    CHECK(tg::sum(x, {}).sizes() == tg::Shape{});
    // int64 stays int64, bool counts as int64
    auto i = tg::arange(5);
    CHECK(tg::sum(i).dtype() == tg::kInt64);
    CHECK(tg::sum(i).item<std::int64_t>() == 10);
    auto b = tg::from_vector(std::vector<bool>{true, false, true, true});
    CHECK(tg::sum(b).dtype() == tg::kInt64);
    CHECK(tg::sum(b).item<std::int64_t>() == 3);
}

TEST_CASE("mean over dims") {
    auto x = iota234();
    CHECK(tg::mean(x).item<double>() == Approx(11.5));
    auto m = tg::mean(x, {2});
    CHECK(m.sizes() == tg::Shape{2, 3});
    CHECK(values(m) == std::vector<double>{1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
    auto mk = tg::mean(x, {0, 1}, true);
    CHECK(mk.sizes() == tg::Shape{1, 1, 4});
    CHECK(values(mk) == std::vector<double>{10, 11, 12, 13});
    REQUIRE_TG_ERROR(tg::mean(tg::arange(4)), "mean", "float", "int64");
}

TEST_CASE("sum and mean gradients (keepdim, non-contiguous, broadcast back)") {
    auto x = leaf({3, 4});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::sum(in[0]); }, {x});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::sum(in[0], {1}); }, {x});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::sum(in[0].t(), {0}, true); }, {x});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::mean(in[0].t(), {1}, true) * in[0].t(); },
                      {x});
    auto y = leaf({2, 3, 4});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::mean(in[0].narrow(2, 1, 2), {0, 2}); }, {y});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::mean(in[0]); }, {y});
    // hand-checked: d mean / dx = 1/N everywhere
    auto z = tg::ones({2, 2}, tg::kFloat64).requires_grad_();
    tg::mean(z).backward();
    CHECK(values(z.grad()) == std::vector<double>{0.25, 0.25, 0.25, 0.25});
}

TEST_CASE("sum and mean reject bad dims, naming the op") {
    auto x = tg::zeros({2, 3});
    REQUIRE_TG_ERROR(tg::sum(x, {2}), "sum", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::sum(x, {-3}), "sum", "dim -3");
    REQUIRE_TG_ERROR(tg::sum(x, {1, -1}), "sum", "listed twice");
    REQUIRE_TG_ERROR(tg::mean(x, {5}), "mean", "dim 5");
}

TEST_CASE("max and min over all elements") {
    auto x = tg::tensor({{3, -1, 7}, {7, 2, -5}}, tg::kFloat64);
    CHECK(tg::max(x).item<double>() == 7.0);
    CHECK(tg::min(x).item<double>() == -5.0);
    CHECK(tg::max(x).dim() == 0);
    CHECK(tg::argmax(x).item<std::int64_t>() == 2);  // first of the two 7s
    CHECK(tg::argmin(x).item<std::int64_t>() == 5);
    CHECK(tg::argmax(x).dtype() == tg::kInt64);
    // on a transposed view the flattened index is in the view's row-major order
    CHECK(tg::argmax(x.t()).item<std::int64_t>() == 1);  // x.t() = [[3,7],[-1,2],[7,-5]]
    CHECK(tg::max(tg::arange(6).reshape({2, 3})).item<std::int64_t>() == 5);
    CHECK(tg::max(tg::scalar_tensor(4.0)).item<double>() == 4.0);
}

TEST_CASE("max/min gradient goes to the first extreme element on ties") {
    auto x = tg::tensor({1.0, 3.0, 3.0, 2.0, -4.0, -4.0}, tg::kFloat64).requires_grad_();
    tg::max(x).backward();
    CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 0, 0, 0});
    x.zero_grad();
    tg::min(x).backward();
    CHECK(values(x.grad()) == std::vector<double>{0, 0, 0, 0, 1, 0});
    auto m = tg::tensor({{5.0, 5.0}, {1.0, 9.0}}, tg::kFloat64).requires_grad_();
    (tg::max(m, 1) * tg::tensor({10.0, 100.0}, tg::kFloat64)).sum().backward();
    CHECK(values(m.grad()) == std::vector<double>{10, 0, 0, 100});
}

TEST_CASE("max/min/argmax/argmin along a dim, with keepdim") {
    auto x = tg::tensor({{1, 9, 3, 9}, {8, 0, 8, -2}, {4, 4, 4, 4}}, tg::kFloat64);
    CHECK(values(tg::max(x, 1)) == std::vector<double>{9, 8, 4});
    CHECK(values(tg::min(x, 1)) == std::vector<double>{1, -2, 4});
    CHECK(values(tg::max(x, 0)) == std::vector<double>{8, 9, 8, 9});
    CHECK(values(tg::min(x, -2)) == std::vector<double>{1, 0, 3, -2});
    CHECK(values(tg::argmax(x, 1)) == std::vector<double>{1, 0, 0});  // first occurrence
    CHECK(values(tg::argmin(x, 1)) == std::vector<double>{0, 3, 0});
    CHECK(values(tg::argmax(x, 0)) == std::vector<double>{1, 0, 1, 0});
    CHECK(tg::max(x, 1, true).sizes() == tg::Shape{3, 1});
    CHECK(tg::argmax(x, 0, true).sizes() == tg::Shape{1, 4});
    CHECK(tg::argmax(x, 1).sizes() == tg::Shape{3});
    CHECK(tg::argmax(x, 1).dtype() == tg::kInt64);
    // non-contiguous input: rows of x.t() are the columns of x
    CHECK(values(tg::argmax(x.t(), 1)) == std::vector<double>{1, 0, 1, 0});
    CHECK(values(tg::max(x.t(), 0)) == std::vector<double>{9, 8, 4});
    // 3-D, middle dim
    auto y = iota234();
    CHECK(values(tg::max(y, 1)) == std::vector<double>{8, 9, 10, 11, 20, 21, 22, 23});
    CHECK(values(tg::argmin(y, 2)) == std::vector<double>{0, 0, 0, 0, 0, 0});
    // int64 input
    auto i = tg::from_vector(std::vector<std::int64_t>{3, -7, 2, 5}, {2, 2});
    CHECK(values(tg::min(i, 1)) == std::vector<double>{-7, 2});
    CHECK(tg::min(i, 1).dtype() == tg::kInt64);
}

TEST_CASE("max and argmax propagate NaN like libtorch") {
    const double nan = std::nan("");
    auto x = tg::tensor({1.0, nan, 3.0}, tg::kFloat64);
    CHECK(std::isnan(tg::max(x).item<double>()));
    CHECK(tg::argmax(x).item<std::int64_t>() == 1);
    CHECK(tg::argmin(x).item<std::int64_t>() == 1);
}

TEST_CASE("max/min gradients match finite differences") {
    auto x = leaf({3, 4});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::max(in[0]); }, {x});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::min(in[0].t()); }, {x});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::max(in[0], 1); }, {x});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::max(in[0].t(), 1, true); }, {x});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::min(in[0].narrow(1, 1, 3), 0); }, {x});
    auto y = leaf({2, 3, 4});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::min(in[0], -2, true); }, {y});
    // used twice: max of x plus x itself
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::max(in[0], 0) * tg::min(in[0], 0); }, {x});
}

TEST_CASE("max/argmax over an empty dim or a bad dim throw") {
    auto e = tg::zeros({2, 0});
    REQUIRE_TG_ERROR(tg::max(e, 1), "max", "dim 1 of size 0", "[2, 0]");
    REQUIRE_TG_ERROR(tg::argmax(e, 1), "argmax", "size 0");
    REQUIRE_TG_ERROR(tg::argmin(e, -1), "argmin", "size 0");
    REQUIRE_TG_ERROR(tg::max(e), "max", "empty", "[2, 0]");
    REQUIRE_TG_ERROR(tg::argmax(e), "argmax", "empty");
    REQUIRE_TG_ERROR(tg::min(e), "min", "empty");
    // reducing over the non-empty dim of a tensor with an empty dim is fine (empty result)
    CHECK(tg::max(e, 0).sizes() == tg::Shape{0});
    auto x = tg::zeros({2, 3});
    REQUIRE_TG_ERROR(tg::max(x, 2), "max", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::argmin(x, -3), "argmin", "dim -3");
    REQUIRE_TG_ERROR(tg::argmax(tg::from_vector(std::vector<bool>{true})), "argmax", "bool");
}

TEST_CASE("var and std: unbiased and population, several dims, keepdim") {
    auto x = tg::tensor({1.0, 2.0, 3.0, 4.0}, tg::kFloat64);
    CHECK(tg::var(x, {}).item<double>() == Approx(5.0 / 3.0));  // sum sq dev = 5
    CHECK(tg::var(x, {}, false).item<double>() == Approx(1.25));
    CHECK(tg::std(x, {}).item<double>() == Approx(std::sqrt(5.0 / 3.0)));
    CHECK(tg::std(x, {}, false).item<double>() == Approx(std::sqrt(1.25)));

    // [2, 3, 4] over dims {0, 2}: each j holds {4j..4j+3} and {12+4j..12+4j+3}
    auto y = iota234();
    auto v = tg::var(y, {0, 2});
    CHECK(v.sizes() == tg::Shape{3});
    // each slice holds 12 i + 4 j + k (i = 0..1, k = 0..3): the same spread for every j
    double ss = 0;
    for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 4; ++k) ss += (12.0 * i + k - 7.5) * (12.0 * i + k - 7.5);
    for (double e : values(v)) CHECK(e == Approx(ss / 7.0));
    auto vk = tg::var(y, {0, -1}, false, true);
    CHECK(vk.sizes() == tg::Shape{1, 3, 1});
    for (double e : values(vk)) CHECK(e == Approx(ss / 8.0));
    auto sk = tg::std(y, {1}, true, true);
    CHECK(sk.sizes() == tg::Shape{2, 1, 4});
    for (double e : values(sk)) CHECK(e == Approx(4.0));  // {a, a+4, a+8}: var 16
    CHECK(tg::var(y.to(tg::kFloat32), {1}).dtype() == tg::kFloat32);
}

TEST_CASE("var and std gradients") {
    auto x = leaf({3, 4});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::var(in[0], {}); }, {x});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::var(in[0], {1}, false); }, {x});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::std(in[0], {0}, true, true); }, {x});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::std(in[0].t(), {1}, false); }, {x});
    auto y = leaf({2, 3, 4});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::std(in[0], {0, 2}); }, {y});
    REQUIRE_GRADCHECK([](const std::vector<tg::Tensor>& in) { return tg::var(in[0].narrow(1, 1, 2), {-1, 0}, true, true); },
                      {y});
}

TEST_CASE("std at zero variance gives a zero gradient, not NaN; var of one sample is NaN") {
    auto c = tg::full({2, 3}, 2.5, tg::kFloat64).requires_grad_();
    auto s = tg::std(c, {1});
    CHECK(values(s) == std::vector<double>{0, 0});
    s.sum().backward();
    for (double g : values(c.grad())) CHECK(g == 0.0);
    // one row constant, the other not: only the constant row's gradient is zeroed
    auto m = tg::tensor({{1.0, 1.0}, {1.0, 3.0}}, tg::kFloat64).requires_grad_();
    tg::std(m, {1}, false).sum().backward();  // row 1: std = 1, d/dx = (x - mean) / (N std)
    CHECK(values(m.grad()) == std::vector<double>{0, 0, -0.5, 0.5});
    // unbiased over a single element divides by N - 1 = 0: NaN, as in libtorch
    auto one = tg::tensor({3.0}, tg::kFloat64).requires_grad_();
    CHECK(std::isnan(tg::var(one, {}).item<double>()));
    tg::var(one, {}).backward();
    CHECK(std::isnan(one.grad().item<double>()));
}

TEST_CASE("var/std reject int tensors and bad dims") {
    REQUIRE_TG_ERROR(tg::var(tg::arange(4), {}), "var", "float", "int64");
    REQUIRE_TG_ERROR(tg::std(tg::arange(4), {}), "std", "float");
    REQUIRE_TG_ERROR(tg::var(tg::zeros({2, 3}), {2}), "var", "dim 2");
    REQUIRE_TG_ERROR(tg::std(tg::zeros({2, 3}), {0, 0}), "std", "listed twice");
}

TEST_CASE("max(dim) supports double backward through gather") {
    auto x = leaf({3, 4});
    // f(x) = d/dx sum(max(x, 1)^2) = 2 max at the arg-max positions: its own gradient exists
    REQUIRE_GRADCHECK(
        [](const std::vector<tg::Tensor>& in) {
            auto m = tg::max(in[0], 1);
            return tg::autograd::grad({(m * m).sum()}, {in[0]}, {}, false, true)[0];
        },
        {x});
}

// ---- prod, cumsum, cumprod, norm, normalize ----------------------------------------------------

namespace {
using Inputs = std::vector<tg::Tensor>;
tg::Tensor f64(std::initializer_list<double> v) { return tg::tensor(v, tg::kFloat64); }
}  // namespace

TEST_CASE("prod over all elements and along a dim, with keepdim") {
    auto x = tg::arange(1, 7, 1, tg::kFloat64).reshape({2, 3});  // 1 2 3 / 4 5 6
    CHECK(tg::prod(x).item<double>() == 720.0);
    CHECK(tg::prod(x).dim() == 0);
    check_close(tg::prod(x, 1), {6, 120});
    check_close(tg::prod(x, 0), {4, 10, 18});
    CHECK(tg::prod(x, -1, true).sizes() == tg::Shape{2, 1});
    check_close(tg::prod(x.t(), 0), {6, 120});  // non-contiguous input
    check_close(x.prod(0, true), {4, 10, 18});
    CHECK(x.prod().item<double>() == 720.0);
    auto y = iota234() + 1.0;
    CHECK(tg::prod(y, 1).sizes() == tg::Shape{2, 4});
    CHECK(values(tg::prod(y, 1))[0] == 1.0 * 5 * 9);
    // int64 stays int64 (exact), bool counts as int64, empty product is 1
    CHECK(tg::prod(tg::arange(1, 11)).item<std::int64_t>() == 3628800);
    CHECK(tg::prod(tg::from_vector(std::vector<bool>{true, true})).dtype() == tg::kInt64);
    CHECK(tg::prod(tg::zeros({0}, tg::kFloat64)).item<double>() == 1.0);
    CHECK(tg::prod(f64({2.5}).reshape({}), 0).item<double>() == 2.5);
}

TEST_CASE("prod gradients: finite differences, and exact with one or several zeros") {
    tg::manual_seed(31);
    auto x = leaf({3, 4}, 0.5, 1.5);
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::prod(in[0]); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::prod(in[0], 1); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::prod(in[0].t(), 1, true) * in[0].t(); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::prod(in[0] * in[0], 0); }, (Inputs{leaf({3, 4})}));
    // gradients with zeros: one zero -> only that element gets the product of the others;
    // two zeros -> every gradient is 0 (none is NaN: nothing divides by the input)
    auto one = f64({2, 0, 3, 4}).requires_grad_();
    tg::prod(one).backward();
    check_close(one.grad(), {0, 24, 0, 0});
    auto two = f64({2, 0, 3, 0}).requires_grad_();
    tg::prod(two).backward();
    check_close(two.grad(), {0, 0, 0, 0});
    auto rows = tg::tensor({{0.0, 2.0, 3.0}, {1.0, 0.0, 0.0}, {2.0, 3.0, 4.0}}, tg::kFloat64).requires_grad_();
    tg::prod(rows, 1).sum().backward();
    check_close(rows.grad(), {6, 0, 0, 0, 0, 0, 12, 8, 6});
    // and finite differences agree at those points
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::prod(in[0], 1); }, (Inputs{rows.detach().requires_grad_()}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::prod(in[0].t(), 0); }, (Inputs{rows.detach().requires_grad_()}));
}

TEST_CASE("prod double backward against closed forms, with and without zeros") {
    // f = prod(x) of 3 elements: d2f/dxi dxj = x_k (k the third index), 0 on the diagonal
    auto x = f64({2, 3, 5}).requires_grad_();
    auto g = tg::autograd::grad({tg::prod(x)}, {x}, {}, false, /*create_graph=*/true)[0];
    check_close(g, {15, 10, 6});
    REQUIRE(g.requires_grad());
    // d/dx of sum(grad) = (x1 + x2, x0 + x2, x0 + x1)
    check_close(tg::autograd::grad({g.sum()}, {x})[0], {8, 7, 5});
    auto z = f64({0, 3, 5}).requires_grad_();
    auto gz = tg::autograd::grad({tg::prod(z)}, {z}, {}, false, true)[0];
    check_close(gz, {15, 0, 0});
    check_close(tg::autograd::grad({gz.sum()}, {z})[0], {8, 5, 3});
    auto zz = f64({0, 0, 5}).requires_grad_();
    auto gzz = tg::autograd::grad({tg::prod(zz)}, {zz}, {}, false, true)[0];
    check_close(gzz, {0, 0, 0});
    check_close(tg::autograd::grad({gzz.sum()}, {zz})[0], {5, 5, 0});
    // numerically, along a dim
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            tg::AutoGradMode on(true);
            return tg::autograd::grad({(tg::prod(in[0], 1) * tg::prod(in[0], 0).sum()).sum()}, {in[0]}, {}, false,
                                      true)[0];
        },
        (Inputs{leaf({3, 3})}));
}

TEST_CASE("cumsum and cumprod: values along any dim, non-contiguous, ints") {
    auto x = tg::arange(1, 7, 1, tg::kFloat64).reshape({2, 3});
    check_close(tg::cumsum(x, 1), {1, 3, 6, 4, 9, 15});
    check_close(tg::cumsum(x, 0), {1, 2, 3, 5, 7, 9});
    check_close(tg::cumprod(x, -1), {1, 2, 6, 4, 20, 120});
    check_close(tg::cumprod(x, 0), {1, 2, 3, 4, 10, 18});
    check_close(tg::cumsum(x.t(), 1), {1, 5, 2, 7, 3, 9});
    check_close(x.cumprod(1), {1, 2, 6, 4, 20, 120});
    check_close(x.cumsum(1), {1, 3, 6, 4, 9, 15});
    auto y = iota234();
    CHECK(tg::cumsum(y, 1).sizes() == tg::Shape{2, 3, 4});
    CHECK(values(tg::cumsum(y, 1))[4 + 1] == 1.0 + 5);  // [0][1][1] = y[0][0][1] + y[0][1][1]
    check_close(tg::cumprod(f64({2, 0, 3}), 0), {2, 0, 0});
    CHECK(tg::cumsum(tg::arange(4), 0).dtype() == tg::kInt64);
    CHECK(tg::cumsum(tg::arange(4), 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 3, 6});
    CHECK(tg::cumsum(tg::from_vector(std::vector<bool>{true, false, true}), 0).to_vector<std::int64_t>() ==
          std::vector<std::int64_t>{1, 1, 2});
    CHECK(tg::cumsum(f64({4}).reshape({}), -1).item<double>() == 4.0);
}

TEST_CASE("cumsum and cumprod gradients, cumprod exact with zeros") {
    tg::manual_seed(32);
    auto x = leaf({3, 4});
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::cumsum(in[0], 1); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::cumsum(in[0].t(), 1) * in[0].t(); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::cumprod(in[0], 1); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::cumprod(in[0].t(), 1).t() + tg::cumprod(in[0], 0); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::cumprod(in[0] * in[0], -1); }, (Inputs{leaf({2, 3, 4})}));
    // cumprod of (a, b, c) = (a, ab, abc): d sum / d(a, b, c) = (1 + b + bc, a + ac, ab)
    auto one = f64({2, 0, 3}).requires_grad_();
    tg::cumprod(one, 0).sum().backward();
    check_close(one.grad(), {1, 2 + 6, 0});
    auto two = f64({0, 4, 0, 5}).requires_grad_();
    tg::cumprod(two, 0).sum().backward();
    // (a, ab, abc, abcd) at a = c = 0: d/da = 1 + b + bc + bcd = 5, the rest 0
    check_close(two.grad(), {5, 0, 0, 0});
    auto rows = tg::tensor({{1.5, 0.0, 2.0, 0.0}, {0.0, 0.0, 3.0, 1.0}, {2.0, 1.0, 0.5, 0.0}}, tg::kFloat64);
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::cumprod(in[0], 1); }, (Inputs{rows.requires_grad_()}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::cumprod(in[0].t(), 0) * 2.0; },
                      (Inputs{rows.detach().requires_grad_()}));
    // double backward of both
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            tg::AutoGradMode on(true);
            auto y = tg::cumprod(in[0], 1) * tg::cumsum(in[0], 1);
            return tg::autograd::grad({y.sum()}, {in[0]}, {}, false, true)[0];
        },
        (Inputs{leaf({2, 4})}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            tg::AutoGradMode on(true);
            return tg::autograd::grad({tg::cumprod(in[0], 1).sum()}, {in[0]}, {}, false, true)[0];
        },
        (Inputs{rows.detach().requires_grad_()}));
}

TEST_CASE("norm: p = 1, 2, inf and general p, over dims with keepdim") {
    auto x = tg::tensor({{3.0, -4.0, 0.0}, {1.0, -1.0, 1.0}}, tg::kFloat64);
    CHECK(tg::norm(x).item<double>() == Approx(std::sqrt(28.0)).epsilon(1e-15));
    check_close(tg::norm(x, 2, {1}), {5, std::sqrt(3.0)});
    check_close(tg::norm(x, 1, {1}), {7, 3});
    check_close(tg::norm(x, INFINITY, {1}), {4, 1});
    check_close(tg::norm(x, INFINITY, {0}), {3, 4, 1});
    CHECK(tg::norm(x, INFINITY).item<double>() == 4.0);
    check_close(tg::norm(x, 3, {1}), {std::cbrt(91.0), std::cbrt(3.0)}, 1e-14);
    check_close(tg::norm(x, 0.5, {1}), {std::pow(std::sqrt(3.0) + 2, 2), 9}, 1e-14);
    CHECK(tg::norm(x, 2, {1}, true).sizes() == tg::Shape{2, 1});
    CHECK(tg::norm(x, INFINITY, {0}, true).sizes() == tg::Shape{1, 3});
    check_close(tg::norm(x.t(), 1, {0}), {7, 3});
    auto y = iota234();
    check_close(tg::norm(y, INFINITY, {0, 2}), {15, 19, 23});
    check_close(tg::norm(y, 1, {0, 2}), {60, 92, 124});
    check_close(x.norm(1, {1}), {7, 3});
}

TEST_CASE("norm gradients: finite differences, 0 at the zero vector, inf-norm ties split evenly") {
    tg::manual_seed(33);
    auto x = leaf({3, 4});
    for (double p : {1.0, 2.0, 3.0, 1.5, double(INFINITY)}) {
        INFO("p = " << p);
        REQUIRE_GRADCHECK([p](const Inputs& in) { return tg::norm(in[0], p); }, (Inputs{x}));
        REQUIRE_GRADCHECK([p](const Inputs& in) { return tg::norm(in[0].t(), p, {1}, true) * in[0].t(); }, (Inputs{x}));
        REQUIRE_GRADCHECK([p](const Inputs& in) { return tg::norm(in[0], p, {0, 2}); }, (Inputs{leaf({2, 3, 4})}));
    }
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::norm(in[0], 0.5, {1}); }, (Inputs{leaf({3, 4}, 0.2, 1.0)}));
    // the zero vector: gradient 0, not NaN (like libtorch)
    auto z = tg::zeros({3}, tg::kFloat64).requires_grad_();
    tg::norm(z).backward();
    check_close(z.grad(), {0, 0, 0});
    // inf-norm with ties: |-2| = |2| = max, the gradient is split between them with their signs
    auto t = f64({-2, 1, 2, 0.5}).requires_grad_();
    tg::norm(t, INFINITY).backward();
    check_close(t.grad(), {-0.5, 0, 0.5, 0});
    auto r = tg::tensor({{3.0, -3.0, 3.0}, {1.0, 2.0, -1.0}}, tg::kFloat64).requires_grad_();
    tg::norm(r, INFINITY, {1}).sum().backward();
    check_close(r.grad(), {1.0 / 3, -1.0 / 3, 1.0 / 3, 0, 1, 0});
    // 2-norm: a / ||a||, 1-norm: sign(a)
    auto a = f64({3, -4}).requires_grad_();
    tg::norm(a).backward();
    check_close(a.grad(), {0.6, -0.8});
    auto b = f64({3, -4, 0}).requires_grad_();
    tg::norm(b, 1).backward();
    check_close(b.grad(), {1, -1, 0});
    // double backward: the Hessian of ||a||_2 is (I - u u^T) / ||a||, u = a / ||a||
    auto h = f64({3, 4}).requires_grad_();
    auto g = tg::autograd::grad({tg::norm(h)}, {h}, {}, false, true)[0];
    check_close(tg::autograd::grad({g.select(0, 0)}, {h})[0], {(1 - 0.36) / 5, -0.48 / 5});
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            tg::AutoGradMode on(true);
            return tg::autograd::grad({tg::norm(in[0], 3.0, {1}).sum()}, {in[0]}, {}, false, true)[0];
        },
        (Inputs{x}));
}

TEST_CASE("normalize: x / max(||x||_p, eps) along dim (tf.nn.l2_normalize)") {
    namespace F = tg::nn::functional;
    auto x = tg::tensor({{3.0, 4.0}, {0.0, 0.0}, {-1.0, 1.0}}, tg::kFloat64);
    check_close(F::normalize(x), {0.6, 0.8, 0, 0, -std::sqrt(0.5), std::sqrt(0.5)});
    check_close(F::normalize(x, 1, 1), {3.0 / 7, 4.0 / 7, 0, 0, -0.5, 0.5});
    check_close(F::normalize(x, INFINITY, 0), {1, 1, 0, 0, -1.0 / 3, 0.25});
    check_close(F::normalize(x, 2, 1, 10.0), {0.3, 0.4, 0, 0, -0.1, 0.1});  // eps wins
    tg::manual_seed(34);
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::normalize(in[0]); }, (Inputs{leaf({3, 4})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::normalize(in[0].t(), 2, 0) * in[0].t(); }, (Inputs{leaf({3, 4})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::normalize(in[0], 1, -1); }, (Inputs{leaf({2, 3, 4})}));
    // a zero row has gradient g / eps there (like libtorch), never NaN
    auto z = tg::zeros({1, 3}, tg::kFloat64).requires_grad_();
    F::normalize(z).sum().backward();
    for (double v : values(z.grad())) CHECK(std::isfinite(v));
}

TEST_CASE("prod, cumsum, cumprod, norm, normalize reject bad dims, ints and p <= 0") {
    namespace F = tg::nn::functional;
    auto x = tg::zeros({2, 3});
    REQUIRE_TG_ERROR(tg::prod(x, 2), "prod", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::prod(tg::zeros({}), 1), "prod", "dim 1", "shape []");
    REQUIRE_TG_ERROR(tg::cumsum(x, -3), "cumsum", "dim -3", "[2, 3]");
    REQUIRE_TG_ERROR(tg::cumprod(x, 2), "cumprod", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::norm(x, 2, {2}), "norm", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::norm(x, 2, {1, 1}), "norm", "listed twice");
    REQUIRE_TG_ERROR(tg::norm(x, 0), "norm", "p must be positive", "0", "[2, 3]");
    REQUIRE_TG_ERROR(tg::norm(x, -1), "norm", "-1", "[2, 3]");
    REQUIRE_TG_ERROR(tg::norm(tg::ones({2, 3}, tg::kInt64)), "norm", "expected a float32 or float64", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(F::normalize(x, 2, 2), "normalize", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(F::normalize(x, 0), "normalize", "p must be positive", "[2, 3]");
    REQUIRE_TG_ERROR(F::normalize(tg::ones({2, 3}, tg::kInt64)), "normalize", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::prod(tg::Tensor()), "prod");
}

// ---- issue 18: logcumsumexp ------------------------------------------------------------------

TEST_CASE("logcumsumexp: log of running sums of exp, exact at any magnitude, gradients of every order") {
    auto x = tg::tensor({{0.5, -1.0, 2.0}, {3.0, 0.0, -2.0}}, tg::kFloat64);
    auto y = tg::logcumsumexp(x, 1);
    const std::vector<double> v = values(x);
    for (int r = 0; r < 2; ++r) {
        double acc = 0;
        for (int c = 0; c < 3; ++c) {
            acc += std::exp(v[static_cast<std::size_t>(r * 3 + c)]);
            CHECK(y.at({r, c}) == Approx(std::log(acc)).epsilon(1e-15));
        }
    }
    CHECK(values(x.logcumsumexp(0)) == values(tg::logcumsumexp(x, -2)));
    // no overflow or underflow where exp would: log(e^1000 + e^1000) = 1000 + log 2
    auto big = tg::logcumsumexp(tg::tensor({1000.0, 1000.0, -1000.0}, tg::kFloat64), 0);
    CHECK(values(big)[1] == Approx(1000 + std::log(2.0)).epsilon(1e-15));
    CHECK(values(big)[2] == Approx(1000 + std::log(2.0)).epsilon(1e-15));
    auto small = tg::logcumsumexp(tg::tensor({-1000.0, 0.0}, tg::kFloat64), 0);
    CHECK(values(small)[0] == -1000.0);
    CHECK(values(small)[1] == Approx(0.0).margin(1e-300));
    auto with_inf = tg::logcumsumexp(tg::tensor({-INFINITY, 1.0}, tg::kFloat64), 0);
    CHECK(values(with_inf) == std::vector<double>{-INFINITY, 1.0});
    CHECK(values(tg::logcumsumexp(tg::scalar_tensor(2.0, tg::kFloat64), 0)) == std::vector<double>{2.0});
    // closed-form gradient: d/dx_j sum_k out_k = sum_{k >= j} softmax(x[:k+1])_j
    auto g = tg::tensor({0.0, 1.0, 2.0}, tg::kFloat64).requires_grad_();
    tg::logcumsumexp(g, 0).sum().backward();
    const double e0 = 1, e1 = std::exp(1.0), e2 = std::exp(2.0);
    CHECK(values(g.grad())[0] == Approx(1 + e0 / (e0 + e1) + e0 / (e0 + e1 + e2)).epsilon(1e-14));
    CHECK(values(g.grad())[2] == Approx(e2 / (e0 + e1 + e2)).epsilon(1e-14));
    // large magnitudes: finite gradients that still sum to the number of outputs per element
    auto h = tg::tensor({900.0, -900.0, 905.0}, tg::kFloat64).requires_grad_();
    tg::logcumsumexp(h, 0).sum().backward();
    double total = 0;
    for (double d : values(h.grad())) {
        CHECK(std::isfinite(d));
        total += d;
    }
    CHECK(total == Approx(3.0).epsilon(1e-12));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::logcumsumexp(in[0], 1); }, (Inputs{leaf({3, 4})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::logcumsumexp(in[0].t() + in[1], 0) * in[0].t(); },
                      (Inputs{leaf({3, 4}, -3, 3), leaf({3})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::logcumsumexp(in[0], 0) * 0.001; }, (Inputs{leaf({5}, 300, 400)}));
    // double backward
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            tg::AutoGradMode on(true);
            return tg::autograd::grad({(tg::logcumsumexp(in[0], 1) * in[1]).sum()}, {in[0]}, {}, false, true)[0];
        },
        (Inputs{leaf({2, 4}, -2, 2), leaf({2, 4})}));
    REQUIRE_TG_ERROR(tg::logcumsumexp(x, 2), "logcumsumexp", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::logcumsumexp(tg::ones({2, 3}, tg::kInt64), 0), "logcumsumexp", "int64", "[2, 3]");
}
