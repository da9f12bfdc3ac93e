// Regression / probabilistic losses of tg::nn::functional and cross_entropy's label
// smoothing: closed-form values for each reduction, float64 gradchecks, stability, errors.
#include "test_support.hpp"

#include <cmath>
#include <sstream>

#include "tapegrad/nn/functional.hpp"

using namespace tgtest;
namespace F = tg::nn::functional;
using F::Reduction;

namespace {

// REQUIRE each value of `t` to be approximately `expected` (in order), and t's shape.
void require_values(const tg::Tensor& t, const tg::Shape& shape, const std::vector<double>& expected) {
    REQUIRE(t.sizes() == shape);
    const std::vector<double> got = values(t);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("element " << i);
        CHECK(got[i] == Approx(expected[i]).margin(1e-12));
    }
}

// Checks None (elementwise `expected`), Sum and Mean of `loss(reduction)`.
template <class Fn>
void require_reductions(Fn loss, const tg::Shape& shape, const std::vector<double>& expected) {
    require_values(loss(Reduction::None), shape, expected);
    double total = 0;
    for (double v : expected) total += v;
    require_values(loss(Reduction::Sum), {}, {total});
    require_values(loss(Reduction::Mean), {}, {total / static_cast<double>(expected.size())});
}

double log1pexp(double x) { return std::log1p(std::exp(x)); }

}  // namespace

TEST_CASE("mse_loss and l1_loss: values for every reduction") {
    auto x = tg::tensor({{1.0, 2.0}, {-1.0, 0.5}}, tg::kFloat64);
    auto y = tg::tensor({{0.0, 4.0}, {1.0, 0.5}}, tg::kFloat64);  // d = [1, -2, -2, 0]
    require_reductions([&](Reduction r) { return F::mse_loss(x, y, r); }, {2, 2}, {1, 4, 4, 0});
    require_reductions([&](Reduction r) { return F::l1_loss(x, y, r); }, {2, 2}, {1, 2, 2, 0});
    // The default is Mean, like libtorch.
    CHECK(F::mse_loss(x, y).item<double>() == Approx(2.25));
    CHECK(F::l1_loss(x, y).item<double>() == Approx(1.25));
    // float32 gives the same numbers.
    CHECK(F::mse_loss(x.to(tg::kFloat32), y.to(tg::kFloat32)).item<float>() == Approx(2.25f));
    // l1's gradient at d == 0 is 0 (libtorch's sign(0)); elsewhere sign(d) / n.
    auto xl = x.clone().requires_grad_();
    F::l1_loss(xl, y).backward();
    CHECK(values(xl.grad()) == std::vector<double>{0.25, -0.25, -0.25, 0.0});
    // mse: 2 d / n for input, -2 d / n for target.
    auto xm = x.clone().requires_grad_(), ym = y.clone().requires_grad_();
    F::mse_loss(xm, ym).backward();
    CHECK(values(xm.grad()) == std::vector<double>{0.5, -1.0, -1.0, 0.0});
    CHECK(values(ym.grad()) == std::vector<double>{-0.5, 1.0, 1.0, 0.0});
}

TEST_CASE("huber_loss and smooth_l1_loss: both branches, delta/beta, every reduction") {
    auto x = tg::tensor({0.5, 3.0, -2.0, 0.0}, tg::kFloat64);
    auto y = tg::tensor({0.0, 0.0, 0.0, 0.25}, tg::kFloat64);  // d = [0.5, 3, -2, -0.25]
    // delta = 1: 0.5 d^2 inside, |d| - 0.5 outside.
    require_reductions([&](Reduction r) { return F::huber_loss(x, y, r); }, {4}, {0.125, 2.5, 1.5, 0.03125});
    // delta = 2: |d| == 2 is on the linear side: 2 * (2 - 1) = 2 (both sides agree there).
    require_reductions([&](Reduction r) { return F::huber_loss(x, y, r, 2.0); }, {4},
                       {0.125, 4.0, 2.0, 0.03125});
    // smooth_l1 with beta = 1 is huber with delta = 1.
    require_reductions([&](Reduction r) { return F::smooth_l1_loss(x, y, r); }, {4}, {0.125, 2.5, 1.5, 0.03125});
    // beta = 2: 0.5 d^2 / 2 inside, |d| - 1 outside (= huber(delta = 2) / 2).
    require_reductions([&](Reduction r) { return F::smooth_l1_loss(x, y, r, 2.0); }, {4},
                       {0.0625, 2.0, 1.0, 0.015625});
    // beta = 0 is l1_loss (no division by zero).
    require_reductions([&](Reduction r) { return F::smooth_l1_loss(x, y, r, 0.0); }, {4}, {0.5, 3.0, 2.0, 0.25});
    CHECK(F::huber_loss(x, y).item<double>() == Approx(4.15625 / 4));
    // Gradient: d inside, delta * sign(d) outside (Sum).
    auto xg = x.clone().requires_grad_();
    F::huber_loss(xg, y, Reduction::Sum, 1.0).backward();
    CHECK(values(xg.grad()) == std::vector<double>{0.5, 1.0, -1.0, -0.25});
    auto xs = x.clone().requires_grad_();
    F::smooth_l1_loss(xs, y, Reduction::Sum, 0.0).backward();
    CHECK(values(xs.grad()) == std::vector<double>{1.0, 1.0, -1.0, -1.0});
}

