#include "test_support.hpp"

#include <cmath>
#include <limits>

using namespace tgtest;
namespace F = tg::nn::functional;

namespace {

using Inputs = std::vector<tg::Tensor>;


bool all_finite(const tg::Tensor& t) {
    for (double v : values(t))
        if (!std::isfinite(v)) return false;
    return true;
}

tg::Tensor targets(std::vector<std::int64_t> v) { return tg::from_vector(v); }

}  // namespace

TEST_CASE("softmax and log_softmax: closed forms over the last dim and dim 0") {
    const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0), s = e1 + e2 + e3;
    auto x = tg::tensor({1, 2, 3}, tg::kFloat64);
    check_close(values(tg::softmax(x, 0)), {e1 / s, e2 / s, e3 / s});
    check_close(values(tg::log_softmax(x, -1)), {1 - std::log(s), 2 - std::log(s), 3 - std::log(s)});

    auto m = tg::tensor({{1, 2}, {3, 5}}, tg::kFloat64);
    // dim 1: rows; dim 0: columns.
    check_close(values(tg::softmax(m, 1)), {e1 / (e1 + e2), e2 / (e1 + e2), e3 / (e3 + std::exp(5.0)),
                                            std::exp(5.0) / (e3 + std::exp(5.0))});
    check_close(values(tg::softmax(m, 0)), {e1 / (e1 + e3), e2 / (e2 + std::exp(5.0)), e3 / (e1 + e3),
                                            std::exp(5.0) / (e2 + std::exp(5.0))});
    check_close(values(tg::log_softmax(m, 0)), {1 - std::log(e1 + e3), 2 - std::log(e2 + std::exp(5.0)),
                                                3 - std::log(e1 + e3), 5 - std::log(e2 + std::exp(5.0))});
    // A non-contiguous input: softmax of m.t() over dim 1 is softmax of m over dim 0, transposed.
    check_close(values(tg::softmax(m.t(), 1)), values(tg::softmax(m, 0).t().contiguous()));
    // float32 keeps its dtype and sums to one along the dim, for a 3-D middle dim too.
    tg::manual_seed(1);
    auto r = tg::randn({2, 5, 3});
    auto p = tg::softmax(r, 1);
    CHECK(p.dtype() == tg::kFloat32);
    check_close(values(p.sum({1})), std::vector<double>(6, 1.0), 1e-6);
    check_close(values(tg::log_softmax(r, 1).exp()), values(p), 1e-6);
    REQUIRE_TG_ERROR(tg::softmax(tg::ones({2, 3}, tg::kInt64), 1), "softmax", "int64");
    REQUIRE_TG_ERROR(tg::log_softmax(tg::ones({2, 3}), 2), "log_softmax", "2");
}

TEST_CASE("softmax family is stable for logits of +-1000") {
    auto x = tg::tensor({1000, -1000, 0}, tg::kFloat32);
    auto p = tg::softmax(x, 0);
    REQUIRE(all_finite(p));
    check_close(values(p), {1, 0, 0});
    auto lp = tg::log_softmax(x, 0);
    REQUIRE(all_finite(lp));
    check_close(values(lp), {0, -2000, -1000}, 1e-3);
    auto l = tg::logsumexp(tg::tensor({{1000, 1000}, {-1000, -1000}}, tg::kFloat64), 1);
    check_close(values(l), {1000 + std::log(2.0), -1000 + std::log(2.0)}, 1e-9);
    // Along dim 0 too (the strided path).
    auto col = tg::tensor({{1000, -1000}, {999, -1001}}, tg::kFloat64);
    check_close(values(tg::softmax(col, 0)), {1 / (1 + std::exp(-1.0)), 1 / (1 + std::exp(-1.0)),
                                              std::exp(-1.0) / (1 + std::exp(-1.0)),
                                              std::exp(-1.0) / (1 + std::exp(-1.0))});
    // Gradients stay finite as well.
    auto big = tg::tensor({{1000, -1000, 0}}, tg::kFloat64).requires_grad_();
    F::cross_entropy(big, targets({1})).backward();
    REQUIRE(all_finite(big.grad()));
    check_close(values(big.grad()), {1, -1, 0});
}

