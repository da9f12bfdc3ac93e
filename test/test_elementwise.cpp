// Elementwise arithmetic and math, comparisons and where: values against closed forms,
// dtype promotion, gradients against finite differences, second derivatives, errors.
#include "test_support.hpp"

#include <cmath>
#include <functional>
#include <limits>

using namespace tgtest;
using tg::Tensor;
using Inputs = std::vector<Tensor>;

namespace {


tg::Tensor f64(std::initializer_list<double> v) { return tg::tensor(v, tg::kFloat64); }

// d/dx sum(f(x)) as a function that gradcheck can differentiate again: checks the double
// backward of f (the first derivative is recorded with create_graph).
std::function<Tensor(const Inputs&)> first_derivative(std::function<Tensor(const Inputs&)> f, std::size_t wrt = 0) {
    return [f, wrt](const Inputs& in) {
        return tg::autograd::grad({f(in).sum()}, {in[wrt]}, {}, false, /*create_graph=*/true)[0];
    };
}

// Second derivative of sum(f(x)) elementwise (f acting elementwise): d/dx of the first.
Tensor second_derivative(const std::function<Tensor(const Tensor&)>& f, const Tensor& x) {
    auto g = tg::autograd::grad({f(x).sum()}, {x}, {}, false, true)[0];
    REQUIRE(g.requires_grad());
    return tg::autograd::grad({g.sum()}, {x})[0];
}

}  // namespace

// ---- arithmetic --------------------------------------------------------------------------

TEST_CASE("add, sub, mul, div, neg, exp, log: values") {
    auto a = f64({1, 2, 4});
    auto b = f64({2, -1, 0.5});
    check_close(a + b, {3, 1, 4.5});
    check_close(tg::add(a, b, 2.0), {5, 0, 5});
    check_close(a - b, {-1, 3, 3.5});
    check_close(tg::sub(a, b, 3.0), {-5, 5, 2.5});
    check_close(a * b, {2, -2, 2});
    check_close(a / b, {0.5, -2, 8});
    check_close(-a, {-1, -2, -4});
    check_close(tg::exp(a), {std::exp(1.0), std::exp(2.0), std::exp(4.0)});
    check_close(tg::log(a), {0, std::log(2.0), std::log(4.0)});
    check_close(tg::log(tg::exp(b)), {2, -1, 0.5}, 1e-12);
}

TEST_CASE("scalar operands on either side") {
    auto a = f64({1, 2, 4});
    check_close(a + 1.5, {2.5, 3.5, 5.5});
    check_close(1.5 + a, {2.5, 3.5, 5.5});
    check_close(a - 1, {0, 1, 3});
    check_close(10 - a, {9, 8, 6});
    check_close(tg::rsub(a, 10), {9, 8, 6});
    check_close(a * 3, {3, 6, 12});
    check_close(3 * a, {3, 6, 12});
    check_close(a / 4, {0.25, 0.5, 1});
    check_close(4 / a, {4, 2, 1});
    check_close(tg::rdiv(a, 4), {4, 2, 1});
    // a scalar keeps the tensor's dtype
    CHECK((tg::ones({2}) * 2.5).dtype() == tg::kFloat32);
    CHECK((2.5 * tg::ones({2}, tg::kFloat64)).dtype() == tg::kFloat64);
}

TEST_CASE("dtype promotion: float32 + float64, int64 with floats and scalars, bool") {
    auto f32 = tg::tensor({1.5, 2.5});
    auto f64v = f64({0.25, 0.5});
    auto i64 = tg::tensor({3, -4}, tg::kInt64);
    CHECK((f32 + f64v).dtype() == tg::kFloat64);
    CHECK((f64v * f32).dtype() == tg::kFloat64);
    check_close(f32 + f64v, {1.75, 3.0});
    CHECK((i64 + f32).dtype() == tg::kFloat32);
    check_close(i64 + f32, {4.5, -1.5});
    CHECK((i64 * 2).dtype() == tg::kInt64);
    CHECK((i64 * 0.5).dtype() == tg::kFloat32);  // a fractional scalar makes an int tensor float
    check_close(i64 * 0.5, {1.5, -2});
    auto bools = tg::from_vector(std::vector<bool>{true, false});
    CHECK((bools + bools).dtype() == tg::kInt64);
    check_close(bools + bools, {2, 0});
}