TEST_CASE("hinge_loss: TF-1's max(0, 1 - (2 labels - 1) logits) on {0, 1} labels") {
    auto logits = tg::tensor({{2.0, -0.5}, {0.3, -3.0}}, tg::kFloat64);
    auto labels = tg::tensor({{1.0, 1.0}, {0.0, 0.0}}, tg::kFloat64);
    // signs [1, 1, -1, -1]: 1 - [2, -0.5, -0.3, 3] = [-1, 1.5, 1.3, -2] -> relu.
    require_reductions([&](Reduction r) { return F::hinge_loss(logits, labels, r); }, {2, 2}, {0.0, 1.5, 1.3, 0.0});
    CHECK(F::hinge_loss(logits, labels).item<double>() == Approx(0.7));
    auto lg = logits.clone().requires_grad_();
    F::hinge_loss(lg, labels, Reduction::Sum).backward();
    CHECK(values(lg.grad()) == std::vector<double>{0.0, -1.0, 1.0, 0.0});
}

TEST_CASE("binary_cross_entropy_with_logits: closed form, every reduction") {
    auto x = tg::tensor({0.0, 2.0, -1.0, 0.7}, tg::kFloat64);
    auto t = tg::tensor({0.5, 1.0, 0.0, 0.25}, tg::kFloat64);
    // -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], computed the naive way here.
    std::vector<double> expected;
    for (auto [xi, ti] : std::vector<std::pair<double, double>>{{0.0, 0.5}, {2.0, 1.0}, {-1.0, 0.0}, {0.7, 0.25}}) {
        const double s = 1.0 / (1.0 + std::exp(-xi));
        expected.push_back(-(ti * std::log(s) + (1 - ti) * std::log(1 - s)));
    }
    CHECK(expected[0] == Approx(std::log(2.0)));
    CHECK(expected[1] == Approx(log1pexp(-2.0)));
    require_reductions([&](Reduction r) { return F::binary_cross_entropy_with_logits(x, t, r); }, {4}, expected);
    // Gradient sigmoid(x) - t, also exactly at x = 0 (where |x| has a kink).
    auto xg = x.clone().requires_grad_();
    F::binary_cross_entropy_with_logits(xg, t, Reduction::Sum).backward();
    const std::vector<double> g = values(xg.grad());
    CHECK(g[0] == Approx(0.0).margin(1e-15));
    CHECK(g[1] == Approx(1.0 / (1.0 + std::exp(-2.0)) - 1.0));
    CHECK(g[2] == Approx(1.0 / (1.0 + std::exp(1.0))));
}

TEST_CASE("binary_cross_entropy_with_logits is stable at logits of +-1000") {
    for (tg::Dtype dtype : {tg::kFloat32, tg::kFloat64}) {
        auto x = tg::tensor({1000.0, -1000.0, 1000.0, -1000.0, 0.0}, dtype).requires_grad_();
        auto t = tg::tensor({1.0, 0.0, 0.0, 1.0, 1.0}, dtype);
        auto loss = F::binary_cross_entropy_with_logits(x, t, Reduction::None);
        const std::vector<double> v = values(loss);
        CHECK(v[0] == 0.0);  // right and confident: exactly 0, no inf - inf
        CHECK(v[1] == 0.0);
        CHECK(v[2] == Approx(1000.0));  // wrong and confident: the logit's magnitude, not inf
        CHECK(v[3] == Approx(1000.0));
        CHECK(v[4] == Approx(std::log(2.0)));
        loss.sum().backward();
        const std::vector<double> g = values(x.grad());
        const std::vector<double> want{0.0, 0.0, 1.0, -1.0, -0.5};
        for (std::size_t i = 0; i < g.size(); ++i) {
            INFO("element " << i);
            REQUIRE(std::isfinite(g[i]));
            CHECK(g[i] == Approx(want[i]).margin(1e-6));
        }
    }
}

