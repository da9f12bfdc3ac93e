#include "sanitizers.hpp"
#include "test_support.hpp"

#include <fstream>

using namespace tgtest;

TEST_CASE("backward accumulates into leaves, and sums gradients of reused tensors") {
    auto a = tg::tensor({2.0, 3.0}, tg::kFloat64).requires_grad_();
    auto b = tg::tensor({5.0, 7.0}, tg::kFloat64).requires_grad_();
    auto c = (a * b + a).sum();  // dc/da = b + 1, dc/db = a
    CHECK(c.grad_fn()->name() == "sum");
    c.backward();
    CHECK(values(a.grad()) == std::vector<double>{6, 8});
    CHECK(values(b.grad()) == std::vector<double>{2, 3});
    (a * a).sum().backward();  // accumulates 2a
    CHECK(values(a.grad()) == std::vector<double>{10, 14});
    a.zero_grad();
    CHECK_FALSE(a.grad().defined());
}

// The engine adds a tensor's gradients into the first one it received when nothing else
// can see that buffer; these cases hand it addends that share buffers (the same gradient
// passed to two inputs, a hook keeping its argument, a retained gradient).
TEST_CASE("gradients summed over many consumers stay right when addends share buffers") {
    auto x = tg::tensor({1.0, -2.0, 3.0}, tg::kFloat64).requires_grad_();
    auto y = x * 2.0;
    y.retain_grad();
    tg::Tensor kept;
    auto z = y * 1.0;
    z.register_hook([&](const tg::Tensor& g) { kept = g; return g; });  // holds z's gradient
    // y + y hands the same gradient tensor to both of its inputs; z's gradient goes on to y
    // while the hook still holds it.
    auto out = ((y + y) * 3.0 + z + y * y).sum();
    out.backward();
    // d out / d y = 6 + 1 + 2y; d out / d x = 2 * that
    const auto xv = values(x), yg = values(y.grad()), xg = values(x.grad());
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(yg[i] == 7.0 + 4.0 * xv[i]);
        CHECK(xg[i] == 2.0 * (7.0 + 4.0 * xv[i]));
    }
    CHECK(values(kept) == std::vector<double>{1, 1, 1});  // not overwritten by the sum

    // The outer add hands one tensor to r's node and to (y + q), which hands it on to y and
    // to q's node: y's sum must not be formed in that tensor while q's node still has to
    // read it (r's node runs between them).
    auto v = tg::tensor({0.25, -1.0}, tg::kFloat64).requires_grad_();
    auto q = v.exp(), r = v * 3.0;
    (((v + q) + r) * 2.0).sum().backward();
    const auto vv = values(v), vg = values(v.grad());
    for (std::size_t i = 0; i < 2; ++i) CHECK(vg[i] == Approx(2.0 * (4.0 + std::exp(vv[i]))));
    // The same with the caller's own gradient tensor, which must come back unchanged.
    v.zero_grad();
    auto seed = tg::tensor({1.0, 1.0}, tg::kFloat64);
    ((v + v.exp()) + v * 3.0).backward(seed);
    CHECK(values(seed) == std::vector<double>{1, 1});
    const auto vg2 = values(v.grad());
    for (std::size_t i = 0; i < 2; ++i) CHECK(vg2[i] == Approx(4.0 + std::exp(vv[i])));

    // A second pass accumulates into the leaf; create_graph keeps every sum differentiable.
    auto w = tg::tensor({0.5, 1.5}, tg::kFloat64).requires_grad_();
    auto f = (w * w + w * w * w + w).sum();  // w feeds four consumers
    auto g = tg::autograd::grad({f}, {w}, {}, false, true)[0];  // 2w + 3w^2 + 1
    auto gg = tg::autograd::grad({g.sum()}, {w})[0];             // 2 + 6w
    CHECK(values(g) == std::vector<double>{2 * 0.5 + 3 * 0.25 + 1, 2 * 1.5 + 3 * 2.25 + 1});
    CHECK(values(gg) == std::vector<double>{2 + 6 * 0.5, 2 + 6 * 1.5});
}

TEST_CASE("a second backward through a freed tape is a clear error; retain_graph allows it") {
    auto a = tg::tensor({1.0, 2.0}, tg::kFloat64).requires_grad_();
    auto y = (a * a).sum();
    y.backward({}, /*retain_graph=*/true);
    y.backward();
    CHECK(values(a.grad()) == std::vector<double>{4, 8});
    REQUIRE_TG_ERROR(y.backward(), "second time", "retain_graph");
}

