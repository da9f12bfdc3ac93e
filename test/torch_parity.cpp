// The tapegrad half of the PyTorch parity test (test/scripts/torch_parity.sh).
//
//   torch_parity export DIR   writes, per model, tg_<model>.safetensors (parameters and
//                             buffers, tapegrad-initialised) and tg_<model>_io.safetensors
//                             (input, target, logits, loss, grad.<param>, after.<buffer>)
//   torch_parity import DIR   reads pt_<model>.safetensors and pt_<model>_io.safetensors
//                             written by test/python/torch_parity.py from torch, loads the
//                             weights, recomputes and compares; exit status 1 on a mismatch.
//
// Models: the MLP 784-256-128-10 and a CNN conv(1→8, 3, pad 1)-BatchNorm-ReLU-maxpool(2)-
// flatten-linear(8·14·14→10), the CNN once with BatchNorm in eval mode and once in train mode
// (batch statistics, running-statistics update; no conv bias there). Tolerance: per tensor,
// max|a - b| <= 1e-5 · max|b| (relative to the tensor's scale), float32 on both sides.
#include <cmath>
#include <cstdio>
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

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3 || (std::string(argv[1]) != "export" && std::string(argv[1]) != "import")) {
        std::fprintf(stderr, "usage: %s export|import DIR\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[1], dir = argv[2];
    try {
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
