// tg::nn::init: every initializer's bounds and moments checked statistically.
#include <cmath>

#include "test_support.hpp"

using namespace tg;
namespace init = tg::nn::init;

namespace {

struct Moments {
    double mean = 0, var = 0, min = 0, max = 0;
};

Moments moments(const Tensor& t) {
    const std::vector<double> v = t.to_vector<double>();
    Moments m;
    m.min = m.max = v[0];
    for (double x : v) {
        m.mean += x;
        m.min = std::min(m.min, x);
        m.max = std::max(m.max, x);
    }
    m.mean /= static_cast<double>(v.size());
    for (double x : v) m.var += (x - m.mean) * (x - m.mean);
    m.var /= static_cast<double>(v.size());
    return m;
}

}  // namespace

TEST_CASE("init: fans and gains") {
    auto [fi, fo] = init::calculate_fan_in_and_fan_out(empty({10, 20}));
    CHECK(fi == 20);
    CHECK(fo == 10);
    auto [ci, co] = init::calculate_fan_in_and_fan_out(empty({8, 3, 5, 5}));
    CHECK(ci == 3 * 25);
    CHECK(co == 8 * 25);
    REQUIRE_TG_ERROR(init::calculate_fan_in_and_fan_out(empty({7})), "calculate_fan_in_and_fan_out",
                     "[7]", "fewer than 2 dims");
    REQUIRE_TG_ERROR(init::xavier_uniform_(empty({7})), "[7]");
    CHECK(init::calculate_gain(init::Nonlinearity::ReLU) == Approx(std::sqrt(2.0)));
    CHECK(init::calculate_gain(init::Nonlinearity::Tanh) == Approx(5.0 / 3.0));
    CHECK(init::calculate_gain(init::Nonlinearity::Sigmoid) == 1.0);
    CHECK(init::calculate_gain(init::Nonlinearity::LeakyReLU, std::sqrt(5.0)) ==
          Approx(std::sqrt(1.0 / 3.0)));
}

TEST_CASE("init: constants, eye and in-place semantics") {
    Tensor w = empty({3, 4}).requires_grad_();
    Tensor r = init::constant_(w, 0.25);
    CHECK(r.is_same(w));           // returns the tensor it filled
    CHECK(w.requires_grad());      // still a leaf parameter
    CHECK(w.grad_fn() == nullptr);  // filling is not recorded
    for (double v : tgtest::values(w)) CHECK(v == 0.25);
    init::zeros_(w);
    for (double v : tgtest::values(w)) CHECK(v == 0.0);
    init::ones_(w);
    for (double v : tgtest::values(w)) CHECK(v == 1.0);
    init::eye_(w);
    CHECK(tgtest::values(w) == std::vector<double>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0});
    // An integer tensor can be filled with a constant, not with random floats.
    Tensor i = zeros({2}, kInt64);
    init::constant_(i, 3);
    CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 3});
    REQUIRE_TG_ERROR(init::uniform_(i), "uniform_");
    REQUIRE_TG_ERROR(init::normal_(Tensor()), "normal_");
}

TEST_CASE("init: uniform_ and normal_ moments") {
    manual_seed(1);
    Moments u = moments(init::uniform_(empty({200000}, kFloat64), -2.0, 4.0));
    CHECK(u.min >= -2.0);
    CHECK(u.max < 4.0);
    CHECK(u.min < -1.99);
    CHECK(u.max > 3.99);
    CHECK(u.mean == Approx(1.0).margin(0.02));
    CHECK(u.var == Approx(36.0 / 12.0).epsilon(0.02));
    Moments n = moments(init::normal_(empty({200000}), 3.0, 0.5));
    CHECK(n.mean == Approx(3.0).margin(0.005));
    CHECK(std::sqrt(n.var) == Approx(0.5).epsilon(0.01));
}

TEST_CASE("init: truncated_normal_ stays within 2 stddev (TF-1 resampling)") {
    manual_seed(2);
    Tensor t = init::truncated_normal_(empty({200000}, kFloat64), 1.0, 0.1);
    Moments m = moments(t);
    CHECK(m.min >= 1.0 - 0.2);
    CHECK(m.max <= 1.0 + 0.2);
    // Values reach close to both cut-offs (resampled, not clamped: no pile-up at the edge).
    CHECK(m.min < 0.8 + 0.002);
    CHECK(m.max > 1.2 - 0.002);
    std::int64_t at_edge = 0;
    for (double v : tgtest::values(t))
        if (std::abs(std::abs(v - 1.0) - 0.2) < 1e-9) ++at_edge;
    CHECK(at_edge == 0);
    CHECK(m.mean == Approx(1.0).margin(0.001));
    // The std of a normal truncated at +-2 sigma is 0.8796 sigma.
    CHECK(std::sqrt(m.var) == Approx(0.1 * 0.8796).epsilon(0.01));
}