TEST_CASE("logsumexp: values, keepdim, infinities, gradients") {
    auto m = tg::tensor({{0, std::log(3.0)}, {1, 1}}, tg::kFloat64);
    auto l = tg::logsumexp(m, 1);
    CHECK(l.sizes() == tg::Shape{2});
    check_close(values(l), {std::log(4.0), 1 + std::log(2.0)});
    auto lk = tg::logsumexp(m, 0, true);
    CHECK(lk.sizes() == tg::Shape{1, 2});
    check_close(values(lk), {std::log(1 + std::exp(1.0)), std::log(3 + std::exp(1.0))});
    const double inf = std::numeric_limits<double>::infinity();
    auto ninf = tg::logsumexp(tg::tensor({-inf, -inf}, tg::kFloat64), 0);
    CHECK(std::isinf(ninf.item<double>()));
    CHECK(ninf.item<double>() < 0);
    tg::manual_seed(2);
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::logsumexp(in[0], 1); }, (Inputs{leaf({3, 4})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::logsumexp(in[0].t(), 0, true); }, (Inputs{leaf({3, 4})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::logsumexp(in[0], -2) * tg::logsumexp(in[0], 1).sum(); },
                      (Inputs{leaf({2, 3, 2})}));
}

TEST_CASE("softmax / log_softmax gradients over dim 0 and 1, views, double backward") {
    tg::manual_seed(3);
    for (std::int64_t dim : {0, 1, -1}) {
        INFO("dim " << dim);
        REQUIRE_GRADCHECK([dim](const Inputs& in) { return tg::softmax(in[0], dim); }, (Inputs{leaf({3, 4})}));
        REQUIRE_GRADCHECK([dim](const Inputs& in) { return tg::log_softmax(in[0], dim); }, (Inputs{leaf({3, 4})}));
        REQUIRE_GRADCHECK([dim](const Inputs& in) { return tg::softmax(in[0].t(), dim); }, (Inputs{leaf({4, 3})}));
        REQUIRE_GRADCHECK([dim](const Inputs& in) { return tg::log_softmax(in[0].narrow(1, 1, 3), dim); },
                          (Inputs{leaf({3, 5})}));
    }
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::softmax(in[0], 1) * tg::log_softmax(in[0], 1); },
                      (Inputs{leaf({2, 3, 2})}));
    // Second derivative: gradcheck of the recorded gradient.
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            auto y = tg::softmax(in[0], 1) * tg::log_softmax(in[0], 0);
            return tg::autograd::grad({(y * y).sum()}, {in[0]}, {}, false, true)[0];
        },
        (Inputs{leaf({2, 3})}));
}

TEST_CASE("one_hot: values, shapes, dtype and range errors") {
    auto o = tg::one_hot(targets({2, 0, 1}), 3);
    CHECK(o.dtype() == tg::kFloat32);
    CHECK(o.sizes() == tg::Shape{3, 3});
    CHECK(values(o) == std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0});
    auto o2 = tg::one_hot(tg::from_vector(std::vector<std::int64_t>{1, 0, 0, 1}, {2, 2}), 2, tg::kInt64);
    CHECK(o2.dtype() == tg::kInt64);
    CHECK(o2.sizes() == tg::Shape{2, 2, 2});
    CHECK(values(o2) == std::vector<double>{0, 1, 1, 0, 1, 0, 0, 1});
    CHECK(values(tg::one_hot(targets({4, 1}).narrow(0, 1, 1), 2)) == std::vector<double>{0, 1});
    REQUIRE_TG_ERROR(tg::one_hot(targets({0, 3}), 3), "one_hot", "index 3", "[0, 3)");
    REQUIRE_TG_ERROR(tg::one_hot(targets({-1}), 3), "one_hot", "index -1");
    REQUIRE_TG_ERROR(tg::one_hot(tg::ones({2}), 3), "one_hot", "int64", "float32");
    REQUIRE_TG_ERROR(tg::one_hot(targets({0}), 0), "one_hot", "num_classes");
}

