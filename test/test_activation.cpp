// Activations: values against closed forms (also at extreme inputs), gradients against
// finite differences, second derivatives, and what each backward saves.
#include "test_support.hpp"

#include <cmath>
#include <functional>
#include <sstream>

using namespace tgtest;
using tg::Tensor;
using Inputs = std::vector<Tensor>;

namespace {


tg::Tensor f64(std::initializer_list<double> v) { return tg::tensor(v, tg::kFloat64); }

// Applies `closed` to each value of x.
std::vector<double> apply(const Tensor& x, const std::function<double(double)>& closed) {
    std::vector<double> out;
    for (double v : values(x)) out.push_back(closed(v));
    return out;
}

std::function<Tensor(const Inputs&)> first_derivative(std::function<Tensor(const Tensor&)> f) {
    return [f](const Inputs& in) {
        return tg::autograd::grad({f(in[0]).sum()}, {in[0]}, {}, false, /*create_graph=*/true)[0];
    };
}

Tensor second_derivative(const std::function<Tensor(const Tensor&)>& f, const Tensor& x) {
    auto g = tg::autograd::grad({f(x).sum()}, {x}, {}, false, true)[0];
    REQUIRE(g.requires_grad());
    return tg::autograd::grad({g.sum()}, {x})[0];
}

// Every activation is checked the same way: through a broadcast sum (so the gradient
// reduces), on a transposed view, and with its input used twice.
void gradcheck_activation(const std::function<Tensor(const Tensor&)>& f) {
    REQUIRE_GRADCHECK([f](const Inputs& in) { return f(in[0] + in[1]); }, (Inputs{leaf({3, 4}, -2, 2), leaf({4})}));
    REQUIRE_GRADCHECK([f](const Inputs& in) { return f(in[0].t()); }, (Inputs{leaf({4, 3}, -2, 2)}));
    REQUIRE_GRADCHECK([f](const Inputs& in) { return f(in[0]) * in[0]; }, (Inputs{leaf({6}, -2, 2)}));
}

}  // namespace

TEST_CASE("relu: values, gradient 0 at 0, saves only its output") {
    auto x = f64({-2, -0.5, 0, 0.5, 3});
    check_close(tg::relu(x), {0, 0, 0, 0.5, 3});
    CHECK(tg::relu(tg::tensor({-3, 4}, tg::kInt64)).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 4});
    auto v = x.clone().requires_grad_();
    (x.relu() * 0.0 + tg::relu(v) * f64({1, 2, 3, 4, 5})).sum().backward();
    check_close(v.grad(), {0, 0, 0, 4, 5});
    // double backward through relu's gradient: d/dx sum(c * d/dx sum(relu(x)^2)) = 2 c where x > 0
    auto x2 = f64({-1.5, 0.25, 2}).requires_grad_();
    auto g = tg::autograd::grad({tg::relu(x2).pow(2.0).sum()}, {x2}, {}, false, /*create_graph=*/true)[0];
    check_close(g, {0, 0.5, 4});
    (g * f64({3, 5, 7})).sum().backward();
    check_close(x2.grad(), {0, 10, 14});
    // the backward needs only the output: an in-place write to the input after the
    // forward does not invalidate it, one to the output does
    auto w = f64({-1, 2}).requires_grad_();
    auto h = w + 0.0;  // add saves nothing, so only relu could object to the write
    auto y = tg::relu(h);
    {
        tg::NoGradGuard guard;
        h.detach().mul_(5.0);
    }
    y.sum().backward();
    check_close(w.grad(), {0, 1});
    auto w2 = f64({1, 1}).requires_grad_();
    auto y2 = tg::relu(w2 * 1.0);
    auto y2sum = y2.sum();
    {
        tg::NoGradGuard guard;
        y2.detach().mul_(2.0);
    }
    REQUIRE_TG_ERROR(y2sum.backward(), "relu", "modified in place");
    tg::manual_seed(21);
    gradcheck_activation([](const Tensor& t) { return tg::relu(t); });
}