TEST_CASE("int64 tensors: exact arithmetic, true division, no crash on zero divisors") {
    auto a = tg::tensor({7, -7, 9}, tg::kInt64);
    auto b = tg::tensor({2, 2, 0}, tg::kInt64);
    CHECK((a + b).to_vector<std::int64_t>() == std::vector<std::int64_t>{9, -5, 9});
    CHECK((a * b).to_vector<std::int64_t>() == std::vector<std::int64_t>{14, -14, 0});
    CHECK((a - b).to_vector<std::int64_t>() == std::vector<std::int64_t>{5, -9, 9});
    CHECK((-a).to_vector<std::int64_t>() == std::vector<std::int64_t>{-7, 7, -9});
    auto q = a / b;  // true division, as libtorch: float32, x / 0 = inf
    CHECK(q.dtype() == tg::kFloat32);
    const auto qv = values(q);
    CHECK(qv[0] == 3.5);
    CHECK(qv[1] == -3.5);
    CHECK(std::isinf(qv[2]));
    // in-place true division cannot land in an int64 tensor: an error, not SIGFPE
    auto c = tg::tensor({1, 2}, tg::kInt64);
    REQUIRE_TG_ERROR(c.div_(tg::zeros({2}, tg::kInt64)), "div_", "int64", "[2]");
    REQUIRE_TG_ERROR(c.div_(0.0), "div_", "int64");
    CHECK(c.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2});
    auto f = f64({1, 2});
    f.div_(4.0);
    check_close(f, {0.25, 0.5});
    // integer powers stay integers; negative ones are an error, not a division by zero
    CHECK(tg::pow(a, 2).to_vector<std::int64_t>() == std::vector<std::int64_t>{49, 49, 81});
    CHECK(tg::pow(a, 2).dtype() == tg::kInt64);
    CHECK(tg::pow(b, b).to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 4, 1});
    CHECK(tg::pow(2.0, b).to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 4, 1});
    CHECK(tg::pow(a, 0.5).dtype() == tg::kFloat32);
    REQUIRE_TG_ERROR(tg::pow(b, -1), "pow", "negative integer powers");
    REQUIRE_TG_ERROR(tg::pow(a, -b), "pow", "negative integer powers");
    CHECK(tg::abs(a).to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 7, 9});
    CHECK(tg::square(a).to_vector<std::int64_t>() == std::vector<std::int64_t>{49, 49, 81});
    CHECK(tg::sign(a).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -1, 1});
    CHECK(tg::clamp(a, -3, 8).to_vector<std::int64_t>() == std::vector<std::int64_t>{7, -3, 8});
    CHECK(tg::maximum(a, b).to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 2, 9});
}

TEST_CASE("arithmetic gradients: broadcast, non-contiguous, input used twice") {
    tg::manual_seed(11);
    auto a = leaf({3, 4});
    auto b = leaf({4}, 0.5, 2.0);  // away from 0: it divides
    auto c = leaf({3, 1});
    auto pos = leaf({4, 3}, 0.5, 2.0);
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::add(in[0], in[1], 2.5) - in[2]; }, (Inputs{a, b, c}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::sub(in[0], in[1], -1.5); }, (Inputs{a, c}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return in[0] * in[1] * in[2]; }, (Inputs{a, b, c}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return in[0] / in[1]; }, (Inputs{a, b}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return in[1] / (in[0] * in[0] + 1.0); }, (Inputs{a, b}));
    // scalar overloads on both sides
    REQUIRE_GRADCHECK([](const Inputs& in) { return (2.0 - in[0]) * 3.0 + 1.0 / in[1] - in[0] / 4.0; },
                      (Inputs{a, b}));
    // non-contiguous views made inside fn
    REQUIRE_GRADCHECK([](const Inputs& in) { return in[0] * in[1].t() / in[1].t(); }, (Inputs{a, pos}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::exp(in[0].t()) + tg::log(in[1].narrow(1, 1, 2)); },
                      (Inputs{leaf({2, 4}), pos}));
    // the same input on both sides of each op
    REQUIRE_GRADCHECK([](const Inputs& in) { return in[0] * in[0] - in[0] / in[0].neg().exp(); }, (Inputs{a}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::log(in[0]) * in[0]; }, (Inputs{pos}));
    // float32 operand mixed into a float64 computation gets its gradient in float32
    auto x32 = tg::tensor({1.0, 2.0}).requires_grad_();
    auto y = (x32 * f64({3, 5})).sum();
    y.backward();
    CHECK(x32.grad().dtype() == tg::kFloat32);
    check_close(x32.grad(), {3, 5});
}

TEST_CASE("second derivatives of mul, div, exp, log") {
    tg::manual_seed(12);
    auto x = leaf({5}, 0.5, 2.0);
    auto y = leaf({5}, 0.5, 2.0);
    const auto xv = values(x), yv = values(y);
    std::vector<double> expect(5);

    // x * x * x -> 6x
    for (int i = 0; i < 5; ++i) expect[i] = 6 * xv[i];
    check_close(second_derivative([](const Tensor& t) { return t * t * t; }, x), expect, 1e-10);
    // 1 / x -> 2 / x^3
    for (int i = 0; i < 5; ++i) expect[i] = 2 / (xv[i] * xv[i] * xv[i]);
    check_close(second_derivative([](const Tensor& t) { return 1.0 / t; }, x), expect, 1e-10);
    // exp(2x) -> 4 exp(2x)
    for (int i = 0; i < 5; ++i) expect[i] = 4 * std::exp(2 * xv[i]);
    check_close(second_derivative([](const Tensor& t) { return tg::exp(t * 2.0); }, x), expect, 1e-10);
    // log(x) -> -1 / x^2
    for (int i = 0; i < 5; ++i) expect[i] = -1 / (xv[i] * xv[i]);
    check_close(second_derivative([](const Tensor& t) { return tg::log(t); }, x), expect, 1e-10);
    // mixed partial of x * y / (x + y) checked numerically, in both inputs
    auto f = [](const Inputs& in) { return in[0] * in[1] / (in[0] + in[1]) + tg::exp(in[0]) * tg::log(in[1]); };
    REQUIRE_GRADCHECK(first_derivative(f, 0), (Inputs{x, y}));
    REQUIRE_GRADCHECK(first_derivative(f, 1), (Inputs{x, y}));
}

// ---- powers and unary math ---------------------------------------------------------------