TEST_CASE("kl_div: target * (log target - input), 0 where target == 0") {
    auto input = tg::tensor({std::log(0.5), std::log(0.25), std::log(0.25)}, tg::kFloat64);
    auto target = tg::tensor({0.0, 0.5, 0.5}, tg::kFloat64);
    const double half_log2 = 0.5 * std::log(2.0);
    require_reductions([&](Reduction r) { return F::kl_div(input, target, r); }, {3}, {0.0, half_log2, half_log2});
    // Equal distributions: 0. A 2-D case: KL(p || q) = sum p log(p / q) per row with Sum.
    auto p = tg::tensor({{0.2, 0.8}, {0.6, 0.4}}, tg::kFloat64);
    auto q = tg::tensor({{0.5, 0.5}, {0.6, 0.4}}, tg::kFloat64);
    CHECK(F::kl_div(tg::log(q), p, Reduction::Sum).item<double>() ==
          Approx(0.2 * std::log(0.2 / 0.5) + 0.8 * std::log(0.8 / 0.5)));
    CHECK(F::kl_div(tg::log(p), p, Reduction::Sum).item<double>() == Approx(0.0).margin(1e-15));
    // Zero targets: finite gradients. d/dinput = -target; d/dtarget = log target + 1 - input,
    // and -input where target == 0 (libtorch's xlogy convention).
    auto in = input.clone().requires_grad_(), tg_ = target.clone().requires_grad_();
    F::kl_div(in, tg_, Reduction::Sum).backward();
    CHECK(values(in.grad()) == std::vector<double>{0.0, -0.5, -0.5});
    const std::vector<double> gt = values(tg_.grad());
    CHECK(gt[0] == Approx(-std::log(0.5)));
    CHECK(gt[1] == Approx(std::log(0.5) + 1 - std::log(0.25)));
    for (double v : gt) CHECK(std::isfinite(v));
}

TEST_CASE("cross_entropy with label smoothing: (1 - eps) nll + eps mean_j(-log_softmax)") {
    auto logits = tg::tensor({{1.0, 2.0, 3.0}, {0.0, 0.0, 0.0}}, tg::kFloat64);
    auto targets = tg::tensor({2.0, 0.0}, tg::kFloat64).to(tg::kInt64);
    const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
    // row 0: 0.9 (lse - 3) + 0.1 (lse - 2) = lse - 2.9; row 1: uniform logits, log 3.
    require_reductions([&](Reduction r) { return F::cross_entropy(logits, targets, r, 0.1); }, {2},
                       {lse0 - 2.9, std::log(3.0)});
    // eps = 0 is plain cross_entropy; eps = 1 is the uniform target's cross entropy.
    CHECK(F::cross_entropy(logits, targets, Reduction::Sum, 0.0).item<double>() ==
          Approx(F::cross_entropy(logits, targets, Reduction::Sum).item<double>()));
    require_values(F::cross_entropy(logits, targets, Reduction::None, 1.0), {2}, {lse0 - 2.0, std::log(3.0)});
    // Gradient: softmax - ((1 - eps) one_hot + eps / C).
    auto lg = logits.clone().requires_grad_();
    F::cross_entropy(lg, targets, Reduction::Sum, 0.3).backward();
    const std::vector<double> g = values(lg.grad());
    const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
    const std::vector<double> want{std::exp(1.0) / z - 0.1, std::exp(2.0) / z - 0.1, std::exp(3.0) / z - 0.8,
                                   1.0 / 3 - 0.8, 1.0 / 3 - 0.1, 1.0 / 3 - 0.1};
    for (std::size_t i = 0; i < g.size(); ++i) {
        INFO("element " << i);
        CHECK(g[i] == Approx(want[i]));
    }
}

TEST_CASE("loss gradients pass gradcheck in float64") {
    using V = std::vector<tg::Tensor>;
    for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
        INFO("reduction " << static_cast<int>(r));
        // Both arguments; the input non-contiguous (.t() of a (3, 2) leaf) and used twice.
        REQUIRE_GRADCHECK([r](const V& in) { return F::mse_loss(in[0].t(), in[1], r); },
                          V({leaf({3, 2}), leaf({2, 3})}));
        REQUIRE_GRADCHECK([r](const V& in) { return F::mse_loss(in[0] * in[0], in[0], r); }, V({leaf({4})}));
        REQUIRE_GRADCHECK([r](const V& in) { return F::l1_loss(in[0].narrow(1, 1, 2), in[1], r); },
                          V({leaf({3, 4}), leaf({3, 2})}));
        // d in (-4, 4): both huber branches are hit; delta 0.7, beta 1.3.
        REQUIRE_GRADCHECK([r](const V& in) { return F::huber_loss(in[0], in[1].t(), r, 0.7); },
                          V({leaf({2, 5}, -2, 2), leaf({5, 2}, -2, 2)}));
        REQUIRE_GRADCHECK([r](const V& in) { return F::smooth_l1_loss(in[0], in[1], r, 1.3); },
                          V({leaf({2, 5}, -2, 2), leaf({2, 5}, -2, 2)}));
        REQUIRE_GRADCHECK([r](const V& in) { return F::smooth_l1_loss(in[0], in[1], r, 0.0); },
                          V({leaf({6}), leaf({6})}));
        // hinge: labels fixed {0, 1} values (not differentiable data), logits checked.
        const auto labels = tg::tensor({{1.0, 0.0, 1.0}, {0.0, 0.0, 1.0}}, tg::kFloat64);
        const auto hinge = [r, labels](const V& in) { return F::hinge_loss(in[0].t(), labels, r); };
        REQUIRE_GRADCHECK(hinge, V({leaf({3, 2}, -3, 3)}));
        // BCE: logits and soft targets.
        REQUIRE_GRADCHECK([r](const V& in) { return F::binary_cross_entropy_with_logits(in[0], in[1].t(), r); },
                          V({leaf({2, 3}, -4, 4), leaf({3, 2}, 0, 1)}));
        // kl_div: positive targets (both differentiable); and a zero target (input only).
        REQUIRE_GRADCHECK([r](const V& in) { return F::kl_div(in[0], in[1], r); },
                          V({leaf({2, 3}, -3, 0), leaf({2, 3}, 0.1, 1)}));
        const auto with_zero = tg::tensor({{0.0, 0.3, 0.7}, {0.5, 0.0, 0.5}}, tg::kFloat64);
        const auto kl_zero = [r, with_zero](const V& in) {
            return F::kl_div(tg::log_softmax(in[0], 1), with_zero, r);
        };
        REQUIRE_GRADCHECK(kl_zero, V({leaf({2, 3})}));
        // label smoothing, logits only (targets are indices).
        const auto targets = tg::tensor({0.0, 2.0, 1.0, 2.0}, tg::kFloat64).to(tg::kInt64);
        const auto smoothed = [r, targets](const V& in) { return F::cross_entropy(in[0].t(), targets, r, 0.2); };
        REQUIRE_GRADCHECK(smoothed, V({leaf({3, 4}, -2, 2)}));
    }
}

