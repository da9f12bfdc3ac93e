// tg::jit: tracing functions and modules into graphs, running them with feeds and
// fetches, and the errors for what cannot be traced.
#include <filesystem>
#include <sstream>

#include "tapegrad/onnx.hpp"

#include "test_support.hpp"

using namespace tg;
namespace F = tg::nn::functional;

namespace {

bool same(const Tensor& a, const Tensor& b) { return a.sizes() == b.sizes() && allclose(a, b, 1e-6, 1e-7); }

struct SmallCnn : nn::Module {
    SmallCnn() : nn::Module("SmallCnn") {
        conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1).bias(false)));
        bn1 = register_module("bn1", nn::BatchNorm2d(4));
        fc = register_module("fc", nn::Linear(4 * 4 * 4, 3));
    }
    Tensor forward(const Tensor& x) override {
        auto h = F::max_pool2d(relu(bn1->forward(conv1->forward(x))), {2});
        h = F::conv2d(h, conv1->weight.narrow(0, 0, 4).sum({1}, true).expand({4, 4, 3, 3}).contiguous() * 0.1, {},
                      {1, 1}, F::Padding::Same);
        return log_softmax(fc->forward(h.reshape({h.size(0), -1})), 1);
    }
    std::shared_ptr<nn::Conv2d> conv1;
    std::shared_ptr<nn::BatchNorm2d> bn1;
    std::shared_ptr<nn::Linear> fc;
};

}  // namespace

TEST_CASE("jit: a traced function replays on new inputs with its weights as named initializers") {
    manual_seed(1);
    Tensor w = randn({4, 3}), b = randn({3});
    auto fn = [&](const std::vector<Tensor>& in) {
        Tensor h = tanh(matmul(in[0], w) + b) * 2.0 - in[1];
        return std::vector<Tensor>{softmax(h, 1), h.sum({1})};
    };
    jit::TraceOptions options;
    options.parameters = {{"w", w}, {"b", b}};
    options.input_names = {"x", "y"};
    options.output_names = {"probs", "total"};
    jit::Graph g = jit::trace(fn, {randn({2, 4}), randn({2, 3})}, options);
    REQUIRE(g.inputs().size() == 2);
    REQUIRE(g.outputs().size() == 2);
    CHECK(g.value(g.outputs()[0]).name == "probs");
    std::vector<std::string> init_names;
    for (const auto& [id, t] : g.initializers()) init_names.push_back(g.value(id).name);
    CHECK(std::find(init_names.begin(), init_names.end(), "w") != init_names.end());
    CHECK(std::find(init_names.begin(), init_names.end(), "b") != init_names.end());

    Tensor x = randn({2, 4}), y = randn({2, 3});
    const auto want = fn({x, y});
    const auto got = g.run({{"x", x}, {"y", y}});
    REQUIRE(got.size() == 2);
    CHECK(same(got[0], want[0]));
    CHECK(same(got[1], want[1]));
    // The graph holds the weights' storage: an update in place is seen by the next run.
    {
        NoGradGuard no_grad;
        w.mul_(0.5);
    }
    CHECK(same(g.run({{"x", x}, {"y", y}}, {"total"})[0], fn({x, y})[1]));
    const std::string text = g.str();
    CHECK(text.find("tanh(") != std::string::npos);
    CHECK(text.find("softmax(") != std::string::npos);
    CHECK(g.to_dot().rfind("digraph", 0) == 0);
}

