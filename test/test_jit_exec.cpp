// tg::jit's executor: cached plans, the memory plan (no allocator blocks on a planned run)
// and elementwise fusion, against eager results bit for bit.
#include <cstring>
#include <thread>

#include "jit/memory_plan.hpp"
#include "tensor/allocator.hpp"
#include "tensor/packed_linear.hpp"
#include "tensor/tensor_impl.hpp"

#include "test_support.hpp"

using namespace tg;
namespace F = tg::nn::functional;

namespace {

// Same shape and the same float32 bits (NaNs included).
bool bitwise_equal(const Tensor& a, const Tensor& b) {
    if (a.sizes() != b.sizes() || a.dtype() != kFloat32 || b.dtype() != kFloat32) return false;
    const Tensor ca = a.contiguous(), cb = b.contiguous();
    return std::memcmp(ca.data_ptr<float>(), cb.data_ptr<float>(), static_cast<std::size_t>(a.numel()) * sizeof(float)) == 0;
}

// Largest |a - b| in units of float32's spacing at b (1 = one ulp).
double max_ulps(const Tensor& a, const Tensor& b) {
    const auto x = a.to_vector<double>(), y = b.to_vector<double>();
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double ulp = std::max(std::abs(y[i]), 1e-30) * std::ldexp(1.0, -23);
        worst = std::max(worst, std::abs(x[i] - y[i]) / ulp);
    }
    return worst;
}

jit::TraceOptions dynamic_batch() {
    jit::TraceOptions options;
    options.dynamic_batch = true;
    return options;
}

Tensor eager(nn::Module& net, const Tensor& x) {
    NoGradGuard no_grad;
    return net.forward(x);
}

// Runs `g` on x twice more (after a first run that makes the plan) and returns the block
// acquisitions of the last run.
std::uint64_t blocks_taken_by_planned_run(const jit::Graph& g, const Tensor& x, Tensor& out) {
    g.run({{"input", x}});
    const std::uint64_t before = tg::detail::block_acquisitions();
    out = g.run({{"input", x}})[0];
    return tg::detail::block_acquisitions() - before;
}

// Four threads run `g` 50 times each on inputs[k] at once; how many results were not
// wants[k] bit for bit.
int wrong_concurrent_runs(const jit::Graph& g, const std::vector<Tensor>& inputs, const std::vector<Tensor>& wants) {
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                const std::size_t k = static_cast<std::size_t>(t + i) % inputs.size();
                if (!bitwise_equal(g.run({{"input", inputs[k]}})[0], wants[k])) ++wrong;
            }
        });
    for (auto& th : threads) th.join();
    return wrong.load();
}

}  // namespace

TEST_CASE("jit executor: a planned MLP run takes no blocks from the allocator and matches eager bit for bit") {
    manual_seed(11);
    nn::Sequential mlp(nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 10));
    jit::Graph g = jit::trace(mlp, randn({4, 784}), dynamic_batch());

    {  // the counter sees the blocks a run takes (else the zeros below prove nothing)
        const std::uint64_t before = tg::detail::block_acquisitions();
        Tensor big = randn({64, 784});
        CHECK(tg::detail::block_acquisitions() > before);
    }
    jit::Graph fresh = jit::trace(mlp, randn({4, 784}), dynamic_batch());
    const std::uint64_t before_first = tg::detail::block_acquisitions();
    fresh.run({{"input", randn({64, 784})}});
    CHECK(tg::detail::block_acquisitions() - before_first >= 2);  // the first run records: it allocates

    for (std::int64_t batch : {1, 64, 3, 1}) {
        INFO("batch " << batch);
        const Tensor x = randn({batch, 784});
        Tensor got;
        const std::uint64_t taken = blocks_taken_by_planned_run(g, x, got);
        // Only the fetched logits come from the allocator, and only when they are too big to
        // live inside their tensor (64 bytes): they go to the caller, so never the arena.
        CHECK(taken == (batch * 10 * 4 > 64 ? 1u : 0u));
        CHECK(bitwise_equal(got, eager(mlp, x)));
        // The caller's result is not overwritten by later runs.
        const Tensor kept = got.clone();
        g.run({{"input", randn({batch, 784})}});
        CHECK(bitwise_equal(got, kept));
    }
}

