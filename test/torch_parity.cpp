// The tapegrad half of the PyTorch parity test (test/scripts/torch_parity.sh).
//
//   torch_parity export DIR   writes, per model, tg_<model>.safetensors (parameters and
//                             buffers, tapegrad-initialised) and tg_<model>_io.safetensors
//                             (input, target, logits, loss, grad.<param>, after.<buffer>)
//   torch_parity import DIR   reads pt_<model>.safetensors and pt_<model>_io.safetensors
//                             written by test/python/torch_parity.py from torch, loads the
//                             weights, recomputes and compares; exit status 1 on a mismatch.
//   torch_parity ops DIR      writes tg_ops.safetensors: for each op case (issue 18's ops) its
//                             float64 inputs, output, a random weighting r and the gradient of
//                             sum(output * r) for each differentiable input; the python side
//                             recomputes both with torch (1e-9 relative in float64).
//
// Models: the MLP 784-256-128-10 and a CNN conv(1→8, 3, pad 1)-BatchNorm-ReLU-maxpool(2)-
// flatten-linear(8·14·14→10), the CNN once with BatchNorm in eval mode and once in train mode
// (batch statistics, running-statistics update; no conv bias there). Tolerance: per tensor,
// max|a - b| <= 1e-5 · max|b| (relative to the tensor's scale), float32 on both sides.
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "tapegrad/tapegrad.hpp"

using namespace tg;
namespace F = tg::nn::functional;

namespace {

constexpr double kRtol = 1e-5;

struct Case {
    std::string name;
    bool train;
};
const Case kCases[] = {{"mlp", false}, {"cnn_eval", false}, {"cnn_train", true}};

std::shared_ptr<nn::Sequential> make_model(const std::string& name) {
    if (name == "mlp")
        return std::make_shared<nn::Sequential>(nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 128), nn::ReLU(),
                                                nn::Linear(128, 10));
    // In train mode BatchNorm subtracts the batch mean, so a conv bias before it has an exactly
    // zero gradient (only rounding noise would be compared): that CNN has no conv bias.
    const bool conv_bias = name != "cnn_train";
    return std::make_shared<nn::Sequential>(nn::Conv2d(nn::Conv2dOptions(1, 8, 3).padding(1).bias(conv_bias)),
                                            nn::BatchNorm2d(8),
                                            nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(), nn::Linear(8 * 14 * 14, 10));
}

Shape input_shape(const std::string& name) {
    return name == "mlp" ? Shape{16, 784} : Shape{6, 1, 28, 28};
}

// Forward + cross-entropy + backward; the results under the names the io files use.
NamedTensors run(nn::Sequential& model, bool train, const Tensor& input, const Tensor& target) {
    model.train(train);
    model.zero_grad();
    Tensor logits = model.forward(input);
    Tensor loss = F::cross_entropy(logits, target);
    loss.backward();
    NamedTensors out = {{"logits", logits.detach()}, {"loss", loss.detach()}};
    for (const auto& [name, p] : model.named_parameters()) out.emplace_back("grad." + name, p.grad());
    for (const auto& [name, b] : model.named_buffers()) out.emplace_back("after." + name, b.clone());
    return out;
}

double max_abs(const Tensor& t) {
    double m = 0;
    for (double v : t.to_vector<double>()) m = std::max(m, std::fabs(v));
    return m;
}


// ---- single ops against torch, in float64 ----------------------------------------------------

struct OpCase {
    std::string name;
    std::vector<Tensor> inputs;
    std::function<Tensor(const std::vector<Tensor>&)> fn;
    std::vector<bool> no_grad = {};  // inputs (by position) whose gradient is not compared
};

Tensor f64u(const Shape& shape, double lo = -1, double hi = 1) { return uniform(shape, lo, hi, kFloat64); }
Tensor i64_rows(std::initializer_list<std::initializer_list<double>> rows) { return tensor(rows, kInt64); }
Tensor i64(std::initializer_list<double> v) { return tensor(v, kInt64); }