TEST_CASE("jit: a module traces with named parameters and buffers and a dynamic batch") {
    manual_seed(2);
    SmallCnn model;
    {  // non-trivial running statistics
        Tensor warm = randn({8, 1, 8, 8});
        model.forward(warm);
    }
    model.eval();
    jit::Graph g = jit::trace(model, randn({2, 1, 8, 8}), {.dynamic_batch = true});
    std::vector<std::string> names;
    for (const auto& [id, t] : g.initializers()) names.push_back(g.value(id).name);
    for (const auto& [name, p] : model.named_parameters())
        CHECK(std::find(names.begin(), names.end(), name) != names.end());
    CHECK(std::find(names.begin(), names.end(), "bn1.running_mean") != names.end());
    CHECK(g.value(g.inputs()[0]).dynamic_batch);
    for (std::int64_t batch : {1, 2, 5}) {
        Tensor x = randn({batch, 1, 8, 8});
        Tensor want;
        {
            NoGradGuard no_grad;
            want = model.forward(x);
        }
        const Tensor got = g.run({{"input", x}})[0];
        INFO("batch " << batch);
        CHECK(same(got, want));
    }
    REQUIRE_TG_ERROR(g.run({{"input", randn({2, 1, 9, 8})}}), "input", "[2, 1, 9, 8]");
    REQUIRE_TG_ERROR(g.run({}), "placeholder 'input'", "must be fed");
    REQUIRE_TG_ERROR(g.run({{"input", randn({2, 1, 8, 8})}}, {"nope"}), "no value named 'nope'");
}

TEST_CASE("jit: run computes only what the fetches need") {
    manual_seed(3);
    Tensor w_big = randn({64, 512});
    auto fn = [&](const std::vector<Tensor>& in) {
        Tensor cheap = relu(in[0]);
        // The expensive branch draws from the generator (training-mode dropout), so whether
        // it ran is visible from outside the executor.
        Tensor expensive = F::dropout(matmul(in[0], w_big), 0.5, true).sum({1});
        return std::vector<Tensor>{cheap, expensive};
    };
    jit::Graph g = jit::trace(fn, {randn({3, 64})}, {.output_names = {"cheap", "expensive"}});
    const Tensor x = randn({3, 64});

    manual_seed(7);
    const double reference = rand({1}).item<double>();

    manual_seed(7);
    const auto only_cheap = g.run({{"input", x}}, {"cheap"});
    CHECK(rand({1}).item<double>() == reference);  // the dropout did not run
    CHECK(same(only_cheap[0], relu(x)));
    CHECK(g.last_run_node_count() == 1);

    manual_seed(7);
    const auto both = g.run({{"input", x}}, {"expensive", "cheap"});  // several fetches, one pass
    CHECK(rand({1}).item<double>() != reference);  // positive control: now it did
    CHECK(same(both[1], relu(x)));
    CHECK(both[0].sizes() == Shape{3});
    CHECK(g.last_run_node_count() > 1);
    // Feeding an intermediate value cuts the graph there (TF-1 allows feeding any tensor).
    const std::string relu_name = g.value(g.outputs()[0]).name;
    CHECK(same(g.run({{relu_name, x}}, {"cheap"})[0], x));
}

TEST_CASE("jit: what cannot be traced throws naming it") {
    manual_seed(4);
    Tensor x = randn({2, 3});
    // Data-dependent control flow.
    REQUIRE_TG_ERROR(jit::trace(
                         [](const std::vector<Tensor>& in) {
                             Tensor s = in[0].sum();
                             return std::vector<Tensor>{s.item<double>() > 0 ? in[0] * 2.0 : in[0]};
                         },
                         {x}),
                     "item()", "control flow");
    // A "custom op" with no trace hook: computes through data_ptr.
    auto custom_double = [](const Tensor& t) {
        Tensor c = t.contiguous();
        Tensor out = empty(c.sizes(), c.dtype());
        for (std::int64_t i = 0; i < c.numel(); ++i) out.data_ptr<float>()[i] = 2 * c.data_ptr<float>()[i];
        return out;
    };
    REQUIRE_TG_ERROR(jit::trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{relu(custom_double(in[0]))}; },
                                {x}),
                     "'relu' reads a tensor of shape [2, 3]", "no trace hook");
    REQUIRE_TG_ERROR(jit::trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{custom_double(in[0])}; }, {x}),
                     "'output'", "no trace hook");
    // A factory's tensor written afterwards through data_ptr.
    REQUIRE_TG_ERROR(jit::trace(
                         [](const std::vector<Tensor>& in) {
                             Tensor z = zeros({2, 3});
                             z.data_ptr<float>()[0] = in[0].contiguous().data_ptr<float>()[0];
                             return std::vector<Tensor>{in[0] + z};
                         },
                         {x}),
                     "'add'", "factory");
    // Constants made inside the function are fine; so are tensors captured from outside.
    Tensor captured = randn({3});
    jit::Graph g = jit::trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * captured + ones({3})}; },
                              {x});
    Tensor x2 = randn({2, 3});
    CHECK(same(g.run({{"input", x2}})[0], x2 * captured + 1.0));
    // After an error the tracer is gone: eager code runs as usual.
    CHECK(same(relu(x), relu(x)));
    CHECK(x.sum().item<double>() == Approx(x.sum().item<double>()));
}