TEST_CASE("no tape under NoGradGuard or without requires_grad") {
    auto a = tg::ones({2}).requires_grad_();
    {
        tg::NoGradGuard guard;
        auto y = a * 2;
        CHECK_FALSE(y.requires_grad());
        CHECK(y.grad_fn() == nullptr);
    }
    auto z = tg::ones({2}) * 2;
    CHECK_FALSE(z.requires_grad());
    REQUIRE_TG_ERROR(z.sum().backward(), "backward", "does not require grad");
    REQUIRE_TG_ERROR((a * 2).backward(), "backward", "one-element", "[2]");
}

TEST_CASE("detach cuts the tape (stop_gradient)") {
    auto a = tg::tensor({3.0}, tg::kFloat64).requires_grad_();
    auto y = a * a.detach();  // d/da = a (only the first factor)
    y.backward();
    CHECK(a.grad().item<double>() == 3.0);
}

TEST_CASE("an in-place write to a saved tensor is caught at backward") {
    auto a = tg::tensor({1.0, 2.0}, tg::kFloat64).requires_grad_();
    auto b = tg::tensor({3.0, 4.0}, tg::kFloat64);
    auto y = (a * b).sum();
    b.mul_(2.0);
    REQUIRE_TG_ERROR(y.backward(), "mul", "modified in place");
    REQUIRE_TG_ERROR(a.add_(1.0), "add_", "requires grad");
    {
        tg::NoGradGuard guard;
        a.add_(1.0);  // what an optimizer step does
    }
    CHECK(values(a) == std::vector<double>{2, 3});
}

TEST_CASE("autograd::grad returns gradients without touching .grad") {
    auto x = tg::tensor({2.0}, tg::kFloat64).requires_grad_();
    auto y = x * x * x;  // y = x^3
    auto g = tg::autograd::grad({y}, {x}, {}, false, /*create_graph=*/true);
    CHECK(g[0].item<double>() == Approx(12.0));  // 3x^2
    CHECK_FALSE(x.grad().defined());
    auto g2 = tg::autograd::grad({g[0]}, {x});
    CHECK(g2[0].item<double>() == Approx(12.0));  // 6x
    auto unused = tg::tensor({1.0}, tg::kFloat64).requires_grad_();
    auto z = x * 2;
    REQUIRE_TG_ERROR(tg::autograd::grad({z}, {unused}), "autograd::grad", "not used");
}

TEST_CASE("autograd::grad with named options (designated initializers) matches the positional form") {
    auto x = tg::tensor({2.0, -1.0}, tg::kFloat64).requires_grad_();
    auto y = (x * x * x).sum();  // dy/dx = 3x^2, d2y/dx2 = 6x
    auto g = tg::autograd::grad({y}, {x}, {.create_graph = true})[0];
    CHECK(values(g) == std::vector<double>{12.0, 3.0});
    CHECK(g.requires_grad());  // recorded: differentiable again
    CHECK(values(tg::autograd::grad({g.sum()}, {x})[0]) == std::vector<double>{12.0, -6.0});
    // grad_outputs weight a non-scalar output; retain_graph keeps the tape for a second call.
    auto v = x * 3.0;
    auto weighted = tg::autograd::grad({v}, {x}, {.grad_outputs = {tg::tensor({1.0, 10.0}, tg::kFloat64)},
                                                  .retain_graph = true})[0];
    CHECK(values(weighted) == std::vector<double>{3.0, 30.0});
    CHECK(values(tg::autograd::grad({v.sum()}, {x})[0]) == std::vector<double>{3.0, 3.0});
    // allow_unused: an undefined gradient instead of the error.
    auto unused = tg::tensor({1.0}, tg::kFloat64).requires_grad_();
    auto both = tg::autograd::grad({(x * 2.0).sum()}, {x, unused}, {.allow_unused = true});
    CHECK(values(both[0]) == std::vector<double>{2.0, 2.0});
    CHECK_FALSE(both[1].defined());
    REQUIRE_TG_ERROR(tg::autograd::grad({(x * 2.0).sum()}, {unused}, {.allow_unused = false}), "autograd::grad",
                     "not used");
}

TEST_CASE("gradients through broadcasting reduce to the input shape") {
    auto a = leaf({3, 1});
    auto b = leaf({4});
    auto fn = [](const std::vector<tg::Tensor>& in) { return in[0] * in[1] + in[0] / (in[1] * in[1] + 1.0); };
    REQUIRE_GRADCHECK(fn, (std::vector<tg::Tensor>{a, b}));
    REQUIRE_TG_ERROR(tg::ones({32, 10}) + tg::ones({32, 5}), "add", "[32, 10]", "[32, 5]", "dim 1: 10 vs 5");
}