std::vector<OpCase> op_cases() {
    using In = const std::vector<Tensor>&;
    using F::InterpolateFuncOptions;
    const auto bilinear = F::InterpolateMode::Bilinear;
    const Tensor pm = tensor({1.0, -1.0, 1.0, -1.0}, kFloat64);
    return {
        {"scatter", {f64u({3, 5}), i64_rows({{0, 1, 2, 0, 1}, {2, 0, 1, 1, 0}}), f64u({2, 5})},
         [](In x) { return scatter(x[0], 0, x[1], x[2]); }},
        {"scatter_value", {f64u({3, 5}), i64_rows({{1, 4}, {0, 2}, {3, 3}})}, [](In x) { return scatter(x[0], 1, x[1], 1.5); }},
        {"scatter_add", {f64u({3, 5}), i64_rows({{0, 1, 2, 0, 0}, {2, 0, 0, 1, 2}}), f64u({2, 5})},
         [](In x) { return scatter_add(x[0], 0, x[1], x[2]); }},
        {"index_add", {f64u({5, 3}), i64({0, 4, 0, 2}), f64u({4, 3})}, [](In x) { return index_add(x[0], 0, x[1], x[2], -2.0); }},
        {"index_copy", {f64u({3, 5}), i64({4, 0}), f64u({3, 2})}, [](In x) { return index_copy(x[0], 1, x[1], x[2]); }},
        {"index_put", {f64u({4, 3}), i64({0, 2, -1}), i64({1, 0, 2}), f64u({3})},
         [](In x) { return index_put(x[0], {x[1], x[2]}, x[3]); }},
        {"index_put_accumulate", {f64u({4, 3}), i64({1, 1, 3}), f64u({3, 3})},
         [](In x) { return index_put(x[0], {x[1]}, x[2], true); }},
        {"index_put_mask", {f64u({3, 4}), f64u({3, 4}) > 0.0, f64u({})}, [](In x) { return index_put(x[0], {x[1]}, x[2]); }},
        {"triu", {f64u({2, 3, 4})}, [](In x) { return triu(x[0], 1); }},
        {"tril", {f64u({4, 3})}, [](In x) { return tril(x[0], -1); }},
        {"outer", {f64u({3}), f64u({4})}, [](In x) { return outer(x[0], x[1]); }},
        {"baddbmm", {f64u({4}), f64u({2, 3, 5}), f64u({2, 5, 4})}, [](In x) { return baddbmm(x[0], x[1], x[2], 0.5, -1.5); }},
        {"logcumsumexp", {f64u({3, 4}, -5, 5)}, [](In x) { return logcumsumexp(x[0], 1); }},
        {"einsum_bmm", {f64u({2, 3, 4}), f64u({2, 4, 5})}, [](In x) { return einsum("bij,bjk->bik", {x[0], x[1]}); }},
        {"einsum_mixed", {f64u({2, 3, 4}), f64u({4, 5, 3})}, [](In x) { return einsum("abc,cdb->ad", {x[0], x[1]}); }},
        {"einsum_ellipsis", {f64u({2, 2, 3}), f64u({3, 4})}, [](In x) { return einsum("...ij,...jk->...ik", {x[0], x[1]}); }},
        {"einsum_implicit", {f64u({3, 4}), f64u({4, 2}), f64u({2})}, [](In x) { return einsum("ij,jk,k", {x[0], x[1], x[2]}); }},
        {"einsum_outer_sum", {f64u({3}), f64u({2, 3})}, [](In x) { return einsum("i,ji->", {x[0], x[1]}); }},
        {"softplus", {f64u({7}, -25, 25)}, [](In x) { return softplus(x[0]); }},
        {"softplus_beta", {f64u({7}, -3, 3)}, [](In x) { return softplus(x[0], 2.0, 1.5); }},
        {"logsigmoid", {f64u({7}, -30, 30)}, [](In x) { return logsigmoid(x[0]); }},
        {"hardswish", {f64u({9}, -5, 5)}, [](In x) { return hardswish(x[0]); }},
        {"mish", {f64u({9}, -5, 5)}, [](In x) { return mish(x[0]); }},
        {"binary_cross_entropy", {f64u({3, 4}, 0.02, 0.98), f64u({3, 4}, 0, 1), f64u({4}, 0.5, 2)},
         [](In x) { return F::binary_cross_entropy(x[0], x[1], x[2], F::Reduction::None); }, {false, true, true}},
        {"cosine_similarity", {f64u({3, 4}), f64u({1, 4})}, [](In x) { return cosine_similarity(x[0], x[1], 1); }},
        {"pairwise_distance", {f64u({3, 4}), f64u({3, 4})}, [](In x) { return pairwise_distance(x[0], x[1], 3.0, 1e-6, true); }},
        {"cosine_embedding_loss", {f64u({4, 3}), f64u({4, 3}), pm},
         [](In x) { return F::cosine_embedding_loss(x[0], x[1], x[2], 0.1, F::Reduction::None); }, {false, false, true}},
        {"margin_ranking_loss", {f64u({4}), f64u({4}), pm},
         [](In x) { return F::margin_ranking_loss(x[0], x[1], x[2], 0.2, F::Reduction::None); }, {false, false, true}},
        {"triplet_margin_loss", {f64u({4, 3}), f64u({4, 3}), f64u({4, 3})},
         [](In x) { return F::triplet_margin_loss(x[0], x[1], x[2], 0.5, 1.5, 1e-6, true, F::Reduction::None); }},
        {"softmax_cross_entropy_nd", {f64u({2, 3, 4}), f64u({2, 3, 4}, 0, 1)},
         [](In x) { return F::softmax_cross_entropy_with_logits(x[0], x[1] / sum(x[1], {-1}, true)); }},
        {"group_norm", {f64u({2, 4, 3, 2}), f64u({4}), f64u({4})}, [](In x) { return F::group_norm(x[0], 2, x[1], x[2]); }},
        {"instance_norm", {f64u({2, 3, 5}), f64u({3}), f64u({3})},
         [](In x) { return F::instance_norm(x[0], {}, {}, x[1], x[2]); }},
        {"bilinear_corners", {f64u({2, 2, 3, 4})},
         [bilinear](In x) { return F::interpolate(x[0], InterpolateFuncOptions().size({5, 7}).mode(bilinear).align_corners(true)); }},
        {"bilinear", {f64u({2, 2, 3, 4})},
         [bilinear](In x) { return F::interpolate(x[0], InterpolateFuncOptions().size({5, 3}).mode(bilinear)); }},
        {"bilinear_scale", {f64u({1, 2, 4, 5})},
         [bilinear](In x) { return F::interpolate(x[0], InterpolateFuncOptions().scale_factor({1.5, 0.7}).mode(bilinear)); }},
        {"conv2d_groups", {f64u({2, 4, 6, 5}), f64u({6, 2, 3, 2}), f64u({6})},
         [](In x) { return F::conv2d(x[0], x[1], x[2], {2, 1}, {1, 0}, {1, 2}, 2); }},
        {"conv2d_depthwise", {f64u({2, 3, 5, 6}), f64u({6, 1, 3, 3})},
         [](In x) { return F::conv2d(x[0].transpose(2, 3), x[1], {}, {1}, {1}, {1}, 3); }},
        {"conv_transpose2d_groups", {f64u({2, 4, 3, 4}), f64u({4, 3, 3, 2}), f64u({6})},
         [](In x) { return F::conv_transpose2d(x[0], x[1], x[2], {2, 1}, {1, 0}, {1, 0}, 2, {1, 2}); }},
        {"max_pool2d_ceil", {f64u({2, 2, 7, 6})}, [](In x) { return F::max_pool2d(x[0], {3, 2}, {2, 2}, {1, 1}, {1}, true); }},
        {"max_pool2d_dilation", {f64u({2, 2, 7, 6})},
         [](In x) { return F::max_pool2d(x[0], {3, 2}, {2, 1}, {1}, {2, 3}, true); }},
        {"max_pool2d_ceil_rule", {f64u({1, 2, 5, 5})}, [](In x) { return F::max_pool2d(x[0], {2}, {2}, {1}, {1}, true); }},
        {"avg_pool2d_ceil", {f64u({2, 2, 7, 6})}, [](In x) { return F::avg_pool2d(x[0], {3}, {2}, {1}, true); }},
        {"avg_pool2d_ceil_nopad", {f64u({2, 2, 7, 6})},
         [](In x) { return F::avg_pool2d(x[0], {2, 3}, {2, 2}, {0, 1}, true, false); }},
        {"unfold", {f64u({2, 3, 5, 6})}, [](In x) { return F::unfold(x[0], {2, 3}, {2, 1}, {1, 0}, {1, 2}); }},
        {"fold", {f64u({2, 12, 10})}, [](In x) { return F::fold(x[0], {4, 5}, {2, 2}, {1, 2}, {0, 1}, {2, 1}); }},
    };
}