TEST_CASE("pow: tensor^scalar, tensor^tensor (broadcast), scalar^tensor") {
    auto a = f64({1, 2, 3, 4});
    check_close(tg::pow(a, 2), {1, 4, 9, 16});
    check_close(a.pow(0.5), {1, std::sqrt(2.0), std::sqrt(3.0), 2});
    check_close(tg::pow(a, -1), {1, 0.5, 1.0 / 3, 0.25});
    check_close(tg::pow(a, 0), {1, 1, 1, 1});
    auto base = tg::tensor({{1, 2}, {3, 4}}, tg::kFloat64);
    auto ex = f64({2, 3});
    check_close(tg::pow(base, ex), {1, 8, 9, 64});
    check_close(base.pow(f64({0.5, 2}).reshape({2, 1})), {1, std::sqrt(2.0), 9, 16});
    check_close(tg::pow(2.0, a), {2, 4, 8, 16});
    check_close(tg::pow(0.5, ex), {0.25, 0.125});
    CHECK(tg::pow(tg::tensor({2.0}), f64({3})).dtype() == tg::kFloat64);
}

TEST_CASE("pow gradients, including a = 0 and exponent 0 without NaN") {
    tg::manual_seed(13);
    auto pos = leaf({3, 4}, 0.5, 2.0);
    auto e = leaf({4}, -1.5, 2.5);
    auto any = leaf({3, 4});
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::pow(in[0], 3.0); }, (Inputs{any}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::pow(in[0], 2.0) + tg::pow(in[0], 1.0); }, (Inputs{any}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::pow(in[0], -0.7); }, (Inputs{pos}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::pow(in[0], in[1]); }, (Inputs{pos, e}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::pow(in[0].t(), in[1].narrow(1, 0, 3)); },
                      (Inputs{pos, leaf({4, 5})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::pow(in[0], in[0]); }, (Inputs{pos}));  // x^x
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::pow(1.7, in[0]); }, (Inputs{e}));
    // at a = 0: d/da a^2 = 0, d/db 0^b = 0 for b > 0, and exponent 0 gives a zero gradient
    auto z = f64({0, 0, 2}).requires_grad_();
    auto w = f64({2, 0, 0}).requires_grad_();
    tg::pow(z, w).sum().backward();
    check_close(z.grad(), {0, 0, 0});
    check_close(w.grad(), {0, 0, std::log(2.0)});
    auto z2 = f64({0, 1}).requires_grad_();
    tg::pow(z2, 0.0).sum().backward();
    check_close(z2.grad(), {0, 0});
}

TEST_CASE("pow second derivatives") {
    tg::manual_seed(14);
    auto x = leaf({4}, 0.5, 2.0);
    const auto xv = values(x);
    std::vector<double> expect(4);
    for (int i = 0; i < 4; ++i) expect[i] = 2.5 * 1.5 * std::pow(xv[i], 0.5);
    check_close(second_derivative([](const Tensor& t) { return tg::pow(t, 2.5); }, x), expect, 1e-10);
    for (int i = 0; i < 4; ++i) expect[i] = std::pow(3.0, xv[i]) * std::log(3.0) * std::log(3.0);
    check_close(second_derivative([](const Tensor& t) { return tg::pow(3.0, t); }, x), expect, 1e-10);
    auto e = leaf({4}, -1.0, 2.0);
    auto f = [](const Inputs& in) { return tg::pow(in[0], in[1]); };
    REQUIRE_GRADCHECK(first_derivative(f, 0), (Inputs{x, e}));
    REQUIRE_GRADCHECK(first_derivative(f, 1), (Inputs{x, e}));
}

TEST_CASE("sqrt, abs, sign, square: values and gradients") {
    tg::manual_seed(15);
    check_close(tg::sqrt(f64({0, 1, 4, 2.25})), {0, 1, 2, 1.5});
    check_close(tg::abs(f64({-2, 0, 3.5})), {2, 0, 3.5});
    check_close(tg::sign(f64({-2, 0, 3.5})), {-1, 0, 1});
    check_close(tg::square(f64({-2, 0, 3.5})), {4, 0, 12.25});
    auto pos = leaf({3, 4}, 0.5, 2.0);
    auto any = leaf({3, 4});
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::sqrt(in[0].t()) * tg::sqrt(in[0].t()); }, (Inputs{pos}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::abs(in[0].t()) + tg::square(in[0]).t(); }, (Inputs{any}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::square(in[0] - in[1]); }, (Inputs{any, leaf({4})}));
    // sign records nothing: no gradient flows through it
    auto s = tg::sign(any);
    CHECK_FALSE(s.requires_grad());
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::sign(in[0]) * in[0]; }, (Inputs{any}));  // = |x|
    // abs at 0 has subgradient 0
    auto z = f64({0, -1}).requires_grad_();
    tg::abs(z).sum().backward();
    check_close(z.grad(), {0, -1});
    // second derivatives: (sqrt x)'' = -x^(-3/2) / 4, (x^2)'' = 2
    const auto pv = values(pos);
    std::vector<double> expect;
    for (double v : pv) expect.push_back(-0.25 * std::pow(v, -1.5));
    check_close(second_derivative([](const Tensor& t) { return tg::sqrt(t); }, pos), expect, 1e-10);
    check_close(second_derivative([](const Tensor& t) { return tg::square(t); }, pos),
                std::vector<double>(12, 2.0));
}