TEST_CASE("sigmoid: values, saturation without NaN, float32, gradients") {
    auto x = f64({-1000, -3, 0, 2, 1000});
    check_close(tg::sigmoid(x), apply(x, [](double v) { return 1 / (1 + std::exp(-v)); }));
    check_close(tg::sigmoid(x), {0, 1 / (1 + std::exp(3.0)), 0.5, 1 / (1 + std::exp(-2.0)), 1});
    auto x32 = tg::tensor({-100, -1, 0, 1, 100});
    auto s32 = tg::sigmoid(x32);
    CHECK(s32.dtype() == tg::kFloat32);
    check_close(s32, {0, 1 / (1 + std::exp(1.0)), 0.5, 1 / (1 + std::exp(-1.0)), 1}, 1e-6);
    // a non-contiguous float32 input takes the scalar path: same values
    auto m = tg::tensor({{-1, 0}, {1, 2}});
    check_close(tg::sigmoid(m.t()), {1 / (1 + std::exp(1.0)), 1 / (1 + std::exp(-1.0)), 0.5, 1 / (1 + std::exp(-2.0))},
                1e-6);
    tg::manual_seed(22);
    gradcheck_activation([](const Tensor& t) { return tg::sigmoid(t); });
    auto p = leaf({5}, -3, 3);
    check_close(second_derivative([](const Tensor& t) { return t.sigmoid(); }, p), apply(p, [](double v) {
                    const double s = 1 / (1 + std::exp(-v));
                    return s * (1 - s) * (1 - 2 * s);
                }),
                1e-10);
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::sigmoid(t); }), (Inputs{p}));
}

TEST_CASE("tanh: values, float32, gradients, second derivative") {
    auto x = f64({-30, -1, 0, 0.5, 30});
    check_close(tg::tanh(x), apply(x, [](double v) { return std::tanh(v); }));
    check_close(tg::tanh(x), {-1, std::tanh(-1.0), 0, std::tanh(0.5), 1});
    check_close(tg::tanh(tg::tensor({-2, 0, 2})), {std::tanh(-2.0), 0, std::tanh(2.0)}, 1e-6);
    tg::manual_seed(23);
    gradcheck_activation([](const Tensor& t) { return tg::tanh(t); });
    auto p = leaf({5}, -2, 2);
    check_close(second_derivative([](const Tensor& t) { return t.tanh(); }, p), apply(p, [](double v) {
                    const double t = std::tanh(v);
                    return -2 * t * (1 - t * t);
                }),
                1e-10);
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::tanh(t); }), (Inputs{p}));
}

TEST_CASE("elu: values for alpha, gradients incl. negative alpha") {
    auto x = f64({-2, -0.5, 0, 1.5});
    check_close(tg::elu(x), {std::expm1(-2.0), std::expm1(-0.5), 0, 1.5});
    check_close(tg::elu(x, 0.5), {0.5 * std::expm1(-2.0), 0.5 * std::expm1(-0.5), 0, 1.5});
    check_close(tg::elu(tg::tensor({-1, 2}), 2.0), {2 * std::expm1(-1.0), 2}, 1e-6);
    check_close(tg::elu(x.t().contiguous().reshape({2, 2}).t(), 1.0),
                {std::expm1(-2.0), 0, std::expm1(-0.5), 1.5});
    auto v = x.clone().requires_grad_();
    tg::elu(v, 2.0).sum().backward();
    check_close(v.grad(), {2 * std::exp(-2.0), 2 * std::exp(-0.5), 2, 1});
    tg::manual_seed(24);
    gradcheck_activation([](const Tensor& t) { return tg::elu(t, 1.3); });
    gradcheck_activation([](const Tensor& t) { return tg::elu(t, -0.7); });
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::elu(t, 0.8); }), (Inputs{leaf({6}, -2, 2)}));
}

