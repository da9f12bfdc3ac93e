// Anomaly mode (tg::autograd::DetectAnomalyGuard): the first op whose forward output or
// backward gradient holds NaN/Inf throws, naming the op, input shapes, scope and names.
#include <cmath>
#include <limits>

#include "test_support.hpp"

using tg::autograd::AnomalyMode;
using tg::autograd::DetectAnomalyGuard;

namespace {

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const tg::Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("anomaly mode is off by default and the guard restores it") {
    CHECK_FALSE(AnomalyMode::is_enabled());
    {
        DetectAnomalyGuard outer;
        CHECK(AnomalyMode::is_enabled());
        {
            DetectAnomalyGuard inner;
            CHECK(AnomalyMode::is_enabled());
        }
        CHECK(AnomalyMode::is_enabled());
    }
    CHECK_FALSE(AnomalyMode::is_enabled());
}

TEST_CASE("off: NaN and Inf flow silently (no throw)") {
    tg::Tensor x = tg::tensor({-1.0, 0.0, 4.0}).requires_grad_();
    tg::Tensor y;
    REQUIRE_NOTHROW(y = tg::log(x));
    auto v = tgtest::values(y);
    CHECK(std::isnan(v[0]));
    CHECK(std::isinf(v[1]));
    CHECK(v[2] == Approx(std::log(4.0)));
    tg::Tensor z = tg::tensor({0.0}).requires_grad_();
    tg::Tensor s = (tg::sqrt(z) * 0.0).sum();
    REQUIRE_NOTHROW(s.backward());
    CHECK(std::isnan(tgtest::values(z.grad())[0]));
}

TEST_CASE("forward: log of a negative number names the op, shapes, scope and input name") {
    DetectAnomalyGuard anomaly;
    tg::Tensor x = tg::tensor({{1.0, -2.0}, {3.0, 4.0}}, tg::kFloat64).requires_grad_();
    x.set_name("x");
    tg::Tensor ok = x * 2.0;  // finite: no error
    const std::string msg = error_of([&] {
        tg::name_scope block("block");
        tg::Tensor y = tg::log(x);
        tg::Tensor z = tg::exp(y);  // never reached: the first op is the one named
    });
    INFO(msg);
    CHECK(msg.rfind("log: anomaly detected in the forward pass", 0) == 0);
    CHECK(msg.find("output 0 (shape [2, 2], float64) holds NaN") != std::string::npos);
    CHECK(msg.find("input shapes: [2, 2] 'x'") != std::string::npos);
    CHECK(msg.find("scope: 'block'") != std::string::npos);
    CHECK(tg::current_name_scope().empty());
}

TEST_CASE("forward: 0/0 in a module names the module path; Inf is reported too") {
    DetectAnomalyGuard anomaly;
    tg::Tensor w = tg::zeros({3}).requires_grad_();
    tg::nn::Sequential outer;
    outer.push_back("encoder", std::make_shared<tg::nn::Sequential>(
                                   tg::nn::Functional([&](const tg::Tensor& x) { return x / w; })));
    const std::string msg = error_of([&] { outer(tg::tensor({0.0, 1.0, 2.0})); });
    INFO(msg);
    CHECK(msg.rfind("div: anomaly detected in the forward pass", 0) == 0);
    CHECK(msg.find("holds NaN") != std::string::npos);  // 0/0 comes first
    CHECK(msg.find("input shapes: [3], [3]") != std::string::npos);
    CHECK(msg.find("scope: 'encoder/0'") != std::string::npos);

    tg::Tensor a = tg::tensor({1.0, 2.0}).requires_grad_();
    const std::string inf = error_of([&] { tg::exp(a * 100.0f); });
    INFO(inf);
    CHECK(inf.rfind("exp: anomaly", 0) == 0);
    CHECK(inf.find("(shape [2], float32) holds Inf") != std::string::npos);
    CHECK(inf.find("no scope") != std::string::npos);

    // An input that was NaN already (data) is pointed out.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::string data = error_of([&] { tg::tensor({nan}) * w.narrow(0, 0, 1); });
    CHECK(data.find("input 0 already held NaN") != std::string::npos);
}

TEST_CASE("backward: sqrt at 0 gives an Inf gradient, 0 * Inf a NaN one") {
    DetectAnomalyGuard anomaly;
    tg::Tensor x = tg::tensor({0.0, 1.0}).requires_grad_();
    tg::Tensor h = tg::tanh(x);
    h.set_name("hidden");
    tg::Tensor y;
    {
        tg::name_scope scope("rnn");
        y = tg::sqrt(h).sum();
    }
    const std::string inf = error_of([&] { y.backward(); });
    INFO(inf);
    CHECK(inf.rfind("sqrt: anomaly detected in the backward pass", 0) == 0);
    CHECK(inf.find("the gradient for input 0 'hidden' (shape [2]) holds Inf") != std::string::npos);
    CHECK(inf.find("input shapes: [2] 'hidden'") != std::string::npos);
    CHECK(inf.find("scope: 'rnn'") != std::string::npos);
    CHECK_FALSE(x.grad().defined());  // stopped before reaching the leaf

    tg::Tensor z = tg::tensor({0.0, 4.0}).requires_grad_();
    tg::Tensor s = (tg::sqrt(z) * 0.0).sum();  // forward finite: 0 * 0
    const std::string nan = error_of([&] { s.backward(); });
    INFO(nan);
    CHECK(nan.rfind("sqrt: anomaly detected in the backward pass", 0) == 0);
    CHECK(nan.find("holds NaN") != std::string::npos);
    CHECK(nan.find("input shapes: [2]") != std::string::npos);
}

TEST_CASE("backward: a node recorded before the guard still gets checked by shape") {
    tg::Tensor z = tg::tensor({0.0}).requires_grad_();
    tg::Tensor s = tg::sqrt(z).sum();  // recorded with the mode off
    DetectAnomalyGuard anomaly;
    REQUIRE_TG_ERROR(s.backward(), "sqrt: anomaly detected in the backward pass", "holds Inf",
                     "input shapes: [1]");
}

TEST_CASE("on: finite computations behave exactly as when off") {
    DetectAnomalyGuard anomaly;
    tg::Tensor x = tg::tensor({1.0, 2.0, 3.0}).requires_grad_();
    tg::Tensor y = (tg::log(x) * x).sum();
    y.backward();
    auto g = tgtest::values(x.grad());
    for (int i = 0; i < 3; ++i) CHECK(g[i] == Approx(std::log(i + 1.0) + 1.0));
}