TEST_CASE("clamp: optional bounds, gradient only inside the range (bounds inclusive)") {
    auto x = f64({-2, -1, 0, 1, 2});
    check_close(tg::clamp(x, -1.0, 1.0), {-1, -1, 0, 1, 1});
    check_close(tg::clamp(x, std::nullopt, 0.5), {-2, -1, 0, 0.5, 0.5});
    check_close(tg::clamp(x, -0.5, std::nullopt), {-0.5, -0.5, 0, 1, 2});
    check_close(x.clamp(0, 0), {0, 0, 0, 0, 0});
    CHECK(tg::clamp(tg::tensor({1, 5}, tg::kInt64), 1.5, 3).dtype() == tg::kFloat32);
    auto nan = tg::clamp(f64({std::numeric_limits<double>::quiet_NaN()}), 0.0, 1.0);
    CHECK(std::isnan(values(nan)[0]));

    auto v = x.clone().requires_grad_();
    (tg::clamp(v, -1.0, 1.0) * f64({1, 2, 3, 4, 5})).sum().backward();
    check_close(v.grad(), {0, 2, 3, 4, 0});
    auto w = x.clone().requires_grad_();
    tg::clamp(w, std::nullopt, 0.0).sum().backward();
    check_close(w.grad(), {1, 1, 1, 0, 0});

    tg::manual_seed(16);
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::clamp(in[0].t(), -0.5, 0.5) * in[0].t(); },
                      (Inputs{leaf({3, 4})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::clamp(in[0] + in[1], -0.3, std::nullopt); },
                      (Inputs{leaf({3, 4}), leaf({4})}));
    REQUIRE_TG_ERROR(tg::clamp(x, std::nullopt, std::nullopt), "clamp", "at least one", "[5]");
    REQUIRE_TG_ERROR(tg::clamp(x, 2.0, 1.0), "clamp", "min 2", "max 1");
}

TEST_CASE("maximum and minimum: broadcasting, gradients, ties split half/half") {
    auto a = tg::tensor({{1, 5}, {3, -2}}, tg::kFloat64);
    auto b = f64({2, 0});
    check_close(tg::maximum(a, b), {2, 5, 3, 0});
    check_close(tg::minimum(a, b), {1, 0, 2, -2});
    check_close(tg::maximum(tg::tensor({1, 4}, tg::kInt64), tg::tensor({2.5, 3.5})), {2.5, 4});
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK(std::isnan(values(tg::maximum(f64({nan}), f64({1})))[0]));
    CHECK(std::isnan(values(tg::minimum(f64({1}), f64({nan})))[0]));

    auto x = f64({1, 2, 3}).requires_grad_();
    auto y = f64({3, 2, 1}).requires_grad_();
    tg::maximum(x, y).sum().backward();
    check_close(x.grad(), {0, 0.5, 1});
    check_close(y.grad(), {1, 0.5, 0});
    x.zero_grad();
    y.zero_grad();
    (tg::minimum(x, y) * f64({1, 4, 1})).sum().backward();
    check_close(x.grad(), {1, 2, 0});
    check_close(y.grad(), {0, 2, 1});
    // the tie split also holds when b is broadcast: the row sum reaches b
    auto s = f64({2}).requires_grad_();
    tg::maximum(x.detach(), s).sum().backward();
    check_close(s.grad(), {1.5});

    tg::manual_seed(17);
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::maximum(in[0], in[1]); }, (Inputs{leaf({3, 4}), leaf({4})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::minimum(in[0].t(), in[1]); }, (Inputs{leaf({4, 3}), leaf({3, 1})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::maximum(in[0], in[0] * 0.5) * tg::minimum(in[0], in[0] * 0.5); },
                      (Inputs{leaf({6})}));
}

// ---- comparisons, logical ops, where -------------------------------------------------------

TEST_CASE("comparisons: bool results, broadcasting, promotion, scalar overloads, no tape") {
    auto a = tg::tensor({{1, 2, 3}, {4, 5, 6}}, tg::kFloat64).requires_grad_();
    auto b = tg::tensor({2, 2, 7}, tg::kInt64);
    auto bools = [](const Tensor& t) {
        CHECK(t.dtype() == tg::kBool);
        CHECK_FALSE(t.requires_grad());
        return t.to_vector<bool>();
    };
    using B = std::vector<bool>;
    CHECK(bools(tg::eq(a, b)) == B{0, 1, 0, 0, 0, 0});
    CHECK(bools(a != b) == B{1, 0, 1, 1, 1, 1});
    CHECK(bools(a < b) == B{1, 0, 1, 0, 0, 1});
    CHECK(bools(tg::le(a, b)) == B{1, 1, 1, 0, 0, 1});
    CHECK(bools(a > b) == B{0, 0, 0, 1, 1, 0});
    CHECK(bools(a >= b) == B{0, 1, 0, 1, 1, 0});
    CHECK(bools(a == 4.0) == B{0, 0, 0, 1, 0, 0});
    CHECK(bools(a != 4.0) == B{1, 1, 1, 0, 1, 1});
    CHECK(bools(a < 2.5) == B{1, 1, 0, 0, 0, 0});
    CHECK(bools(a <= 2) == B{1, 1, 0, 0, 0, 0});
    CHECK(bools(a > 5) == B{0, 0, 0, 0, 0, 1});
    CHECK(bools(a >= 5) == B{0, 0, 0, 0, 1, 1});
    // int64 against a fractional scalar compares as reals; float32 against its own rounding
    CHECK(bools(b < 2.5) == B{1, 1, 0});
    CHECK(bools(b == 2.5) == B{0, 0, 0});
    CHECK(bools(tg::tensor({0.1, 0.2}) == 0.1) == B{1, 0});
    // a column against a row broadcasts to a matrix
    auto col = tg::tensor({1, 2}, tg::kInt64).reshape({2, 1});
    auto m = tg::gt(col, tg::tensor({0, 1, 2}, tg::kInt64));
    CHECK(m.sizes() == tg::Shape{2, 3});
    CHECK(bools(m) == B{1, 0, 0, 1, 1, 0});
    REQUIRE_TG_ERROR(tg::lt(tg::ones({2, 3}), tg::ones({4})), "lt", "[2, 3]", "[4]");
}