TEST_CASE("leaky_relu: values, slope below zero, gradients") {
    auto x = f64({-2, 0, 3});
    check_close(tg::leaky_relu(x), {-0.02, 0, 3});
    check_close(tg::leaky_relu(x, 0.2), {-0.4, 0, 3});
    check_close(tg::leaky_relu(x, -0.5), {1, 0, 3});
    auto v = x.clone().requires_grad_();
    tg::leaky_relu(v, 0.2).sum().backward();
    check_close(v.grad(), {0.2, 0.2, 1});
    tg::manual_seed(25);
    gradcheck_activation([](const Tensor& t) { return tg::leaky_relu(t, 0.1); });
    gradcheck_activation([](const Tensor& t) { return tg::leaky_relu(t, -0.3); });
}

TEST_CASE("softplus: stable for large |x|, gradient is the sigmoid") {
    auto x = f64({-1000, -40, -1, 0, 1, 40, 1000});
    const auto got = values(tg::softplus(x));
    CHECK(got[0] == 0.0);  // e^-1000 underflows; log(1 + e^x) -> 0, never NaN
    CHECK(got[1] == Approx(std::exp(-40.0)).epsilon(1e-12));  // log1p keeps the tiny value
    CHECK(got[2] == Approx(std::log1p(std::exp(-1.0))).epsilon(1e-14));
    CHECK(got[3] == Approx(std::log(2.0)).epsilon(1e-14));
    CHECK(got[4] == Approx(std::log1p(std::exp(1.0))).epsilon(1e-14));
    CHECK(got[5] == Approx(40.0).epsilon(1e-14));
    CHECK(got[6] == 1000.0);  // naive log(1 + e^1000) would be inf
    auto f32 = values(tg::softplus(tg::tensor({-200, 0, 200})));
    CHECK(f32[0] == Approx(0.0).margin(1e-30));
    CHECK(f32[1] == Approx(std::log(2.0)).epsilon(1e-6));
    CHECK(f32[2] == Approx(200.0).epsilon(1e-6));
    // the scalar path (non-contiguous input) is equally stable
    auto m = f64({-1000, 1000, 0, 1}).reshape({2, 2}).t();
    check_close(tg::softplus(m), {0, std::log(2.0), 1000, std::log1p(std::exp(1.0))});

    auto v = f64({-1000, 0, 2, 1000}).requires_grad_();
    tg::softplus(v).sum().backward();
    check_close(v.grad(), {0, 0.5, 1 / (1 + std::exp(-2.0)), 1});
    tg::manual_seed(26);
    gradcheck_activation([](const Tensor& t) { return tg::softplus(t); });
    auto p = leaf({5}, -3, 3);
    check_close(second_derivative([](const Tensor& t) { return tg::softplus(t); }, p), apply(p, [](double z) {
                    const double s = 1 / (1 + std::exp(-z));
                    return s * (1 - s);
                }),
                1e-10);
}

TEST_CASE("activation errors name the op and the dtype") {
    auto i = tg::tensor({1, 2}, tg::kInt64);
    REQUIRE_TG_ERROR(tg::sigmoid(i), "sigmoid", "expected a float32 or float64", "int64");
    REQUIRE_TG_ERROR(tg::tanh(i), "tanh", "int64");
    REQUIRE_TG_ERROR(tg::elu(i), "elu", "int64");
    REQUIRE_TG_ERROR(tg::leaky_relu(i), "leaky_relu", "int64");
    REQUIRE_TG_ERROR(tg::softplus(i), "softplus", "int64");
    REQUIRE_TG_ERROR(tg::relu(tg::from_vector(std::vector<bool>{true})), "relu", "bool");
    REQUIRE_TG_ERROR(tg::relu(Tensor()), "relu");
}

// ---- gelu, silu, relu6, hardtanh, selu, softsign, hardsigmoid -------------------------------------