TEST_CASE("double backward through the composed losses") {
    // d/dx of sum(bce) = sigmoid(x) - t; its gradient is sigmoid'(x).
    auto x = tg::tensor({0.3, -1.2}, tg::kFloat64).requires_grad_();
    auto t = tg::tensor({1.0, 0.0}, tg::kFloat64);
    auto g = tg::autograd::grad({F::binary_cross_entropy_with_logits(x, t, Reduction::Sum)}, {x}, {}, false, true);
    auto gg = tg::autograd::grad({g[0].sum()}, {x});
    const std::vector<double> v = values(gg[0]);
    for (std::size_t i = 0; i < 2; ++i) {
        const double xi = i == 0 ? 0.3 : -1.2, s = 1.0 / (1.0 + std::exp(-xi));
        CHECK(v[i] == Approx(s * (1 - s)));
    }
}

TEST_CASE("loss argument errors name the op, the shapes and the dtypes") {
    auto a = tg::zeros({2, 3}, tg::kFloat64);
    auto b = tg::zeros({3, 2}, tg::kFloat64);
    auto row = tg::zeros({3}, tg::kFloat64);
    // Shapes must match exactly: no broadcasting, even when it would be possible.
    REQUIRE_TG_ERROR(F::mse_loss(a, b), "mse_loss", "[2, 3]", "[3, 2]", "no broadcasting");
    REQUIRE_TG_ERROR(F::mse_loss(a, row), "mse_loss", "[2, 3]", "[3]");
    REQUIRE_TG_ERROR(F::l1_loss(row, a), "l1_loss", "[3]", "[2, 3]");
    REQUIRE_TG_ERROR(F::huber_loss(a, b), "huber_loss", "[2, 3]", "[3, 2]");
    REQUIRE_TG_ERROR(F::smooth_l1_loss(a, b), "smooth_l1_loss", "[2, 3]", "[3, 2]");
    REQUIRE_TG_ERROR(F::hinge_loss(a, b), "hinge_loss", "logits", "labels", "[2, 3]", "[3, 2]");
    REQUIRE_TG_ERROR(F::binary_cross_entropy_with_logits(a, row), "binary_cross_entropy_with_logits", "[2, 3]",
                     "[3]");
    REQUIRE_TG_ERROR(F::kl_div(a, b), "kl_div", "[2, 3]", "[3, 2]");
    // Wrong dtypes: integer targets, integer inputs, float32 against float64.
    auto ints = tg::zeros({2, 3}, tg::kInt64);
    REQUIRE_TG_ERROR(F::mse_loss(a, ints), "mse_loss", "target", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(F::l1_loss(ints, a), "l1_loss", "input", "int64");
    REQUIRE_TG_ERROR(F::binary_cross_entropy_with_logits(a, ints), "binary_cross_entropy_with_logits", "int64");
    REQUIRE_TG_ERROR(F::hinge_loss(a, tg::zeros({2, 3}, tg::kBool)), "hinge_loss", "labels", "bool");
    REQUIRE_TG_ERROR(F::kl_div(a, ints), "kl_div", "int64");
    REQUIRE_TG_ERROR(F::mse_loss(a, tg::zeros({2, 3}, tg::kFloat32)), "mse_loss", "float64", "float32");
    REQUIRE_TG_ERROR(F::huber_loss(a, tg::zeros({2, 3}, tg::kFloat32)), "huber_loss", "float64", "float32");
    REQUIRE_TG_ERROR(F::mse_loss(a, tg::Tensor()), "mse_loss");
    // Parameters.
    REQUIRE_TG_ERROR(F::huber_loss(a, a, Reduction::Mean, 0.0), "huber_loss", "delta", "positive");
    REQUIRE_TG_ERROR(F::smooth_l1_loss(a, a, Reduction::Mean, -1.0), "smooth_l1_loss", "beta", "-1");
    // hinge labels outside {0, 1}: TF-1 semantics need 0/1 labels (not -1/+1).
    auto logits = tg::zeros({3}, tg::kFloat64);
    REQUIRE_TG_ERROR(F::hinge_loss(logits, tg::tensor({1.0, -1.0, 0.0}, tg::kFloat64)), "hinge_loss",
                     "labels must be 0 or 1", "-1", "position 1", "[3]");
    REQUIRE_TG_ERROR(F::hinge_loss(logits, tg::tensor({0.0, 1.0, 0.5}, tg::kFloat64)), "hinge_loss", "0.5");
    // cross_entropy with label smoothing: eps range, target dtype/shape/range.
    auto ce_logits = tg::zeros({2, 3}, tg::kFloat64);
    auto good = tg::tensor({0.0, 2.0}, tg::kFloat64).to(tg::kInt64);
    REQUIRE_TG_ERROR(F::cross_entropy(ce_logits, good, Reduction::Mean, 1.5), "cross_entropy", "label_smoothing",
                     "1.5");
    REQUIRE_TG_ERROR(F::cross_entropy(ce_logits, good, Reduction::Mean, -0.1), "cross_entropy", "label_smoothing");
    REQUIRE_TG_ERROR(F::cross_entropy(ce_logits, tg::tensor({0.0, 2.0}, tg::kFloat64), Reduction::Mean, 0.1),
                     "cross_entropy", "int64", "float64");
    REQUIRE_TG_ERROR(F::cross_entropy(ce_logits, tg::tensor({0.0, 3.0}, tg::kFloat64).to(tg::kInt64),
                                      Reduction::Mean, 0.1),
                     "cross_entropy", "out of range", "[0, 3)", "[2, 3]");
    REQUIRE_TG_ERROR(F::cross_entropy(ce_logits, tg::zeros({3}, tg::kInt64), Reduction::Mean, 0.1), "cross_entropy",
                     "[3]", "[2, 3]");
    REQUIRE_TG_ERROR(F::cross_entropy(tg::zeros({6}, tg::kFloat64), tg::zeros({6}, tg::kInt64), Reduction::Mean, 0.1),
                     "cross_entropy", "(N, C)", "[6]");
}

using V = std::vector<tg::Tensor>;

TEST_CASE("hinge_embedding_loss: input where the label is 1, max(0, margin - input) where -1") {
    auto input = tg::tensor({{0.4, -0.5}, {0.3, 2.5}}, tg::kFloat64);
    auto labels = tg::tensor({{1.0, 1.0}, {-1.0, -1.0}}, tg::kFloat64);
    // margin 2: [0.4, -0.5, max(0, 2 - 0.3), max(0, 2 - 2.5)].
    require_reductions([&](Reduction r) { return F::hinge_embedding_loss(input, labels, r, 2.0); }, {2, 2},
                       {0.4, -0.5, 1.7, 0.0});
    // Default margin 1: [0.4, -0.5, 0.7, 0] averaged.
    CHECK(F::hinge_embedding_loss(input, labels).item<double>() == Approx(0.6 / 4));
    auto x = input.clone().requires_grad_();
    F::hinge_embedding_loss(x, labels, Reduction::Sum, 2.0).backward();
    CHECK(values(x.grad()) == std::vector<double>{1.0, 1.0, -1.0, 0.0});
    const auto fixed = tg::tensor({{1.0, -1.0, -1.0}, {-1.0, 1.0, -1.0}}, tg::kFloat64);
    for (Reduction r : {Reduction::None, Reduction::Sum, Reduction::Mean}) {
        const auto loss = [r, fixed](const V& in) { return F::hinge_embedding_loss(in[0].t(), fixed, r, 0.5); };
        REQUIRE_GRADCHECK(loss, V({leaf({3, 2}, -3, 3)}));
    }
    REQUIRE_TG_ERROR(F::hinge_embedding_loss(input, tg::tensor({1.0, 0.0, -1.0, 1.0}, tg::kFloat64).reshape({2, 2})),
                     "hinge_embedding_loss", "labels must be -1 or 1", "0", "position 1", "[2, 2]");
    REQUIRE_TG_ERROR(F::hinge_embedding_loss(input, tg::zeros({4}, tg::kFloat64)), "hinge_embedding_loss", "[2, 2]",
                     "[4]");
}

TEST_CASE("loss modules: same values as their functional forms, options, printing") {
    namespace nn = tg::nn;
    auto logits = tg::tensor({0.2, -1.0, 0.5, 1.5, 0.1, -0.3}, tg::kFloat64).reshape({2, 3});
    auto classes = tg::tensor({2.0, 0.0}, tg::kFloat64).to(tg::kInt64);
    auto x = tg::tensor({0.5, -2.0, 3.0}, tg::kFloat64);
    auto y = tg::tensor({1.0, -1.0, 1.0}, tg::kFloat64);
    auto same = [](const tg::Tensor& a, const tg::Tensor& b) {
        REQUIRE(a.sizes() == b.sizes());
        const auto va = values(a), vb = values(b);
        for (std::size_t i = 0; i < va.size(); ++i) CHECK(va[i] == Approx(vb[i]).margin(1e-15));
    };
    nn::CrossEntropyLoss ce(nn::CrossEntropyLossOptions().label_smoothing(0.1));
    same(ce(logits, classes), F::cross_entropy(logits, classes, Reduction::Mean, 0.1));
    nn::NLLLoss nll(Reduction::Sum);
    same(nll(tg::log_softmax(logits, 1), classes), F::nll_loss(tg::log_softmax(logits, 1), classes, Reduction::Sum));
    same(nn::MSELoss(Reduction::None)(x, y), F::mse_loss(x, y, Reduction::None));
    same(nn::L1Loss()(x, y), F::l1_loss(x, y));
    same(nn::HuberLoss(nn::HuberLossOptions().delta(0.5))(x, y), F::huber_loss(x, y, Reduction::Mean, 0.5));
    same(nn::SmoothL1Loss(nn::SmoothL1LossOptions(Reduction::Sum).beta(2.0))(x, y),
         F::smooth_l1_loss(x, y, Reduction::Sum, 2.0));
    auto binary = tg::tensor({1.0, 0.0, 1.0}, tg::kFloat64);
    same(nn::HingeLoss()(x, binary), F::hinge_loss(x, binary));
    same(nn::HingeEmbeddingLoss(nn::HingeEmbeddingLossOptions().margin(3.0))(x, y),
         F::hinge_embedding_loss(x, y, Reduction::Mean, 3.0));
    same(nn::BCEWithLogitsLoss()(x, binary), F::binary_cross_entropy_with_logits(x, binary));
    auto probs = tg::softmax(logits, 1);
    same(nn::KLDivLoss(Reduction::Sum)(tg::log_softmax(logits * 2.0, 1), probs),
         F::kl_div(tg::log_softmax(logits * 2.0, 1), probs, Reduction::Sum));
    // Gradients flow through the module like through the function.
    auto lg = logits.clone().requires_grad_();
    ce(lg, classes).backward();
    auto lf = logits.clone().requires_grad_();
    F::cross_entropy(lf, classes, Reduction::Mean, 0.1).backward();
    same(lg.grad(), lf.grad());
    // A loss module is not Sequential-able (one-input forward) and prints its options.
    REQUIRE_TG_ERROR(ce.forward(logits), "CrossEntropyLoss");
    std::ostringstream os;
    os << nn::HuberLoss(nn::HuberLossOptions(Reduction::Sum).delta(0.5));
    CHECK(os.str() == "HuberLoss(reduction=sum, delta=0.5)");
    std::ostringstream os2;
    os2 << ce;
    CHECK(os2.str() == "CrossEntropyLoss(reduction=mean, label_smoothing=0.1)");
}

// ---- issue 18: losses on probabilities, similarities and distances ---------------------------

namespace {
using Inputs = std::vector<tg::Tensor>;
tg::Tensor f64(std::initializer_list<double> v) { return tg::tensor(v, tg::kFloat64); }
double cosine(const std::vector<double>& a, const std::vector<double>& b, double eps = 0) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    return ab / std::sqrt((aa + eps) * (bb + eps));
}
}  // namespace