// Each op traced at batch 4 (dynamic batch), replayed at batch 3 and compared with the eager
// result bit for bit: the graph runs the same kernels.
TEST_CASE("jit: comparisons, selection, scans, padding, resizing, norms and losses trace and replay") {
    manual_seed(11);
    const Tensor columns = from_vector(std::vector<std::int64_t>{2, 0, 5}, {3});
    using Fn = std::function<Tensor(const Tensor&)>;
    const std::vector<std::pair<const char*, Fn>> rows = {
        {"gt", [](const Tensor& x) { return gt(x, x * 0.5); }},
        {"scalar comparisons", [](const Tensor& x) { return cat({x > 0.0, x < 0.2, x <= 0.1, x >= -0.1, x == 0.0, x != 1.0}, 1); }},
        {"logical", [](const Tensor& x) { return logical_or(logical_and(x > 0.0, x < 1.0), logical_not(x > -0.5)); }},
        {"isnan/isinf/isfinite", [](const Tensor& x) { return cat({isnan(log(x)), isinf(x / 0.0), isfinite(log(x))}, 1); }},
        {"where", [](const Tensor& x) { return where(x > 0.0, x, x * 0.1); }},
        {"masked_fill", [](const Tensor& x) { return masked_fill(x, x < 0.0, -7.5); }},
        {"index_select", [&](const Tensor& x) { return index_select(x, 1, columns); }},
        {"gather by argsort", [](const Tensor& x) { return gather(x, 1, argsort(x, 1)); }},
        {"argmax/argmin", [](const Tensor& x) { return cat({argmax(x, 1, true), argmin(x, 1, true), argmax(x, 1).unsqueeze(1)}, 1); }},
        {"max/min over a dim", [](const Tensor& x) { return max(x, 1) - min(x, 1, false); }},
        {"sort", [](const Tensor& x) { return std::get<0>(sort(x, 1, true)); }},
        {"topk in input order", [](const Tensor& x) { return std::get<1>(topk(x, 2, 1, false, false)); }},
        {"prod", [](const Tensor& x) { return prod(x * 0.5 + 1.0, 1, true); }},
        {"cumsum/cumprod/logcumsumexp", [](const Tensor& x) { return cumsum(x, 1) + cumprod(x, 1) + logcumsumexp(x, 1); }},
        {"roll", [](const Tensor& x) { return roll(x, {2, -1}, {1, 1}); }},
        {"repeat", [](const Tensor& x) { return repeat(x, {2, 1, 2}); }},
        {"split", [](const Tensor& x) { return split(x, 4, 1)[1] * 2.0; }},
        {"chunk/unbind", [](const Tensor& x) { return chunk(x, 3, 1)[2] + unbind(x, 1)[5].unsqueeze(1); }},
        {"layer_norm", [](const Tensor& x) { return F::layer_norm(x, {6}, full({6}, 1.5), full({6}, 0.25)); }},
        {"pad", [](const Tensor& x) { return F::pad(x, {1, 2}, F::PadMode::Constant, 0.5) + F::pad(x, {1, 2}, F::PadMode::Reflect); }},
        {"cross_entropy/nll_loss", [](const Tensor& x) {
             return F::cross_entropy(x, argmax(x, 1)) + F::nll_loss(log_softmax(x, 1), argmin(x, 1), F::Reduction::Sum);
         }},
        {"mean/var/std over the batch", [](const Tensor& x) {  // divide by the batch run, not the traced one
             return mean(x, {0}) + var(x, {0}, true, false) + tg::std(x, {0, 1}, false, false) + mean(x);
         }},
        {"label smoothing", [](const Tensor& x) { return F::cross_entropy(x, argmax(x, 1), F::Reduction::None, 0.1); }},
    };
    for (const auto& [what, fn] : rows) {
        INFO(what);
        jit::Graph g = jit::trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{fn(in[0])}; },
                                  {randn({4, 6})}, {.dynamic_batch = true});
        const Tensor x = randn({3, 6});
        const Tensor got = g.run({{"input", x}})[0], want = fn(x);
        CHECK(got.sizes() == want.sizes());
        CHECK(got.dtype() == want.dtype());
        CHECK(equal(got, want));
    }
    const std::vector<std::pair<const char*, Fn>> images = {
        {"nearest by factor", [](const Tensor& x) { return F::interpolate(x, F::InterpolateFuncOptions().scale_factor({2.0, 1.5})); }},
        {"nearest by size", [](const Tensor& x) { return F::interpolate(x, F::InterpolateFuncOptions().size({7, 9})); }},
        {"bilinear", [](const Tensor& x) {
             return F::interpolate(x, F::InterpolateFuncOptions().size({8, 3}).mode(F::InterpolateMode::Bilinear).align_corners(true));
         }},
        {"pad 2-D", [](const Tensor& x) { return F::pad(x, {1, 1, 2, 0}, F::PadMode::Replicate) + F::pad(x, {1, 1, 2, 0}, F::PadMode::Circular); }},
        {"group_norm", [](const Tensor& x) { return F::group_norm(x, 2); }},
        {"instance_norm", [](const Tensor& x) { return F::instance_norm(x); }},
    };
    for (const auto& [what, fn] : images) {
        INFO(what);
        jit::Graph g = jit::trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{fn(in[0])}; },
                                  {randn({2, 4, 5, 6})}, {.dynamic_batch = true});
        const Tensor x = randn({3, 4, 5, 6});
        const Tensor got = g.run({{"input", x}})[0], want = fn(x);
        CHECK(got.sizes() == want.sizes());
        CHECK(equal(got, want));
    }
}