TEST_CASE("logical_not, logical_and, logical_or: nonzero is true") {
    auto x = tg::tensor({0, 1, -2, 0});
    auto y = tg::from_vector(std::vector<bool>{true, true, false, false});
    using B = std::vector<bool>;
    CHECK(tg::logical_not(x).to_vector<bool>() == B{1, 0, 0, 1});
    CHECK(tg::logical_not(y).dtype() == tg::kBool);
    CHECK(tg::logical_and(x, y).to_vector<bool>() == B{0, 1, 0, 0});
    CHECK(tg::logical_or(x, y).to_vector<bool>() == B{1, 1, 1, 0});
    CHECK(tg::logical_and(x.reshape({2, 2}).t(), tg::tensor({1}, tg::kInt64)).to_vector<bool>() == B{0, 1, 1, 0});
    REQUIRE_TG_ERROR(tg::logical_or(tg::ones({3}), tg::ones({2})), "logical_or", "[3]", "[2]");
}

TEST_CASE("where: broadcasting all three, promotion, gradients in a and b") {
    auto cond = tg::from_vector(std::vector<bool>{true, false, true}, {3});
    auto a = f64({1, 2}).reshape({2, 1});
    auto b = tg::tensor({-1, -2, -3});              // float32 [3]
    auto w = tg::where(cond, a, b);
    CHECK(w.sizes() == tg::Shape{2, 3});
    CHECK(w.dtype() == tg::kFloat64);
    check_close(w, {1, -2, 1, 2, -2, 2});
    check_close(tg::where(tg::ones({2}) > 0.0, tg::scalar_tensor(7.0), tg::zeros({2})), {7, 7});
    // a non-contiguous condition
    auto c2 = tg::from_vector(std::vector<bool>{true, true, false, false}, {2, 2}).t();  // [[T, F], [T, F]]
    REQUIRE_FALSE(c2.is_contiguous());
    check_close(tg::where(c2, f64({1, 2}), f64({10, 20})), {1, 20, 1, 20});

    auto x = f64({1, 2, 3}).requires_grad_();
    auto y = f64({4}).requires_grad_();
    (tg::where(cond, x, y) * f64({1, 2, 3})).sum().backward();
    check_close(x.grad(), {1, 0, 3});
    check_close(y.grad(), {2});

    tg::manual_seed(18);
    auto fn = [](const Inputs& in) { return tg::where(in[0] > 0.0, in[0] * in[1].t().narrow(0, 1, 1), in[1].t().narrow(0, 0, 1)); };
    REQUIRE_GRADCHECK(fn, (Inputs{leaf({3, 4}), leaf({4, 2})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::where(in[0] < 0.0, in[0], in[0] * in[0]); },
                      (Inputs{leaf({5})}));
    // double backward through where: d2/dx2 of where(x > 0, x^3, -x) is 6x or 0
    auto z = f64({-1, 2}).requires_grad_();
    check_close(second_derivative([](const Tensor& t) { return tg::where(t > 0.0, t * t * t, -t); }, z), {0, 12});

    REQUIRE_TG_ERROR(tg::where(tg::ones({3}), x, x), "where", "bool condition", "float32", "[3]");
    REQUIRE_TG_ERROR(tg::where(cond, tg::ones({2}), x), "where", "[3]", "[2]");
    REQUIRE_TG_ERROR(tg::where(cond, x, tg::ones({4, 2})), "where", "[3]", "[4, 2]");
}

TEST_CASE("allclose and equal") {
    auto a = f64({1, 2, 3});
    CHECK(tg::allclose(a, a + 1e-9));
    CHECK_FALSE(tg::allclose(a, a + 1e-3));
    CHECK(tg::allclose(a, a + 1e-3, 1e-2));
    CHECK(tg::allclose(a, a + 1e-3, 0.0, 2e-3));
    CHECK(tg::allclose(tg::tensor({{1, 2, 3}, {1, 2, 3}}), a));  // broadcasts, across dtypes
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(tg::allclose(f64({inf}), f64({inf})));
    CHECK_FALSE(tg::allclose(f64({std::nan("")}), f64({std::nan("")})));
    CHECK(tg::equal(a, f64({1, 2, 3})));
    CHECK(tg::equal(a, tg::tensor({1, 2, 3}, tg::kInt64)));
    CHECK_FALSE(tg::equal(a, f64({1, 2, 3.0000001})));
    CHECK_FALSE(tg::equal(a, a.reshape({3, 1})));  // same values, different shape
    REQUIRE_TG_ERROR(tg::allclose(a, tg::ones({2})), "allclose", "[3]", "[2]");
}

// ---- errors ----------------------------------------------------------------------------------

TEST_CASE("errors name the op and the shapes") {
    auto a = tg::ones({2, 3});
    auto b = tg::ones({4});
    REQUIRE_TG_ERROR(a + b, "add", "[2, 3]", "[4]", "dim 1: 3 vs 4");
    REQUIRE_TG_ERROR(a - b, "sub", "[2, 3]", "[4]");
    REQUIRE_TG_ERROR(a * b, "mul", "[2, 3]", "[4]");
    REQUIRE_TG_ERROR(a / b, "div", "[2, 3]", "[4]");
    REQUIRE_TG_ERROR(tg::pow(a, b), "pow", "[2, 3]", "[4]");
    REQUIRE_TG_ERROR(tg::maximum(a, b), "maximum", "[2, 3]", "[4]");
    REQUIRE_TG_ERROR(tg::minimum(b, a), "minimum", "[4]", "[2, 3]");
    REQUIRE_TG_ERROR(tg::eq(a, b), "eq", "[2, 3]", "[4]");
    REQUIRE_TG_ERROR(tg::sqrt(tg::ones({2}, tg::kInt64)), "sqrt", "expected a float32 or float64", "int64");
    REQUIRE_TG_ERROR(tg::exp(tg::ones({2}, tg::kInt64)), "exp", "int64");
    REQUIRE_TG_ERROR(tg::abs(tg::from_vector(std::vector<bool>{true})), "abs", "bool");
    REQUIRE_TG_ERROR(tg::add(Tensor(), a), "add");
}

TEST_CASE("set_num_threads / get_num_threads drive OpenBLAS") {
    const int before = tg::get_num_threads();
    CHECK(before >= 1);
    tg::set_num_threads(1);
    CHECK(tg::get_num_threads() == 1);
    tg::set_num_threads(before);
    CHECK(tg::get_num_threads() == before);
    REQUIRE_TG_ERROR(tg::set_num_threads(0), "set_num_threads", "at least 1", "0");
}

// ---- sin, cos, rsqrt, reciprocal, expm1, log1p, erf ---------------------------------------------

TEST_CASE("sin, cos, rsqrt, reciprocal, expm1, log1p, erf: values against closed forms") {
    const double pi = 3.141592653589793;
    check_close(tg::sin(f64({0, pi / 6, pi / 2, -pi / 4})), {0, 0.5, 1, -std::sqrt(0.5)}, 1e-15);
    check_close(tg::cos(f64({0, pi / 3, pi, 3 * pi / 4})), {1, 0.5, -1, -std::sqrt(0.5)}, 1e-15);
    check_close(tg::rsqrt(f64({1, 4, 0.25, 16})), {1, 0.5, 2, 0.25});
    check_close(tg::reciprocal(f64({1, -4, 0.5, 8})), {1, -0.25, 2, 0.125});
    // expm1 and log1p keep the digits that exp(x) - 1 and log(1 + x) lose for tiny x
    check_close(tg::expm1(f64({0, 1, 1e-12})), {0, 1.718281828459045, 1.0000000000005e-12}, 1e-15);
    check_close(tg::log1p(f64({0, 1, 1e-12})), {0, 0.6931471805599453, 9.999999999995e-13}, 1e-15);
    // erf: tabulated values (Abramowitz & Stegun 7.1), odd, saturates at +-1; xsimd's
    // erf without FMA (the portable build's SSE2 path) is within 2.4e-15 of them
    check_close(tg::erf(f64({0, 0.5, 1, 2, -1, 10})),
                {0, 0.5204998778130465, 0.8427007929497149, 0.9953222650189527, -0.8427007929497149, 1}, 5e-15);
    // infinities and zero follow IEEE: rsqrt(0) = reciprocal(0) = inf
    CHECK(std::isinf(values(tg::rsqrt(f64({0})))[0]));
    CHECK(std::isinf(values(tg::reciprocal(f64({0})))[0]));
    // float32 keeps its dtype (the xsimd path); a transposed view takes the strided path
    auto x32 = tg::tensor({0.5, 1.0, 2.0});
    CHECK(tg::erf(x32).dtype() == tg::kFloat32);
    CHECK(values(tg::erf(x32))[1] == Approx(0.8427007929497149).epsilon(1e-6));
    auto m = tg::arange(1, 7, 1, tg::kFloat64).reshape({2, 3});
    check_close(tg::reciprocal(m.t()).reshape({6}), {1, 0.25, 0.5, 0.2, 1.0 / 3, 1.0 / 6});
    check_close(m.sin().reshape({6}), {std::sin(1.0), std::sin(2.0), std::sin(3.0), std::sin(4.0), std::sin(5.0),
                                       std::sin(6.0)});
    // the Tensor methods call the same ops
    auto p = f64({0.5, 2.0});
    check_close(p.cos(), {std::cos(0.5), std::cos(2.0)});
    check_close(p.rsqrt(), {1 / std::sqrt(0.5), 1 / std::sqrt(2.0)});
    check_close(p.reciprocal(), {2.0, 0.5});
    check_close(p.expm1(), {std::expm1(0.5), std::expm1(2.0)});
    check_close(p.log1p(), {std::log1p(0.5), std::log1p(2.0)});
    check_close(p.erf(), {std::erf(0.5), std::erf(2.0)});
}

TEST_CASE("sin, cos, rsqrt, reciprocal, expm1, log1p, erf: gradients") {
    tg::manual_seed(21);
    auto any = leaf({3, 4}, -2, 2);
    auto pos = leaf({4, 3}, 0.5, 2.0);
    auto row = leaf({4});
    // broadcast sums, non-contiguous views made inside fn, and the input used twice
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::sin(in[0] + in[1]) * tg::cos(in[0]); }, (Inputs{any, row}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::cos(in[0].t()) - tg::sin(in[1]); }, (Inputs{any, pos}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::rsqrt(in[0].t()) * in[0].t(); }, (Inputs{pos}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::reciprocal(in[0].t() + in[1]) + tg::reciprocal(in[0]).t(); },
                      (Inputs{pos, leaf({4}, 0.5, 1.0)}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::expm1(in[0].t()) * tg::expm1(in[0].t()); }, (Inputs{any}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::log1p(in[0].t()) + tg::log1p(in[0] * in[0]).t(); },
                      (Inputs{pos}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::erf(in[0].t()).t() * in[0] + tg::erf(in[1]); },
                      (Inputs{any, row}));
    // closed-form first derivatives at chosen points
    auto x = f64({0.0, 0.5, 1.0}).requires_grad_();
    tg::erf(x).sum().backward();
    check_close(x.grad(), {1.1283791670955126, 1.1283791670955126 * std::exp(-0.25),
                           1.1283791670955126 * std::exp(-1.0)});
    auto y = f64({0.25, 4.0}).requires_grad_();
    tg::rsqrt(y).sum().backward();
    check_close(y.grad(), {-0.5 * std::pow(0.25, -1.5), -0.5 * std::pow(4.0, -1.5)});
}