TEST_CASE("softmax_cross_entropy_with_logits: any rank, classes along the last dim (or axis)") {
    auto logits = tg::uniform({2, 3, 4}, -2, 2, tg::kFloat64), labels = tg::softmax(tg::randn({2, 3, 4}, tg::kFloat64), -1);
    auto loss = F::softmax_cross_entropy_with_logits(logits, labels);
    REQUIRE(loss.sizes() == tg::Shape{2, 3});
    auto flat = F::softmax_cross_entropy_with_logits(logits.reshape({6, 4}), labels.reshape({6, 4}));
    require_values(loss.reshape({6}), {6}, values(flat));
    // classes along dim 1 instead
    auto moved = F::softmax_cross_entropy_with_logits(logits.transpose(1, 2), labels.transpose(1, 2), Reduction::None, 1);
    require_values(moved, {2, 3}, values(loss));
    // 1-D: one distribution, a scalar loss
    auto one = F::softmax_cross_entropy_with_logits(f64({0, std::log(3.0)}), f64({0, 1}));
    require_values(one, {}, {std::log(4.0 / 3.0)});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::softmax_cross_entropy_with_logits(in[0], tg::softmax(in[1], -1)); },
                      (Inputs{leaf({2, 2, 3}), leaf({2, 2, 3})}));
}