namespace {
double phi_cdf(double x) { return 0.5 * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh(double x) {
    return 0.5 * x * (1 + std::tanh(std::sqrt(2 / 3.141592653589793) * (x + 0.044715 * x * x * x)));
}
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
}  // namespace

TEST_CASE("gelu: exact erf form by default, tanh approximation on request") {
    check_close(tg::gelu(f64({1, -1, 0, 2})), {0.8413447460685429, -0.15865525393145707, 0, 1.9544997361036416}, 1e-15);
    auto x = f64({-3, -0.5, 0.25, 1, 4});
    check_close(tg::gelu(x), apply(x, [](double v) { return v * phi_cdf(v); }), 1e-15);
    check_close(tg::gelu(x, "tanh"), apply(x, gelu_tanh), 1e-15);
    check_close(tg::gelu(x, "none"), values(tg::gelu(x)), 0);
    // the tanh form is close to, but not the same as, the exact one
    CHECK(values(tg::gelu(f64({1}), "tanh"))[0] == Approx(0.8411919906082768).epsilon(1e-14));
    CHECK(std::abs(values(tg::gelu(f64({1}), "tanh"))[0] - 0.8413447460685429) > 1e-4);
    // float32 and non-contiguous inputs
    CHECK(tg::gelu(tg::tensor({1.0})).dtype() == tg::kFloat32);
    CHECK(values(tg::gelu(tg::tensor({1.0})))[0] == Approx(0.8413447460685429).epsilon(1e-6));
    auto m = tg::arange(-3, 3, 1, tg::kFloat64).reshape({2, 3});
    check_close(tg::gelu(m.t()).reshape({6}), apply(m.t().contiguous(), [](double v) { return v * phi_cdf(v); }));
    // gradients: d/dx x Phi(x) = Phi(x) + x phi(x)
    auto g = f64({-1, 0, 1.5}).requires_grad_();
    tg::gelu(g).sum().backward();
    check_close(g.grad(), apply(g.detach(), [](double v) {
                    return phi_cdf(v) + v * std::exp(-v * v / 2) / std::sqrt(2 * 3.141592653589793);
                }), 1e-14);
    gradcheck_activation([](const Tensor& t) { return tg::gelu(t); });
    gradcheck_activation([](const Tensor& t) { return tg::gelu(t, "tanh"); });
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::gelu(t); }), (Inputs{leaf({6}, -3, 3)}));
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::gelu(t, "tanh"); }), (Inputs{leaf({6}, -3, 3)}));
    // gelu'' = phi(x) (2 - x^2)
    auto s = leaf({5}, -2, 2);
    check_close(second_derivative([](const Tensor& t) { return tg::gelu(t); }, s), apply(s.detach(), [](double v) {
                    return std::exp(-v * v / 2) / std::sqrt(2 * 3.141592653589793) * (2 - v * v);
                }), 1e-12);
}

TEST_CASE("silu: x sigmoid(x), gradients and second derivative") {
    check_close(tg::silu(f64({1, -1, 0, 40, -40})),
                {0.7310585786300049, -0.2689414213699951, 0, 40, -40 / (1 + std::exp(40.0))}, 1e-15);
    gradcheck_activation([](const Tensor& t) { return tg::silu(t); });
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::silu(t); }), (Inputs{leaf({6}, -3, 3)}));
    auto x = f64({-1, 0, 2}).requires_grad_();
    tg::silu(x).sum().backward();
    check_close(x.grad(), apply(x.detach(), [](double v) {
                    const double s = 1 / (1 + std::exp(-v));
                    return s * (1 + v * (1 - s));
                }), 1e-14);
}