TEST_CASE("second derivatives of sin, cos, rsqrt, reciprocal, expm1, log1p, erf") {
    tg::manual_seed(22);
    auto x = leaf({5}, -2, 2);
    auto pos = leaf({5}, 0.5, 2.0);
    const auto xv = values(x), pv = values(pos);
    std::vector<double> expect(5);
    // (sin x)'' = -sin x, (cos x)'' = -cos x
    for (int i = 0; i < 5; ++i) expect[i] = -std::sin(xv[i]);
    check_close(second_derivative([](const Tensor& t) { return tg::sin(t); }, x), expect, 1e-12);
    for (int i = 0; i < 5; ++i) expect[i] = -std::cos(xv[i]);
    check_close(second_derivative([](const Tensor& t) { return tg::cos(t); }, x), expect, 1e-12);
    // (x^-1/2)'' = 3/4 x^-5/2, (1/x)'' = 2/x^3, (e^x - 1)'' = e^x, log(1+x)'' = -1/(1+x)^2
    for (int i = 0; i < 5; ++i) expect[i] = 0.75 * std::pow(pv[i], -2.5);
    check_close(second_derivative([](const Tensor& t) { return tg::rsqrt(t); }, pos), expect, 1e-10);
    for (int i = 0; i < 5; ++i) expect[i] = 2 / (pv[i] * pv[i] * pv[i]);
    check_close(second_derivative([](const Tensor& t) { return tg::reciprocal(t); }, pos), expect, 1e-10);
    for (int i = 0; i < 5; ++i) expect[i] = std::exp(xv[i]);
    check_close(second_derivative([](const Tensor& t) { return tg::expm1(t); }, x), expect, 1e-10);
    for (int i = 0; i < 5; ++i) expect[i] = -1 / ((1 + pv[i]) * (1 + pv[i]));
    check_close(second_derivative([](const Tensor& t) { return tg::log1p(t); }, pos), expect, 1e-10);
    // erf'' = -4x / sqrt(pi) e^(-x^2)
    for (int i = 0; i < 5; ++i) expect[i] = -2 * xv[i] * 1.1283791670955126 * std::exp(-xv[i] * xv[i]);
    check_close(second_derivative([](const Tensor& t) { return tg::erf(t); }, x), expect, 1e-10);
    // numerically, for all of them at once (mixed with a second input)
    auto f = [](const Inputs& in) {
        return tg::sin(in[0]) * tg::cos(in[1]) + tg::erf(in[0] * in[1]) + tg::rsqrt(in[1]) * tg::expm1(in[0]) +
               tg::log1p(in[1]) * tg::reciprocal(in[1]);
    };
    REQUIRE_GRADCHECK(first_derivative(f, 0), (Inputs{x, pos}));
    REQUIRE_GRADCHECK(first_derivative(f, 1), (Inputs{x, pos}));
}