TEST_CASE("binary_cross_entropy: closed form, libtorch's clamp at 0 and 1, weights, gradients") {
    auto p = f64({0.1, 0.5, 0.9, 0.3}), t = f64({0, 1, 1, 0.25});
    std::vector<double> expected;
    for (int i = 0; i < 4; ++i) {
        const double pi = values(p)[static_cast<std::size_t>(i)], ti = values(t)[static_cast<std::size_t>(i)];
        expected.push_back(-(ti * std::log(pi) + (1 - ti) * std::log(1 - pi)));
    }
    require_reductions([&](Reduction r) { return F::binary_cross_entropy(p, t, r); }, {4}, expected);
    // p = 0 with t = 1 and p = 1 with t = 0: log clamped at -100, so the loss is 100
    require_values(F::binary_cross_entropy(f64({0, 1, 0}), f64({1, 0, 0}), Reduction::None), {3}, {100, 100, 0});
    // weights broadcast over the input
    auto w = f64({2});
    require_values(F::binary_cross_entropy(p, t, w, Reduction::Sum), {},
                   {2 * (expected[0] + expected[1] + expected[2] + expected[3])});
    // gradient: (p - t) / (p (1 - p)), finite (denominator clamped at 1e-12) at 0 and 1
    auto x = f64({0.2, 0.0, 1.0}).requires_grad_();
    F::binary_cross_entropy(x, f64({1, 0, 0}), Reduction::Sum).backward();
    CHECK(values(x.grad())[0] == Approx((0.2 - 1) / (0.2 * 0.8)));
    CHECK(values(x.grad())[1] == 0.0);
    CHECK(values(x.grad())[2] == Approx(1e12));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::binary_cross_entropy(tg::sigmoid(in[0]), tg::sigmoid(in[1])); },
                      (Inputs{leaf({2, 3}), leaf({2, 3})}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            return F::binary_cross_entropy(tg::sigmoid(in[0].t()), tg::sigmoid(in[1]), f64({0.5, 2, 1.5}), Reduction::None);
        },
        (Inputs{leaf({3, 2}), leaf({2, 3})}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            tg::AutoGradMode on(true);
            auto l = F::binary_cross_entropy(tg::sigmoid(in[0]), tg::sigmoid(in[1]), Reduction::Sum);
            auto g = tg::autograd::grad({l}, {in[0]}, {}, false, true)[0];
            return (g * g).sum();
        },
        (Inputs{leaf({4}), leaf({4})}));
    REQUIRE_TG_ERROR(F::binary_cross_entropy(f64({1.5}), f64({1})), "binary_cross_entropy", "[0, 1]", "[1]");
    REQUIRE_TG_ERROR(F::binary_cross_entropy(f64({0.5}), f64({1, 0})), "binary_cross_entropy", "[1]", "[2]");
    REQUIRE_TG_ERROR(F::binary_cross_entropy(p, t, f64({1, 2})), "binary_cross_entropy", "[2]", "[4]");
}