TEST_CASE("relu6, hardtanh, hardsigmoid: clipped values, gradient 0 outside and on the bounds") {
    check_close(tg::relu6(f64({-1, 0, 3, 6, 7})), {0, 0, 3, 6, 6});
    check_close(tg::hardtanh(f64({-2, -0.5, 0.3, 1.5})), {-1, -0.5, 0.3, 1});
    check_close(tg::hardtanh(f64({-2, -0.5, 0.3, 2.5}), -0.5, 2), {-0.5, -0.5, 0.3, 2});
    check_close(tg::hardsigmoid(f64({-4, -3, 0, 1.5, 3, 5})), {0, 0, 0.5, 0.75, 1, 1});
    // NaN passes through, as in clamp
    CHECK(std::isnan(values(tg::relu6(f64({NAN})))[0]));
    // libtorch's gradients: bounds exclusive
    auto x = f64({-1, 0, 3, 6, 7}).requires_grad_();
    tg::relu6(x).sum().backward();
    check_close(x.grad(), {0, 0, 1, 0, 0});
    auto h = f64({-2, -1, 0.5, 1, 2}).requires_grad_();
    tg::hardtanh(h).sum().backward();
    check_close(h.grad(), {0, 0, 1, 0, 0});
    auto s = f64({-4, -3, 0, 2.9, 3, 5}).requires_grad_();
    tg::hardsigmoid(s).sum().backward();
    check_close(s.grad(), {0, 0, 1.0 / 6, 1.0 / 6, 0, 0});
    // finite differences away from the kinks (scaled so both saturated sides are hit)
    gradcheck_activation([](const Tensor& t) { return tg::relu6(t * 4.0); });
    gradcheck_activation([](const Tensor& t) { return tg::hardtanh(t, -0.7, 1.3); });
    gradcheck_activation([](const Tensor& t) { return tg::hardsigmoid(t * 2.0); });
    // piecewise linear: their backward is a mask applied to g, itself differentiable in g
    auto z = leaf({6}, -2, 2);
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::relu6(t * 4.0) * t; }), (Inputs{z}));
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::hardtanh(t) * t * t; }), (Inputs{z}));
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::hardsigmoid(t * 2.0) * t; }), (Inputs{z}));
}

TEST_CASE("selu: libtorch's constants, gradients") {
    check_close(tg::selu(f64({1, -1, 0, 2})),
                {kSeluScale, kSeluScale * kSeluAlpha * (std::exp(-1.0) - 1), 0, 2 * kSeluScale}, 1e-15);
    check_close(tg::selu(f64({-1})), {-1.1113307378125625}, 1e-14);
    check_close(tg::selu(f64({-50})), {-kSeluScale * kSeluAlpha}, 1e-15);  // the negative saturation
    auto x = f64({-1, 0.5}).requires_grad_();
    tg::selu(x).sum().backward();
    check_close(x.grad(), {kSeluScale * kSeluAlpha * std::exp(-1.0), kSeluScale}, 1e-14);
    gradcheck_activation([](const Tensor& t) { return tg::selu(t); });
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::selu(t); }), (Inputs{leaf({6}, -3, 3)}));
}

TEST_CASE("softsign: x / (1 + |x|), gradients") {
    check_close(tg::softsign(f64({3, -1, 0, 1e9})), {0.75, -0.5, 0, 1e9 / (1 + 1e9)});
    auto x = f64({-3, 0, 1}).requires_grad_();
    tg::softsign(x).sum().backward();
    check_close(x.grad(), {1.0 / 16, 1, 0.25});
    gradcheck_activation([](const Tensor& t) { return tg::softsign(t); });
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::softsign(t); }), (Inputs{leaf({6}, -3, 3)}));
}