TEST_CASE("unary math errors name the op, the dtype and the shape") {
    auto i = tg::ones({2, 3}, tg::kInt64);
    REQUIRE_TG_ERROR(tg::sin(i), "sin", "expected a float32 or float64", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::cos(i), "cos", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::rsqrt(i), "rsqrt", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::reciprocal(i), "reciprocal", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::expm1(i), "expm1", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::log1p(i), "log1p", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::erf(tg::from_vector(std::vector<bool>{true})), "erf", "bool", "[1]");
    REQUIRE_TG_ERROR(tg::sin(Tensor()), "sin");
}

// ---- isnan / isinf / isfinite, any / all, nan_to_num ---------------------------------------

namespace {
std::vector<bool> bools(const Tensor& t) {
    REQUIRE(t.dtype() == tg::kBool);
    std::vector<bool> out;
    for (double v : values(t)) out.push_back(v != 0.0);
    return out;
}
}  // namespace

TEST_CASE("isnan, isinf, isfinite: bool results, as functions and methods; integers are finite") {
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (auto dtype : {tg::kFloat32, tg::kFloat64}) {
        auto t = tg::tensor({1.0, nan, inf, -inf, -0.0}, dtype);
        CHECK(bools(tg::isnan(t)) == std::vector<bool>{false, true, false, false, false});
        CHECK(bools(tg::isinf(t)) == std::vector<bool>{false, false, true, true, false});
        CHECK(bools(tg::isfinite(t)) == std::vector<bool>{true, false, false, false, true});
        CHECK(bools(t.isnan()) == bools(tg::isnan(t)));
        CHECK(bools(t.isinf()) == bools(tg::isinf(t)));
        CHECK(bools(t.isfinite()) == bools(tg::isfinite(t)));
    }
    // Non-contiguous input: a transposed view keeps its logical order.
    auto m = tg::tensor({{nan, 1.0}, {2.0, inf}}, tg::kFloat64).t();
    CHECK(bools(tg::isnan(m)) == std::vector<bool>{true, false, false, false});
    CHECK(bools(tg::isinf(m)) == std::vector<bool>{false, false, false, true});
    auto ints = tg::arange(3);
    CHECK(bools(tg::isnan(ints)) == std::vector<bool>{false, false, false});
    CHECK(bools(tg::isfinite(ints)) == std::vector<bool>{true, true, true});
    CHECK(tg::isnan(tg::tensor(nan)).dim() == 0);
    REQUIRE_TG_ERROR(tg::isnan(Tensor()), "isnan");
}