TEST_CASE("jit executor: a planned CNN run takes no blocks from the allocator and matches eager bit for bit") {
    manual_seed(12);
    nn::Sequential cnn(nn::Conv2d(nn::Conv2dOptions(1, 8, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(nn::Conv2dOptions(8, 16, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                       nn::Linear(16 * 7 * 7, 64), nn::ReLU(), nn::Linear(64, 10));
    cnn.eval();
    jit::Graph g = jit::trace(cnn, randn({2, 1, 28, 28}), dynamic_batch());
    for (std::int64_t batch : {1, 8, 1}) {
        INFO("batch " << batch);
        for (int round = 0; round < 2; ++round) {
            const Tensor x = randn({batch, 1, 28, 28});
            Tensor got;
            const std::uint64_t taken = blocks_taken_by_planned_run(g, x, got);
            CHECK(taken == (batch * 10 * 4 > 64 ? 1u : 0u));
            CHECK(bitwise_equal(got, eager(cnn, x)));
        }
    }
}

TEST_CASE("jit executor: elementwise chains run fused, match eager, and never hide a fetched value") {
    manual_seed(13);
    Tensor w = randn({6, 5}), b = randn({5});
    auto fn = [&](const std::vector<Tensor>& in) {
        Tensor pre = matmul(in[0], w) + b;                         // add: row broadcast
        Tensor h = leaky_relu(relu(pre) * 2.0 - in[1], 0.1) / 3.0;  // mul scalar, sub full, div scalar
        Tensor t = tanh(h);
        Tensor gate = sigmoid(in[1]) * 0.5;
        return std::vector<Tensor>{t + gate};  // two chains meet in the add
    };
    jit::TraceOptions options;
    options.input_names = {"x", "y"};
    options.dynamic_batch = true;
    jit::Graph g = jit::trace(fn, {randn({3, 6}), randn({3, 5})}, options);
    const std::string text = g.str();
    INFO(text);
    CHECK(text.find("fused[add, relu, mul, sub, leaky_relu, div, tanh, sigmoid, mul, add]") != std::string::npos);
    CHECK(text.find("one pass") != std::string::npos);
    CHECK(g.to_dot().find("cluster_fused_0") != std::string::npos);

    for (std::int64_t batch : {3, 700, 1}) {  // 700 x 5 spans several 1024-element chunks
        INFO("batch " << batch);
        const Tensor x = randn({batch, 6}), y = randn({batch, 5});
        const Tensor want = fn({x, y})[0];
        for (int run = 0; run < 2; ++run) {
            const Tensor got = g.run({{"x", x}, {"y", y}})[0];
            // The same expressions on the same types as the eager ops: the same bits; 1 ulp
            // is what a vectorised tanh/sigmoid could differ by at a chunk's edge.
            CHECK(max_ulps(got, want) <= 1.0);
            CHECK(g.last_run_node_count() == g.nodes().size());
        }
    }
    // Arithmetic-only chains give the same bits.
    auto arith = [&](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{relu((in[0] + b) * in[0] - 0.25) / (in[0] * in[0] + 1.0)};
    };
    jit::Graph ga = jit::trace(arith, {randn({4, 5})});
    CHECK(ga.str().find("fused[") != std::string::npos);
    const Tensor xa = randn({4, 5});
    CHECK(bitwise_equal(ga.run({{"input", xa}})[0], arith({xa})[0]));

    // Fetching an intermediate of the chain: it is computed and returned, not fused away.
    std::string relu_name;
    for (const auto& node : g.nodes())
        if (node.kind == "relu") relu_name = g.value(node.outputs[0]).name;
    REQUIRE(!relu_name.empty());
    const Tensor x = randn({3, 6}), y = randn({3, 5});
    const auto both = g.run({{"x", x}, {"y", y}}, {relu_name, g.value(g.outputs()[0]).name});
    CHECK(bitwise_equal(both[0], relu(matmul(x, w) + b)));
    CHECK(max_ulps(both[1], fn({x, y})[0]) <= 1.0);
}

TEST_CASE("jit executor: a value read twice ends a chain") {
    manual_seed(14);
    auto fn = [](const std::vector<Tensor>& in) {
        Tensor a = in[0] * 2.0;
        return std::vector<Tensor>{relu(a) + a};  // a is read by relu and by the add
    };
    jit::Graph g = jit::trace(fn, {randn({2, 3})});
    INFO(g.str());
    // mul's output has two readers: it stays a value of its own; relu + add still fuse.
    CHECK(g.str().find("fused[relu, add]") != std::string::npos);
    const Tensor x = randn({2, 3});
    CHECK(bitwise_equal(g.run({{"input", x}})[0], fn({x})[0]));
}

TEST_CASE("jit executor: runs from several threads at once agree with eager") {
    manual_seed(15);
    nn::Sequential mlp(nn::Linear(32, 64), nn::Tanh(), nn::Linear(64, 4));
    jit::Graph g = jit::trace(mlp, randn({8, 32}), dynamic_batch());
    std::vector<Tensor> inputs, wants;
    for (int k = 0; k < 4; ++k) {
        inputs.push_back(randn({8 + k, 32}));
        wants.push_back(eager(mlp, inputs.back()));
    }
    CHECK(wrong_concurrent_runs(g, inputs, wants) == 0);
}

TEST_CASE("jit executor: the arena places blocks by liveness") {
    using jit::detail::PlannedBlock;
    // a [0,1] and b [2,3] never live together: one place. c [1,2] overlaps both.
    std::vector<PlannedBlock> blocks = {{1000, 0, 1, 0}, {1000, 2, 3, 0}, {500, 1, 2, 0}, {4000, 0, 0, -1}};
    const std::size_t total = jit::detail::assign_offsets(blocks);
    CHECK(blocks[0].offset == blocks[1].offset);
    CHECK(blocks[3].offset == -1);  // kept out
    const auto c0 = blocks[2].offset, c1 = c0 + 512, a0 = blocks[0].offset, a1 = a0 + 1024;
    CHECK((c1 <= a0 || a1 <= c0));  // c does not overlap a (nor b, at the same place)
    CHECK(total == 1024 + 512);
    // Temporaries of different steps share a place even behind longer-lived blocks.
    std::vector<PlannedBlock> gap = {{4096, 0, 2, 0}, {1024, 0, 0, 0}, {1024, 1, 1, 0}, {2048, 0, 2, 0}};
    CHECK(jit::detail::assign_offsets(gap) == 4096 + 2048 + 1024);
    CHECK(gap[1].offset == gap[2].offset);

    // The arena hands the blocks out in the recorded order and sizes; anything else
    // diverges it, and from then on it declines (the allocator serves).
    jit::detail::Arena arena;
    arena.lay_out({{1000, 0, 1, 0}, {500, 1, 1, 0}, {1000, 1, 2, -1}});
    void* first = arena.take(1000);
    CHECK(first != nullptr);
    CHECK(arena.holds(first));
    arena.end_step(0);
    CHECK(!arena.diverged());
    CHECK(arena.take(500) != nullptr);
    CHECK(arena.take(1000) == nullptr);  // planned out of the arena (a fetched value)
    arena.end_step(1);
    CHECK(!arena.diverged());
    arena.rewind();
    CHECK(arena.take(1000) == first);
    arena.end_step(0);
    CHECK(arena.take(400) == nullptr);  // not the size recorded here
    CHECK(arena.diverged());
    CHECK(arena.take(1000) == nullptr);
    arena.rewind();
    CHECK(arena.take(1000) == first);
    arena.end_step(0);
    arena.end_step(1);  // step 1 took fewer blocks than recorded
    CHECK(arena.diverged());
}

// ---- optimize_for_inference: linear layers on packed weights ----------------------------

namespace {

// max |got - want| / max |want|, with want computed in float64.
double relative_error(const Tensor& got, const Tensor& want) {
    REQUIRE(got.sizes() == want.sizes());
    const auto g = got.to_vector<double>(), w = want.to_vector<double>();
    double worst = 0, scale = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
        worst = std::max(worst, std::abs(g[i] - w[i]));
        scale = std::max(scale, std::abs(w[i]));
    }
    return worst / std::max(scale, 1e-30);
}

Tensor parameter(const nn::Module& net, const std::string& name) {
    for (const auto& [key, t] : net.named_parameters())
        if (key == name) return t;
    FAIL("no parameter " << name);
    return {};
}

// Linear (+ activation) layers of `net` in float64: (name of weight's module, activation).
Tensor float64_forward(const nn::Module& net, const Tensor& x, const std::vector<std::pair<std::string, char>>& layers) {
    NoGradGuard no_grad;
    Tensor h = x.to(kFloat64);
    for (const auto& [module, activation] : layers) {
        h = matmul(h, parameter(net, module + ".weight").to(kFloat64).t());
        for (const auto& [key, t] : net.named_parameters())
            if (key == module + ".bias") h = h + t.to(kFloat64);
        if (activation == 'r') h = relu(h);
        if (activation == 't') h = tanh(h);
    }
    return h;
}

std::string first_output_of(const jit::Graph& g, const std::string& kind) {
    for (const auto& node : g.nodes())
        if (node.kind == kind) return g.value(node.outputs[0]).name;
    FAIL("no " << kind << " node");
    return {};
}

}  // namespace

TEST_CASE("optimize_for_inference: linear layers match a float64 reference at any batch") {
    manual_seed(21);
    nn::Sequential relu_mlp(nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 10));
    nn::Sequential tanh_mlp(nn::Linear(nn::LinearOptions(48, 96).bias(false)), nn::Tanh(), nn::Linear(96, 8));
    const jit::Graph plain = jit::trace(relu_mlp, randn({4, 784}), dynamic_batch());
    const jit::Graph fast = jit::optimize_for_inference(plain);
    const jit::Graph fast_tanh = jit::optimize_for_inference(jit::trace(tanh_mlp, randn({4, 48}), dynamic_batch()));
    CHECK_FALSE(plain.optimized_for_inference());
    CHECK(fast.optimized_for_inference());
    for (std::int64_t batch : {1, 64, 3, 1, 200}) {
        INFO("batch " << batch);
        for (int round = 0; round < 2; ++round) {  // the first run makes the plan, the second uses it
            const Tensor x = randn({batch, 784}), x48 = randn({batch, 48});
            CHECK(relative_error(fast.run({{"input", x}})[0], float64_forward(relu_mlp, x, {{"0", 'r'}, {"2", '-'}})) < 1e-5);
            CHECK(relative_error(fast_tanh.run({{"input", x48}})[0], float64_forward(tanh_mlp, x48, {{"0", 't'}, {"2", '-'}})) < 1e-5);
        }
    }
    CHECK(plain.run({{"input", randn({2, 784})}})[0].sizes() == Shape{2, 10});  // the original graph is untouched
}

TEST_CASE("optimize_for_inference: weight changes made through tapegrad are seen") {
    manual_seed(22);
    nn::Sequential mlp(nn::Linear(64, 128), nn::ReLU(), nn::Linear(128, 10));
    const jit::Graph fast = jit::optimize_for_inference(jit::trace(mlp, randn({32, 64}), dynamic_batch()));
    const std::vector<std::pair<std::string, char>> layers{{"0", 'r'}, {"2", '-'}};
    const Tensor x = randn({32, 64});
    CHECK(relative_error(fast.run({{"input", x}})[0], float64_forward(mlp, x, layers)) < 1e-5);
    {
        NoGradGuard no_grad;
        parameter(mlp, "0.weight").mul_(-0.5);  // an in-place op bumps the version
    }
    CHECK(relative_error(fast.run({{"input", x}})[0], float64_forward(mlp, x, layers)) < 1e-5);
    optim::SGD sgd(mlp.parameters(), optim::SGDOptions(0.5));
    for (int step = 0; step < 2; ++step) {
        sgd.zero_grad();
        mlp.forward(x).pow(2).sum().backward();
        sgd.step();
        CHECK(relative_error(fast.run({{"input", x}})[0], float64_forward(mlp, x, layers)) < 1e-5);
    }
}

TEST_CASE("optimize_for_inference: a fetched linear output keeps its negatives") {
    manual_seed(23);
    nn::Sequential mlp(nn::Linear(16, 32), nn::ReLU(), nn::Linear(32, 4));
    const jit::Graph fast = jit::optimize_for_inference(jit::trace(mlp, randn({8, 16}), dynamic_batch()));
    const std::string hidden = first_output_of(fast, "linear"), activated = first_output_of(fast, "relu");
    const Tensor x = randn({8, 16});
    const auto fetched = fast.run({{"input", x}}, {hidden, activated, "output"});
    const Tensor want_hidden = float64_forward(mlp, x, {{"0", '-'}});
    CHECK(want_hidden.min().item<double>() < 0);  // else the check below proves nothing
    CHECK(relative_error(fetched[0], want_hidden) < 1e-5);
    CHECK(relative_error(fetched[1], relu(want_hidden)) < 1e-5);
    CHECK(relative_error(fetched[2], float64_forward(mlp, x, {{"0", 'r'}, {"2", '-'}})) < 1e-5);
    // Fetching only the output again (the ReLU may now join the linear) agrees.
    CHECK(relative_error(fast.run({{"input", x}})[0], float64_forward(mlp, x, {{"0", 'r'}, {"2", '-'}})) < 1e-5);
}

TEST_CASE("optimize_for_inference: runs from several threads at once agree") {
    manual_seed(24);
    nn::Sequential mlp(nn::Linear(32, 64), nn::ReLU(), nn::Linear(64, 4));
    const jit::Graph fast = jit::optimize_for_inference(jit::trace(mlp, randn({8, 32}), dynamic_batch()));
    std::vector<Tensor> inputs, wants;
    for (int k = 0; k < 4; ++k) {
        inputs.push_back(randn({8 + k, 32}));
        wants.push_back(fast.run({{"input", inputs.back()}})[0]);
        CHECK(relative_error(wants.back(), float64_forward(mlp, inputs.back(), {{"0", 'r'}, {"2", '-'}})) < 1e-5);
    }
    CHECK(wrong_concurrent_runs(fast, inputs, wants) == 0);
}

TEST_CASE("PackedLinear: matches a double loop and re-packs exactly when the weights change") {
    manual_seed(25);
    const std::int64_t rows = 5, in = 40, out = 24;
    for (bool with_bias : {false, true})
        for (bool with_relu : {false, true}) {
            INFO("bias " << with_bias << ", relu " << with_relu);
            auto kernel = tg::detail::PackedLinear::make(rows, in, out, with_bias, with_relu);
            if (!kernel) {
                WARN("oneDNN is not compiled in or declines this shape: the executor keeps eager linear");
                return;
            }
            Tensor x = randn({rows, in}), w = randn({out, in}), b = randn({out}), y = empty({rows, out});
            auto check_against_loop = [&] {
                REQUIRE(kernel->run(x.data_ptr<float>(), tg::impl_of(w).storage(), w.data_ptr<float>(),
                                    with_bias ? b.data_ptr<float>() : nullptr, y.data_ptr<float>()));
                const auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>(),
                           yv = y.to_vector<double>();
                double worst = 0;
                for (std::int64_t r = 0; r < rows; ++r)
                    for (std::int64_t o = 0; o < out; ++o) {
                        double acc = with_bias ? bv[std::size_t(o)] : 0.0;
                        for (std::int64_t i = 0; i < in; ++i) acc += xv[std::size_t(r * in + i)] * wv[std::size_t(o * in + i)];
                        if (with_relu) acc = std::max(acc, 0.0);
                        worst = std::max(worst, std::abs(yv[std::size_t(r * out + o)] - acc));
                    }
                CHECK(worst < 1e-4);
            };
            check_against_loop();
            const std::uint64_t packs = kernel->packs();
            check_against_loop();
            CHECK(kernel->packs() == packs);  // same storage, same version: the packed copy serves
            {
                NoGradGuard no_grad;
                w.mul_(-2.0);  // version bump
            }
            check_against_loop();
            CHECK(kernel->packs() <= packs + 1);
            w = randn({out, in});  // another storage
            check_against_loop();
            CHECK(kernel->packs() <= packs + 2);
            if (packs > 0) CHECK(kernel->packs() == packs + 2);  // blocked weights: each change re-packed once
        }
}

TEST_CASE("optimize_for_inference: an input the packed kernel cannot take runs the eager kernels") {
    manual_seed(26);
    nn::Linear layer(16, 8);
    // The linear reads a transposed (non-contiguous) input, which the packed kernel declines
    // at run time: eager linear runs, then the ReLU the step absorbed.
    auto fn = [&](const std::vector<Tensor>& in) { return std::vector<Tensor>{relu(layer.forward(in[0].t()))}; };
    jit::TraceOptions options;
    options.parameters = layer.named_parameters();
    const jit::Graph fast = jit::optimize_for_inference(jit::trace(fn, {randn({16, 4})}, options));
    const Tensor x = randn({16, 4});
    NoGradGuard no_grad;
    const Tensor want = relu(matmul(x.t().to(kFloat64), layer.weight.to(kFloat64).t()) + layer.bias.to(kFloat64));
    CHECK(want.min().item<double>() == 0.0);  // the ReLU clipped something
    CHECK(relative_error(fast.run({{"input", x}})[0], want) < 1e-5);
}