TEST_CASE("activation modules wrap the ops and print like libtorch") {
    namespace nn = tg::nn;
    auto x = f64({-4, -1, 0.5, 2, 7});
    CHECK(tg::equal(nn::GELU()(x), tg::gelu(x)));
    CHECK(tg::equal(nn::GELU(nn::GELUOptions("tanh"))(x), tg::gelu(x, "tanh")));
    CHECK(tg::equal(nn::SiLU()(x), tg::silu(x)));
    CHECK(tg::equal(nn::ReLU6()(x), tg::relu6(x)));
    CHECK(tg::equal(nn::Hardtanh()(x), tg::hardtanh(x)));
    CHECK(tg::equal(nn::Hardtanh(-2, 3)(x), tg::hardtanh(x, -2, 3)));
    CHECK(tg::equal(nn::Hardtanh(nn::HardtanhOptions().max_val(5))(x), tg::hardtanh(x, -1, 5)));
    CHECK(tg::equal(nn::SELU()(x), tg::selu(x)));
    CHECK(tg::equal(nn::Softsign()(x), tg::softsign(x)));
    CHECK(tg::equal(nn::Hardsigmoid()(x), tg::hardsigmoid(x)));
    CHECK(tg::equal(tg::nn::functional::gelu(x), tg::gelu(x)));
    std::ostringstream os;
    os << nn::Sequential(nn::GELU(), nn::SiLU(), nn::ReLU6(), nn::Hardtanh(-2, 3), nn::SELU(), nn::Softsign(),
                         nn::Hardsigmoid());
    CHECK(os.str() ==
          "Sequential(\n"
          "  (0): GELU(approximate=none)\n"
          "  (1): SiLU()\n"
          "  (2): ReLU6()\n"
          "  (3): Hardtanh(min_val=-2, max_val=3)\n"
          "  (4): SELU()\n"
          "  (5): Softsign()\n"
          "  (6): Hardsigmoid()\n"
          ")");
    // bad options throw when the module is built
    REQUIRE_TG_ERROR(nn::GELU(nn::GELUOptions("fast")), "gelu", "\"fast\"");
    REQUIRE_TG_ERROR(nn::Hardtanh(1, -1), "hardtanh", "min_val 1", "max_val -1");
}

TEST_CASE("new activation errors name the op, the dtype and the shape") {
    auto i = tg::ones({2, 3}, tg::kInt64);
    auto x = tg::ones({2, 3});
    REQUIRE_TG_ERROR(tg::gelu(i), "gelu", "expected a float32 or float64", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::gelu(x, "tan"), "gelu", "\"none\" or \"tanh\"", "\"tan\"", "[2, 3]");
    REQUIRE_TG_ERROR(tg::silu(i), "silu", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::relu6(i), "relu6", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::hardtanh(i), "hardtanh", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::hardtanh(x, 2, 2), "hardtanh", "min_val 2", "max_val 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::selu(i), "selu", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::softsign(i), "softsign", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::hardsigmoid(i), "hardsigmoid", "int64", "[2, 3]");
}

// ---- issue 18: softplus(beta, threshold), logsigmoid, hardswish, mish ----------------------

namespace {
double softplus_closed(double v, double beta = 1.0, double threshold = 20.0) {
    return beta * v > threshold ? v : std::log1p(std::exp(beta * v)) / beta;
}
double sigmoid_closed(double v) { return 1.0 / (1.0 + std::exp(-v)); }
}  // namespace

TEST_CASE("softplus takes libtorch's beta and threshold; x itself past the threshold") {
    auto x = f64({-3, -0.5, 0, 1, 2.4, 3});
    check_close(tg::softplus(x), apply(x, [](double v) { return softplus_closed(v); }), 1e-15);
    check_close(tg::softplus(x, 2.0, 5.0), apply(x, [](double v) { return softplus_closed(v, 2.0, 5.0); }), 1e-15);
    CHECK(values(tg::softplus(f64({3}), 2.0, 5.0))[0] == 3.0);  // 2 * 3 > 5: exactly x
    CHECK(values(tg::softplus(f64({-800, 800})))[1] == 800.0);
    CHECK(values(tg::softplus(f64({-800, 800})))[0] >= 0.0);
    // gradient: sigmoid(beta x) below the threshold, 1 above it
    auto g = f64({-1, 0.5, 3}).requires_grad_();
    tg::softplus(g, 2.0, 5.0).sum().backward();
    check_close(g.grad(), {sigmoid_closed(-2), sigmoid_closed(1), 1.0}, 1e-15);
    gradcheck_activation([](const Tensor& t) { return tg::softplus(t, 1.5, 2.0); });
    gradcheck_activation([](const Tensor& t) { return tg::softplus(t, -0.7); });
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::softplus(t, 2.0); }), (Inputs{leaf({6}, -3, 3)}));
    // softplus'' = beta sigmoid(beta x) (1 - sigmoid(beta x))
    auto s = leaf({5}, -2, 2);
    check_close(second_derivative([](const Tensor& t) { return tg::softplus(t, 2.0); }, s), apply(s.detach(), [](double v) {
                    return 2.0 * sigmoid_closed(2 * v) * (1 - sigmoid_closed(2 * v));
                }), 1e-12);
    REQUIRE_TG_ERROR(tg::softplus(x, 0.0), "softplus", "beta", "[6]");
}