TEST_CASE("any and all: over everything (0-d bool) and along a dim, with keepdim") {
    auto t = tg::tensor({{0.0, 0.0, 1.0}, {2.0, 3.0, 4.0}});
    CHECK(tg::any(t).dim() == 0);
    CHECK(tg::any(t).item<bool>());
    CHECK_FALSE(tg::all(t).item<bool>());
    CHECK(bools(tg::any(t, 1)) == std::vector<bool>{true, true});
    CHECK(bools(tg::all(t, 1)) == std::vector<bool>{false, true});
    CHECK(bools(tg::all(t, 0)) == std::vector<bool>{false, false, true});
    CHECK(bools(tg::any(t, -2)) == std::vector<bool>{true, true, true});
    CHECK(tg::any(t, 1, true).sizes() == tg::Shape{2, 1});
    CHECK(t.any().item<bool>());
    CHECK(bools(t.all(1)) == std::vector<bool>{false, true});
    CHECK_FALSE(tg::any(tg::zeros({4})).item<bool>());
    CHECK(tg::all(tg::ones({4}, tg::kInt64)).item<bool>());
    CHECK(tg::all(tg::zeros({0})).item<bool>());  // empty: all is true, any is false
    CHECK_FALSE(tg::any(tg::zeros({0})).item<bool>());
    // The idiom that replaces `t != t`:
    CHECK(tg::isnan(tg::tensor({1.0, std::nan("")})).any().item<bool>());
    REQUIRE_TG_ERROR(tg::any(t, 2), "any", "2");
    REQUIRE_TG_ERROR(tg::all(t, -3), "all");
}

TEST_CASE("nan_to_num: NaN, +Inf, -Inf replaced; defaults are the dtype's finite extremes; gradient") {
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    auto t = tg::tensor({nan, inf, -inf, 2.5}, tg::kFloat64);
    CHECK(values(tg::nan_to_num(t, 0.0, 1e3, -1e3)) == std::vector<double>{0.0, 1e3, -1e3, 2.5});
    CHECK(values(tg::nan_to_num(t)) ==
          std::vector<double>{0.0, std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(), 2.5});
    auto f = tg::tensor({nan, inf, -inf}, tg::kFloat32);
    auto r = f.nan_to_num(-1.0);
    CHECK(r.dtype() == tg::kFloat32);
    CHECK(r.to_vector<float>() ==
          std::vector<float>{-1.0f, std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest()});
    CHECK(values(tg::nan_to_num(tg::arange(3))) == std::vector<double>{0, 1, 2});
    // Gradient: 1 where the input was finite, 0 where a value was replaced.
    auto x = tg::tensor({nan, 1.5, inf, -2.0}, tg::kFloat64).requires_grad_();
    (tg::nan_to_num(x) * tg::tensor({1.0, 2.0, 3.0, 4.0}, tg::kFloat64)).sum().backward();
    CHECK(values(x.grad()) == std::vector<double>{0.0, 2.0, 0.0, 4.0});
    // On finite inputs it is the identity, first and second derivatives included.
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::nan_to_num(in[0]).pow(3); }, (Inputs{leaf({2, 3})}));
    REQUIRE_TG_ERROR(tg::nan_to_num(Tensor()), "nan_to_num");
}

TEST_CASE("exp, sigmoid, tanh of infinities, NaN and huge values: IEEE results, no undefined conversion") {
    // xsimd's exp converts x * log2(e) to an integer before its range check: exp(-inf) (a
    // masked softmax, logcumsumexp's backward) converted -inf to int64, which UBSan stops
    // on. 256 elements: the contiguous vector kernels, not the scalar path.
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::vector<double> specials = {-inf, inf, nan, -1e300, 1e300, -1e30, 1e30, -1000.5, 1000.5, -3, 0, 0.5};
    std::vector<double> x;
    while (x.size() < 256) x.insert(x.end(), specials.begin(), specials.end());
    x.resize(256);
    const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> ops = {
        {"exp", [](const Tensor& t) { return tg::exp(t); }},
        {"sigmoid", [](const Tensor& t) { return tg::sigmoid(t); }},
        {"tanh", [](const Tensor& t) { return tg::tanh(t); }}};
    for (const bool as_float : {false, true}) {
        std::vector<float> xf(x.begin(), x.end());  // 1e300 becomes inf, 1e30 stays
        const Tensor input = as_float ? tg::from_vector(xf) : tg::from_vector(x);
        const std::vector<double> xs = values(input);
        for (const auto& [name, op] : ops) {
            INFO(name << (as_float ? " float32" : " float64"));
            const std::vector<double> got = values(op(input));
            for (std::size_t i = 0; i < xs.size(); ++i) {
                const double v = xs[i];
                double expected = std::string(name) == "exp" ? std::exp(v)
                                  : std::string(name) == "tanh" ? std::tanh(v)
                                                                : 1.0 / (1.0 + std::exp(-v));
                if (as_float) expected = static_cast<float>(expected);
                INFO("x = " << v);
                if (std::isnan(expected)) {
                    CHECK(std::isnan(got[i]));
                } else if (std::isinf(expected) || expected == 0) {
                    CHECK(got[i] == expected);
                } else {
                    CHECK(got[i] == Approx(expected).epsilon(as_float ? 1e-6 : 1e-14));
                }
            }
        }
    }
}