TEST_CASE("init: xavier uniform and normal") {
    manual_seed(3);
    const double fan_in = 300, fan_out = 200;
    Tensor w = empty({200, 300});
    Moments u = moments(init::xavier_uniform_(w, 2.0));
    const double bound = 2.0 * std::sqrt(6.0 / (fan_in + fan_out));
    CHECK(u.min >= -bound);
    CHECK(u.max <= bound);
    CHECK(u.max > 0.99 * bound);
    CHECK(u.min < -0.99 * bound);
    CHECK(u.var == Approx(bound * bound / 3.0).epsilon(0.02));
    Moments n = moments(init::xavier_normal_(w));
    CHECK(n.mean == Approx(0.0).margin(0.002));
    CHECK(std::sqrt(n.var) == Approx(std::sqrt(2.0 / (fan_in + fan_out))).epsilon(0.02));
}

TEST_CASE("init: kaiming uniform and normal, fan modes") {
    manual_seed(4);
    Tensor w = empty({64, 16, 5, 5});  // fan_in 400, fan_out 1600
    const double a = std::sqrt(5.0);
    Moments u = moments(init::kaiming_uniform_(w, a));
    const double bound = std::sqrt(6.0 / ((1.0 + a * a) * 400.0));  // = 1/sqrt(400)
    CHECK(bound == Approx(0.05));
    CHECK(u.min >= -bound);
    CHECK(u.max <= bound);
    CHECK(u.max > 0.99 * bound);
    CHECK(u.var == Approx(bound * bound / 3.0).epsilon(0.02));

    Moments out = moments(init::kaiming_uniform_(w, 0.0, init::FanMode::FanOut,
                                                 init::Nonlinearity::ReLU));
    const double bound_out = std::sqrt(6.0 / 1600.0);
    CHECK(out.max <= bound_out);
    CHECK(out.max > 0.99 * bound_out);

    Moments n = moments(init::kaiming_normal_(w, 0.0, init::FanMode::FanIn,
                                              init::Nonlinearity::ReLU));
    CHECK(n.mean == Approx(0.0).margin(0.002));
    CHECK(std::sqrt(n.var) == Approx(std::sqrt(2.0 / 400.0)).epsilon(0.02));
    Moments t = moments(init::kaiming_normal_(w, 0.0, init::FanMode::FanOut,
                                              init::Nonlinearity::Tanh));
    CHECK(std::sqrt(t.var) == Approx(5.0 / 3.0 / std::sqrt(1600.0)).epsilon(0.02));
}

namespace {

// max |(A A^T or A^T A) - gain^2 I| over the smaller Gram matrix of a 2-D tensor.
double orthogonality_error(const Tensor& q, double gain) {
    const bool wide = q.size(0) <= q.size(1);
    Tensor gram = wide ? mm(q, q.t()) : mm(q.t(), q);
    const std::int64_t n = gram.size(0);
    double worst = 0;
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < n; ++j)
            worst = std::max(worst, std::abs(gram.at({i, j}) - (i == j ? gain * gain : 0.0)));
    return worst;
}

}  // namespace

TEST_CASE("init: orthogonal_ gives Q^T Q = I (tall, wide, square, 4-D)") {
    manual_seed(5);
    Tensor tall = init::orthogonal_(empty({50, 20}, kFloat64));
    CHECK(orthogonality_error(tall, 1.0) < 1e-10);
    Tensor wide = init::orthogonal_(empty({20, 50}, kFloat64), 3.0);
    CHECK(orthogonality_error(wide, 3.0) < 1e-9);
    Tensor square = init::orthogonal_(empty({30, 30}, kFloat64));
    CHECK(orthogonality_error(square, 1.0) < 1e-10);
    CHECK(orthogonality_error(square.t().contiguous(), 1.0) < 1e-10);  // Q Q^T too
    Tensor conv = init::orthogonal_(empty({8, 3, 3, 3}));
    CHECK(orthogonality_error(conv.reshape({8, 27}), 1.0) < 1e-5);
    // Not a fixed matrix: two draws differ, and the entries are spread like 1/sqrt(n).
    Tensor again = init::orthogonal_(empty({30, 30}, kFloat64));
    CHECK_FALSE(allclose(square, again));
    CHECK(std::sqrt(moments(square).var) == Approx(1.0 / std::sqrt(30.0)).epsilon(0.1));
    REQUIRE_TG_ERROR(init::orthogonal_(empty({5})), "orthogonal_", "[5]");
}

TEST_CASE("init: Initializer factories fill like the in-place forms") {
    Tensor w = empty({4, 6});
    init::constant(1.5)(w);
    for (double v : tgtest::values(w)) CHECK(v == 1.5);
    manual_seed(9);
    init::xavier_uniform()(w);
    const double bound = std::sqrt(6.0 / 10.0);
    for (double v : tgtest::values(w)) CHECK(std::abs(v) <= bound);
    Tensor a = empty({4, 6}), b = empty({4, 6});
    // (uniform draws: a normal draw may depend on a Box-Muller value cached before the seed)
    manual_seed(11);
    init::kaiming_uniform(0.0, init::FanMode::FanOut)(a);
    manual_seed(11);
    init::kaiming_uniform_(b, 0.0, init::FanMode::FanOut);
    CHECK(equal(a, b));
    CHECK_FALSE(equal(a, init::kaiming_uniform_(b, 0.0, init::FanMode::FanIn)));
}