TEST_CASE("a 100,000-node chain runs backward and frees without recursion") {
    auto x = tg::tensor({1.0}, tg::kFloat64).requires_grad_();
    tg::Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y * 1.0;
    y.backward();
    CHECK(x.grad().item<double>() == 1.0);
    tg::Tensor z = x;
    for (int i = 0; i < 100000; ++i) z = z + 0.0;
    z = tg::Tensor();  // destroying the unreleased tape must not overflow the stack
    CHECK(x.requires_grad());
}

namespace {
long resident_kb() {
    std::ifstream status("/proc/self/status");
    std::string key;
    long value = 0;
    while (status >> key) {
        if (key == "VmRSS:") {
            status >> value;
            return value;
        }
        std::getline(status, key);
    }
    return -1;
}
}  // namespace

TEST_CASE("a 10,000-step training loop keeps memory flat") {
    if (tgtest::kAddressSanitizer) {
        WARN("skipped under AddressSanitizer: its quarantine keeps freed memory resident");
        return;
    }
    tg::manual_seed(1);
    auto w = tg::randn({64, 32}).requires_grad_();
    auto x = tg::randn({16, 64});
    auto step = [&] {
        auto loss = (tg::mm(x, w) * tg::mm(x, w)).mean();
        loss.backward();
        tg::NoGradGuard guard;
        w.add_(w.grad(), -1e-4);
        w.zero_grad();
    };
    for (int i = 0; i < 1000; ++i) step();
    const long before = resident_kb();
    for (int i = 0; i < 10000; ++i) step();
    const long after = resident_kb();
    INFO("RSS before " << before << " kB, after " << after << " kB");
    CHECK(after - before < 2048);
}

TEST_CASE("the README's eager example fits its line") {
    tg::manual_seed(0);
    auto x = tg::randn({64, 3});
    auto y = tg::matmul(x, tg::tensor({1.0, -2.0, 0.5}).reshape({3, 1})) + 0.3;
    auto w = tg::zeros({3, 1}).requires_grad_();
    auto b = tg::zeros({1}).requires_grad_();
    for (int step = 0; step < 200; ++step) {
        auto loss = (tg::matmul(x, w) + b - y).pow(2).mean();
        loss.backward();
        tg::NoGradGuard no_grad;
        w.add_(w.grad(), -0.1);
        b.add_(b.grad(), -0.1);
        w.zero_grad();
        b.zero_grad();
    }
    const auto wv = values(w);
    CHECK(wv[0] == Approx(1.0).margin(1e-3));
    CHECK(wv[1] == Approx(-2.0).margin(1e-3));
    CHECK(wv[2] == Approx(0.5).margin(1e-3));
    CHECK(b.item<double>() == Approx(0.3).margin(1e-3));
}

TEST_CASE("hooks see and replace gradients; retain_grad keeps a non-leaf's gradient") {
    auto x = tg::tensor({1.0, 2.0}, tg::kFloat64).requires_grad_();
    auto h = x * 3.0;
    h.retain_grad();
    tg::Tensor seen;
    h.register_hook([&](const tg::Tensor& g) { seen = g.clone(); return g * 2.0; });
    h.sum().backward();
    CHECK(values(seen) == std::vector<double>{1, 1});
    CHECK(values(h.grad()) == std::vector<double>{1, 1});
    CHECK(values(x.grad()) == std::vector<double>{6, 6});  // 3 * (hooked 2 * 1)
    auto leaf = tg::tensor({1.0}, tg::kFloat64).requires_grad_();
    leaf.register_hook([](const tg::Tensor& g) { return g * 10.0; });
    (leaf * 2.0).backward();
    CHECK(leaf.grad().item<double>() == 20.0);
}

TEST_CASE("float32 and float64 mix by promotion and gradients come back in each input's dtype") {
    auto a = tg::ones({2}, tg::kFloat32).requires_grad_();
    auto b = tg::ones({2}, tg::kFloat64).requires_grad_();
    auto c = a * b * 2.0;
    CHECK(c.dtype() == tg::kFloat64);
    c.sum().backward();
    CHECK(a.grad().dtype() == tg::kFloat32);
    CHECK(values(a.grad()) == std::vector<double>{2, 2});
}