TEST_CASE("cross_entropy: closed forms, reductions, gradients") {
    const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0);
    auto logits = tg::tensor({{1, 2, 3}, {1, 1, 1}}, tg::kFloat64);
    auto t = targets({2, 0});
    const double l0 = std::log(e1 + e2 + e3) - 3, l1 = std::log(3.0);
    check_close(values(F::cross_entropy(logits, t, F::Reduction::None)), {l0, l1});
    CHECK(F::cross_entropy(logits, t).item<double>() == Approx((l0 + l1) / 2));
    CHECK(F::cross_entropy(logits, t, F::Reduction::Sum).item<double>() == Approx(l0 + l1));
    CHECK(F::cross_entropy(logits.to(tg::kFloat32), t).item<double>() == Approx((l0 + l1) / 2).epsilon(1e-6));
    // Same as the composite nll_loss(log_softmax(x)).
    CHECK(F::nll_loss(tg::log_softmax(logits, 1), t).item<double>() == Approx((l0 + l1) / 2));

    // Gradient of the mean: (softmax - one_hot) / N.
    auto x = logits.clone().requires_grad_();
    F::cross_entropy(x, t).backward();
    const double s = e1 + e2 + e3;
    check_close(values(x.grad()), {e1 / s / 2, e2 / s / 2, (e3 / s - 1) / 2, (1.0 / 3 - 1) / 2, 1.0 / 6, 1.0 / 6});

    tg::manual_seed(4);
    auto tt = targets({1, 0, 3, 3});
    for (auto red : {F::Reduction::None, F::Reduction::Mean, F::Reduction::Sum})
        REQUIRE_GRADCHECK([&](const Inputs& in) { return F::cross_entropy(in[0], tt, red); }, (Inputs{leaf({4, 5}, -3, 3)}));
    REQUIRE_GRADCHECK([&](const Inputs& in) { return F::cross_entropy(in[0].t(), tt) * in[0].sum(); },
                      (Inputs{leaf({5, 4})}));
    // Double backward (the recorded branch of the backward).
    REQUIRE_GRADCHECK(
        [&](const Inputs& in) {
            auto l = F::cross_entropy(in[0], tt, F::Reduction::Sum);
            return tg::autograd::grad({l}, {in[0]}, {}, false, true)[0] * in[0];
        },
        (Inputs{leaf({4, 5})}));
}

TEST_CASE("nll_loss: picks -log_probs at the targets") {
    auto lp = tg::tensor({{-0.1, -2.0, -3.0}, {-1.5, -0.5, -4.0}}, tg::kFloat64);
    auto t = targets({1, 1});
    check_close(values(F::nll_loss(lp, t, F::Reduction::None)), {2.0, 0.5});
    CHECK(F::nll_loss(lp, t).item<double>() == Approx(1.25));
    CHECK(F::nll_loss(lp, t, F::Reduction::Sum).item<double>() == Approx(2.5));
    auto x = lp.clone().requires_grad_();
    F::nll_loss(x, t, F::Reduction::Sum).backward();
    CHECK(values(x.grad()) == std::vector<double>{0, -1, 0, 0, -1, 0});
    tg::manual_seed(5);
    auto tt = targets({2, 0, 2});
    REQUIRE_GRADCHECK([&](const Inputs& in) { return F::nll_loss(tg::log_softmax(in[0], 1), tt); }, (Inputs{leaf({3, 3})}));
    REQUIRE_GRADCHECK([&](const Inputs& in) { return F::nll_loss(in[0].t(), tt, F::Reduction::None); },
                      (Inputs{leaf({3, 3})}));
}