TEST_CASE("cosine_similarity and pairwise_distance: libtorch's formulas, eps, broadcasting, gradients") {
    auto a = tg::tensor({{1, 2, 3}, {0, 0, 0}}, tg::kFloat64), b = tg::tensor({{3, -1, 2}, {1, 1, 1}}, tg::kFloat64);
    auto cs = tg::cosine_similarity(a, b);
    require_values(cs, {2}, {cosine({1, 2, 3}, {3, -1, 2}), 0.0});
    require_values(tg::cosine_similarity(a, b, 0), {3}, {cosine({1, 0}, {3, 1}), cosine({2, 0}, {-1, 1}), cosine({3, 0}, {2, 1})});
    require_values(F::cosine_similarity(a, f64({3, -1, 2})), {2}, {cosine({1, 2, 3}, {3, -1, 2}), 0.0});  // broadcast
    auto d = tg::pairwise_distance(a, b);
    const double e = 1e-6;
    require_values(d, {2}, {std::sqrt((-2 + e) * (-2 + e) + (3 + e) * (3 + e) + (1 + e) * (1 + e)), std::sqrt(3 * (-1 + e) * (-1 + e))});
    require_values(tg::pairwise_distance(a, b, 1.0, 0.0, true), {2, 1}, {6, 3});
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::cosine_similarity(in[0].t(), in[1], 0); },
                      (Inputs{leaf({4, 3}), leaf({1, 4})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::pairwise_distance(in[0], in[1].t(), 3.0); },
                      (Inputs{leaf({2, 3}), leaf({3, 2})}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            tg::AutoGradMode on(true);
            auto g = tg::autograd::grad({tg::cosine_similarity(in[0], in[1]).sum()}, {in[0]}, {}, false, true)[0];
            return (g * g).sum();
        },
        (Inputs{leaf({2, 3}), leaf({2, 3})}));
    REQUIRE_TG_ERROR(tg::cosine_similarity(a, tg::zeros({2, 4}, tg::kFloat64)), "cosine_similarity", "[2, 3]", "[2, 4]");
    REQUIRE_TG_ERROR(tg::cosine_similarity(a, b, 2), "cosine_similarity", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::cosine_similarity(a, b.to(tg::kFloat32)), "cosine_similarity", "float32", "[2, 3]");
    REQUIRE_TG_ERROR(tg::pairwise_distance(a, b, 0.0), "pairwise_distance", "p must be positive", "[2, 3]");
    REQUIRE_TG_ERROR(tg::pairwise_distance(a, tg::zeros({4}, tg::kFloat64)), "pairwise_distance", "[2, 3]", "[4]");
}