// Inputs, output, r and the gradients of sum(output * r), under "<case>/...".
int export_ops(const std::string& dir) {
    manual_seed(18);
    NamedTensors io;
    for (OpCase& c : op_cases()) {
        std::vector<Tensor> grad_inputs;
        std::vector<std::size_t> grad_positions;
        for (std::size_t k = 0; k < c.inputs.size(); ++k) {
            io.emplace_back(c.name + "/in" + std::to_string(k), c.inputs[k]);
            const bool skip = k < c.no_grad.size() && c.no_grad[k];
            if (c.inputs[k].is_floating_point() && !skip) {
                c.inputs[k] = c.inputs[k].detach().requires_grad_();
                grad_inputs.push_back(c.inputs[k]);
                grad_positions.push_back(k);
            }
        }
        const Tensor out = c.fn(c.inputs);
        const Tensor r = uniform(out.sizes(), -1, 1, kFloat64);
        const auto grads = autograd::grad({sum(out * r)}, grad_inputs);
        io.emplace_back(c.name + "/out", out.detach());
        io.emplace_back(c.name + "/r", r);
        for (std::size_t i = 0; i < grads.size(); ++i)
            io.emplace_back(c.name + "/grad" + std::to_string(grad_positions[i]), grads[i]);
    }
    save_safetensors(io, dir + "/tg_ops.safetensors");
    std::printf("export ops: %zu tensors\n", io.size());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3 || (std::string(argv[1]) != "export" && std::string(argv[1]) != "import" &&
                      std::string(argv[1]) != "ops")) {
        std::fprintf(stderr, "usage: %s export|import|ops DIR\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[1], dir = argv[2];
    try {
        if (mode == "ops") return export_ops(dir);
        if (mode == "export") {
            std::uint64_t seed = 100;
            for (const Case& c : kCases) {
                manual_seed(seed++);
                auto model = make_model(c.name);
                {  // non-trivial BatchNorm state, so eval mode is not the identity
                    NoGradGuard no_grad;
                    for (auto& [name, t] : model->named_buffers()) {
                        if (name.ends_with("running_mean")) t.copy_(uniform(t.sizes(), -0.5, 0.5));
                        if (name.ends_with("running_var")) t.copy_(uniform(t.sizes(), 0.5, 2.0));
                    }
                    for (auto& [name, t] : model->named_parameters())
                        if (name.starts_with("1.")) t.copy_(uniform(t.sizes(), 0.5, 1.5));
                }
                save_safetensors(*model, dir + "/tg_" + c.name + ".safetensors", {{"format", "pt"}});
                Tensor input = uniform(input_shape(c.name), -1, 1);
                Tensor target = randint(0, 10, {input.size(0)});
                NamedTensors io = {{"input", input}, {"target", target}};
                for (auto& named : run(*model, c.train, input, target)) io.push_back(std::move(named));
                save_safetensors(io, dir + "/tg_" + c.name + "_io.safetensors");
                std::printf("export %s: %zu tensors\n", c.name.c_str(), io.size());
            }
            return 0;
        }
        int failures = 0;
        for (const Case& c : kCases) {
            auto model = make_model(c.name);
            SafetensorsMetadata metadata;
            load_safetensors(dir + "/pt_" + c.name + ".safetensors", &metadata);
            load_safetensors_into(*model, dir + "/pt_" + c.name + ".safetensors");
            std::map<std::string, Tensor> expected;
            for (auto& [name, t] : load_safetensors(dir + "/pt_" + c.name + "_io.safetensors")) expected[name] = t;
            const NamedTensors got = run(*model, c.train, expected.at("input"), expected.at("target"));
            for (const auto& [name, t] : got) {
                auto it = expected.find(name);
                if (it == expected.end()) {
                    std::printf("FAIL %s %s: not in torch's file\n", c.name.c_str(), name.c_str());
                    ++failures;
                    continue;
                }
                const Tensor& want = it->second;
                if (t.sizes() != want.sizes()) {
                    std::printf("FAIL %s %s: shape mismatch\n", c.name.c_str(), name.c_str());
                    ++failures;
                    continue;
                }
                const double scale = max_abs(want);
                const double err = max_abs(t.to(kFloat64) - want.to(kFloat64));
                const bool ok = err <= kRtol * scale;
                if (!ok) ++failures;
                std::printf("%s import %s %-22s max|diff| %.3g  scale %.3g\n", ok ? "ok  " : "FAIL", c.name.c_str(),
                            name.c_str(), err, scale);
            }
        }
        std::printf("%s\n", failures == 0 ? "import: all match" : "import: MISMATCH");
        return failures == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "torch_parity: %s\n", e.what());
        return 1;
    }
}