TEST_CASE("softmax_cross_entropy_with_logits with probability labels") {
    auto logits = tg::tensor({{0, 0}, {1, 3}}, tg::kFloat64);
    auto labels = tg::tensor({{0.25, 0.75}, {1, 0}}, tg::kFloat64);
    // row 0: -(0.25 + 0.75) * log(1/2) = log 2; row 1: -(1 - log(e + e^3)).
    const double r0 = std::log(2.0), r1 = std::log(std::exp(1.0) + std::exp(3.0)) - 1;
    check_close(values(F::softmax_cross_entropy_with_logits(logits, labels)), {r0, r1});
    CHECK(F::softmax_cross_entropy_with_logits(logits, labels, F::Reduction::Mean).item<double>() ==
          Approx((r0 + r1) / 2));
    CHECK(F::softmax_cross_entropy_with_logits(logits, labels, F::Reduction::Sum).item<double>() == Approx(r0 + r1));
    // One-hot labels agree with cross_entropy; logits of +-1000 stay finite.
    auto big = tg::tensor({{1000, -1000}, {-1000, 1000}}, tg::kFloat64);
    auto t = targets({1, 1});
    auto a = F::softmax_cross_entropy_with_logits(big, tg::one_hot(t, 2, tg::kFloat64));
    check_close(values(a), {2000, 0}, 1e-9);
    check_close(values(a), values(F::cross_entropy(big, t, F::Reduction::None)), 1e-9);
    tg::manual_seed(6);
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::softmax_cross_entropy_with_logits(in[0], tg::softmax(in[1], 1)); },
                      (Inputs{leaf({3, 4}), leaf({3, 4})}));
}

TEST_CASE("loss errors name the op, the shapes and the bad value") {
    auto x = tg::zeros({2, 3});
    REQUIRE_TG_ERROR(F::cross_entropy(x, tg::ones({2})), "cross_entropy", "int64", "float32");
    REQUIRE_TG_ERROR(F::cross_entropy(x, targets({0, 1, 2})), "cross_entropy", "[3]", "[2, 3]");
    REQUIRE_TG_ERROR(F::cross_entropy(tg::zeros({3}), targets({0, 1, 2})), "cross_entropy", "(N, C)", "[3]");
    REQUIRE_TG_ERROR(F::cross_entropy(x, targets({0, 3})), "cross_entropy", "target 3", "[0, 3)");
    REQUIRE_TG_ERROR(F::cross_entropy(x, targets({-2, 0})), "cross_entropy", "target -2", "[0, 3)");
    REQUIRE_TG_ERROR(F::cross_entropy(tg::zeros({2, 3}, tg::kInt64), targets({0, 1})), "cross_entropy", "int64");
    REQUIRE_TG_ERROR(F::nll_loss(x, targets({5, 0})), "nll_loss", "target 5", "[0, 3)");
    REQUIRE_TG_ERROR(F::nll_loss(x, targets({0})), "nll_loss", "[1]", "[2, 3]");
    REQUIRE_TG_ERROR(F::softmax_cross_entropy_with_logits(x, tg::zeros({2, 4})), "softmax_cross_entropy_with_logits",
                     "[2, 4]", "[2, 3]");
    REQUIRE_TG_ERROR(F::softmax_cross_entropy_with_logits(x, tg::zeros({2, 3}, tg::kFloat64)),
                     "softmax_cross_entropy_with_logits", "float32", "float64");
    REQUIRE_TG_ERROR(F::softmax_cross_entropy_with_logits(tg::zeros({}), tg::zeros({})),
                     "softmax_cross_entropy_with_logits", "[]", "at least 1 dim");
    REQUIRE_TG_ERROR(F::softmax_cross_entropy_with_logits(x, x, F::Reduction::None, 2),
                     "softmax_cross_entropy_with_logits", "dim 2", "[2, 3]");
}