TEST_CASE("jit: in-place writes trace as their out-of-place ops") {
    manual_seed(12);
    // An accumulator made inside, scaled and shifted in place, filled and copied into.
    auto fn = [](const std::vector<Tensor>& in) {
        const Tensor& x = in[0];
        Tensor acc = zeros({x.size(1)});
        for (std::int64_t k = 0; k < 2; ++k) acc.add_(x.select(0, k), 0.5);
        Tensor h = relu(x) * 1.0;
        h.mul_(2.0).sub_(acc).div_(full({3}, 4.0));
        Tensor c = x * 0.0;  // its shape from x: the batch stays dynamic
        c.copy_(acc);
        Tensor f = ones({2, 3});
        f.fill_(-1.5);
        Tensor z = x * 3.0;
        z.zero_();
        return std::vector<Tensor>{h + c, f.sum() + z.sum()};
    };
    jit::Graph g = jit::trace(fn, {randn({4, 3})}, {.dynamic_batch = true});
    for (const auto& shape : {Shape{4, 3}, Shape{6, 3}}) {
        const Tensor x = randn(shape);
        const auto got = g.run({{"input", x}}), want = fn({x});
        CHECK(equal(got[0], want[0]));
        CHECK(equal(got[1], want[1]));
    }
    // A write through a view changes its base behind the graph's back: still refused.
    REQUIRE_TG_ERROR(jit::trace(
                         [](const std::vector<Tensor>& in) {
                             Tensor h = in[0] * 1.0;
                             h.narrow(1, 0, 1).mul_(2.0);
                             return std::vector<Tensor>{h};
                         },
                         {randn({2, 3})}),
                     "modified in place");
    // Exported, the in-place form is the out-of-place graph.
    const Tensor x = randn({5, 3});
    CHECK(equal(g.run({{"input", x}})[0], fn({x})[0]));
    CHECK_NOTHROW(onnx::to_onnx(g));
}