TEST_CASE("margin_ranking, cosine_embedding and triplet_margin losses: closed forms, gradients, errors") {
    auto x1 = f64({1, 2, 3}), x2 = f64({2, 2, 0}), y = f64({1, -1, 1});
    // max(0, -y (x1 - x2) + margin)
    require_reductions([&](Reduction r) { return F::margin_ranking_loss(x1, x2, y, 0.5, r); }, {3}, {1.5, 0.5, 0});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::margin_ranking_loss(in[0], in[1], f64({1, -1, 1}), 0.1); },
                      (Inputs{leaf({3}), leaf({3})}));

    auto a = tg::tensor({{1, 0}, {1, 1}, {0, 2}}, tg::kFloat64), b = tg::tensor({{1, 1}, {-1, 1}, {0, 1}}, tg::kFloat64);
    auto t = f64({1, -1, -1});
    const double c0 = cosine({1, 0}, {1, 1}, 1e-12), c1 = cosine({1, 1}, {-1, 1}, 1e-12), c2 = cosine({0, 2}, {0, 1}, 1e-12);
    require_reductions([&](Reduction r) { return F::cosine_embedding_loss(a, b, t, 0.2, r); }, {3},
                       {1 - c0, std::max(0.0, c1 - 0.2), std::max(0.0, c2 - 0.2)});
    require_values(F::cosine_embedding_loss(f64({1, 0}), f64({1, 1}), tg::scalar_tensor(1, tg::kFloat64), 0, Reduction::None),
                   {}, {1 - c0});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::cosine_embedding_loss(in[0], in[1].t(), f64({1, -1}), -0.5); },
                      (Inputs{leaf({2, 3}), leaf({3, 2})}));

    auto anc = tg::tensor({{0, 0}, {1, 1}}, tg::kFloat64), pos = tg::tensor({{3, 4}, {1, 2}}, tg::kFloat64),
         neg = tg::tensor({{0, 1}, {4, 5}}, tg::kFloat64);
    auto dist = [](const tg::Tensor& p, const tg::Tensor& q) { return values(tg::pairwise_distance(p, q)); };
    const auto dap = dist(anc, pos), dan = dist(anc, neg), dpn = dist(pos, neg);
    require_reductions([&](Reduction r) { return F::triplet_margin_loss(anc, pos, neg, 1.0, 2.0, 1e-6, false, r); }, {2},
                       {std::max(0.0, 1 + dap[0] - dan[0]), std::max(0.0, 1 + dap[1] - dan[1])});
    require_values(F::triplet_margin_loss(anc, pos, neg, 1.0, 2.0, 1e-6, true, Reduction::None), {2},
                   {std::max(0.0, 1 + dap[0] - std::min(dan[0], dpn[0])), std::max(0.0, 1 + dap[1] - std::min(dan[1], dpn[1]))});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::triplet_margin_loss(in[0], in[1], in[2], 3.0, 1.5, 1e-6, true); },
                      (Inputs{leaf({3, 4}), leaf({3, 4}), leaf({3, 4})}));

    REQUIRE_TG_ERROR(F::margin_ranking_loss(x1, f64({1, 2}), y), "margin_ranking_loss", "[3]", "[2]");
    REQUIRE_TG_ERROR(F::margin_ranking_loss(x1, x2, f64({1})), "margin_ranking_loss", "[3]", "[1]");
    REQUIRE_TG_ERROR(F::cosine_embedding_loss(a, b, f64({1, 0, 1})), "cosine_embedding_loss", "labels must be -1 or 1", "[3]");
    REQUIRE_TG_ERROR(F::cosine_embedding_loss(a, b, f64({1, 1})), "cosine_embedding_loss", "[2]", "[3, 2]");
    REQUIRE_TG_ERROR(F::cosine_embedding_loss(tg::zeros({1, 2, 2}, tg::kFloat64), tg::zeros({1, 2, 2}, tg::kFloat64), f64({1})),
                     "cosine_embedding_loss", "[1, 2, 2]");
    REQUIRE_TG_ERROR(F::triplet_margin_loss(anc, pos, f64({1, 2})), "triplet_margin_loss", "[2, 2]", "[2]");
}