TEST_CASE("logsigmoid, hardswish, mish: closed forms, extremes, gradients, second derivatives") {
    auto x = f64({-4, -3, -1.5, 0, 0.7, 3, 5});
    check_close(tg::logsigmoid(x), apply(x, [](double v) { return -std::log1p(std::exp(-v)); }), 1e-15);
    check_close(tg::nn::functional::logsigmoid(f64({-800, 800})), {-800, 0});
    check_close(tg::hardswish(x), apply(x, [](double v) { return v * std::min(std::max(v + 3, 0.0), 6.0) / 6; }), 1e-15);
    check_close(tg::mish(x), apply(x, [](double v) { return v * std::tanh(std::log1p(std::exp(v))); }), 1e-15);
    CHECK(values(tg::mish(f64({-800})))[0] == Approx(0).margin(1e-300));
    // closed-form gradients
    auto g = f64({-4, -1, 0.5, 4}).requires_grad_();
    tg::hardswish(g).sum().backward();
    check_close(g.grad(), {0, (2 * -1 + 3) / 6.0, (2 * 0.5 + 3) / 6.0, 1});
    auto l = f64({-2, 0, 3}).requires_grad_();
    tg::logsigmoid(l).sum().backward();
    check_close(l.grad(), apply(l.detach(), [](double v) { return 1 - sigmoid_closed(v); }), 1e-15);
    for (auto f : {std::function<Tensor(const Tensor&)>([](const Tensor& t) { return tg::logsigmoid(t); }),
                   std::function<Tensor(const Tensor&)>([](const Tensor& t) { return tg::mish(t); })}) {
        gradcheck_activation(f);
        REQUIRE_GRADCHECK(first_derivative(f), (Inputs{leaf({6}, -3, 3)}));
    }
    // hardswish is smooth inside (-3, 3): test away from the kinks
    gradcheck_activation([](const Tensor& t) { return tg::hardswish(t); });
    REQUIRE_GRADCHECK(first_derivative([](const Tensor& t) { return tg::hardswish(t); }), (Inputs{leaf({6}, -2.5, 2.5)}));
    auto s = leaf({4}, -2, 2);
    check_close(second_derivative([](const Tensor& t) { return tg::hardswish(t); }, s), {1 / 3.0, 1 / 3.0, 1 / 3.0, 1 / 3.0});
    for (auto* name : {"logsigmoid", "hardswish", "mish"}) {
        auto ints = tg::ones({2, 3}, tg::kInt64);
        const std::string n = name;
        if (n == "logsigmoid") REQUIRE_TG_ERROR(tg::logsigmoid(ints), "logsigmoid", "int64", "[2, 3]");
        if (n == "hardswish") REQUIRE_TG_ERROR(tg::hardswish(ints), "hardswish", "int64", "[2, 3]");
        if (n == "mish") REQUIRE_TG_ERROR(tg::mish(ints), "mish", "int64", "[2, 3]");
    }
}