TEST_CASE("jit: every traced kind has an executor kernel") {
    const auto kinds = jit::traceable_kinds();
    for (const char* kind : {"conv2d", "linear", "batch_norm", "max_pool2d", "relu", "log_softmax", "view", "cat"})
        CHECK(std::find(kinds.begin(), kinds.end(), kind) != kinds.end());
}

TEST_CASE("jit: GRU and LSTM modules trace as one node each and replay at another batch size") {
    manual_seed(5);
    nn::GRU gru(nn::GRUOptions(6, 5).batch_first(true).num_layers(2));
    nn::LSTM lstm(nn::LSTMOptions(5, 4).bidirectional(true).forget_bias(1.0));
    auto fn = [&](const std::vector<Tensor>& in) {
        auto [seq, h] = gru.forward(in[0], Tensor());
        auto [out, state] = lstm.forward(seq.transpose(0, 1), {});
        return std::vector<Tensor>{out, h, std::get<1>(state)};
    };
    jit::Graph g = jit::trace(fn, {randn({3, 7, 6})}, {.dynamic_batch = true});
    std::size_t recurrent = 0;
    for (const auto& node : g.nodes()) recurrent += node.kind == "gru" || node.kind == "lstm";
    CHECK(recurrent == 2);
    CHECK(g.nodes().size() < 10);  // the gate ops inside were replaced by the two nodes
    Tensor x = randn({5, 7, 6});
    const auto want = fn({x});
    const auto got = g.run({{"input", x}});
    REQUIRE(got.size() == 3);
    for (std::size_t k = 0; k < 3; ++k) CHECK(same(got[k], want[k]));
}

TEST_CASE("jit: a traced graph goes to TensorBoard's Graphs tab") {
    manual_seed(6);
    nn::Linear fc(4, 3);
    jit::Graph g = jit::trace(fc, randn({2, 4}));
    tgtest::TempDir dir;
    {
        summary::SummaryWriter writer(dir.path.string());
        writer.add_graph(g);
    }
    std::string bytes;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
        const auto b = tgtest::read_bytes(entry.path().string());
        bytes.append(b.begin(), b.end());
    }
    CHECK(bytes.find("Placeholder") != std::string::npos);
    CHECK(bytes.find("VariableV2") != std::string::npos);
    CHECK(bytes.find("linear") != std::string::npos);
    CHECK(bytes.find("weight") != std::string::npos);
}

TEST_CASE("onnx: what has no faithful ONNX form is an error naming the node") {
    manual_seed(8);
    Tensor x = randn({2, 3});
    auto export_fn = [&](const jit::TracedFunction& fn) { return onnx::to_onnx(jit::trace(fn, {x})); };
    REQUIRE_TG_ERROR(export_fn([](const std::vector<Tensor>& in) { return std::vector<Tensor>{flip(in[0], {1})}; }),
                     "onnx export", "'output'", "op 'flip'", "no ONNX mapping");
    REQUIRE_TG_ERROR(export_fn([](const std::vector<Tensor>& in) {
                         return std::vector<Tensor>{F::dropout(in[0], 0.5, true)};
                     }),
                     "op 'dropout'", "eval()");
    nn::BatchNorm1d bn(3);
    REQUIRE_TG_ERROR(onnx::to_onnx(jit::trace(bn, randn({4, 3}))), "op 'batch_norm'", "eval()");
    // The same model in eval mode exports.
    bn.eval();
    CHECK(onnx::to_onnx(jit::trace(bn, randn({4, 3}))).size() > 100);
}
