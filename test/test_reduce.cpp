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
    REQUIRE_TG_ERROR(tg::sum(x, {2}), "sum", "dim 2", "rank 2");
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
    REQUIRE_TG_ERROR(tg::max(x, 2), "max", "dim 2", "rank 2");
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
