// The tapegrad half of test/scripts/onnx_export.sh: builds the four Fashion-MNIST example
// models (their architectures as in examples/, seeded random weights, batch-norm running
// statistics from a few training-mode passes), a GRU and a two-layer bidirectional LSTM
// sequence model, a TF "same"-padding CNN, a depthwise / grouped CNN with ceil_mode pooling, and two modules of the selection,
// comparison, scan, loss, padding, resizing and normalisation ops, exports
// each to ONNX and writes its input and tapegrad's output as raw little-endian float32
// files plus a manifest line: "name input_file dims... | output_file dims...".
#include <cstdio>
#include <fstream>
#include <string>

#include "onnx_models.hpp"
#include "tapegrad/onnx.hpp"
#include "tapegrad/tapegrad.hpp"

using namespace tg;
using namespace tgtest;

namespace {

// The selection, comparison, scan and loss ops on rows of 12 features; everything cast to
// float and concatenated into one output, so ONNX Runtime checks each piece.
struct SelectionOps : nn::Module {
    SelectionOps() : nn::Module("SelectionOps") {
        norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({12})));
        columns = register_buffer("columns", from_vector(std::vector<std::int64_t>{3, 0, 11, 5, 5}, {5}));
        NoGradGuard no_grad;
        norm->weight.copy_(randn({12}) * 0.3 + 1.0);
        norm->bias.copy_(randn({12}) * 0.2);
    }
    Tensor forward(const Tensor& x) override {                                 // (N, 12)
        const Tensor a = masked_fill(where(x > 0.1, x, x * 0.5), x < -1.0, 0.25);
        const Tensor labels = argmax(x, 1);                                   // traced int64
        const auto [top, top_index] = topk(a, 3, 1);
        const auto [sorted, order] = sort(x, 1, true);
        const auto pieces = split(a, 5, 1);                                   // 5, 5, 2 columns
        const Tensor flags = cat({logical_and(x > 0.0, x < 1.0), ne(x, a), eq(x, a), x <= 0.3, x >= -0.3,
                                  logical_not(x > 0.0), isfinite(x), logical_or(x > 1.0, x < -1.0)},
                                 1).to(kFloat32);
        const Tensor picks = cat({index_select(a, 1, columns), gather(x, 1, order.narrow(1, 0, 4)), top,
                                  sorted.narrow(1, 0, 2), argmin(x, 1, true).to(kFloat32),
                                  top_index.to(kFloat32)},
                                 1);
        const Tensor scans = cat({cumsum(a, 1), prod(a.narrow(1, 0, 4) * 0.5 + 1.0, 1, true), roll(a, {2, 1}, {1, 1}),
                                  repeat(pieces[2], {1, 3}), pieces[0] - pieces[1]},
                                 1);
        const Tensor losses = stack({F::cross_entropy(a, labels, F::Reduction::None),
                                     F::nll_loss(log_softmax(x, 1), labels, F::Reduction::None)},
                                    1);
        const Tensor moments = cat({(a - mean(a, {1}, true)) / (tg::std(a, {1}, true, true) + 0.5),
                                    var(x, {1}, false, true), x * 0.5 + mean(x, {0}, true) - mean(x)},
                                   1);
        return cat({flags, picks, scans, losses, moments, norm->forward(a), F::pad(a, {1, 2}, F::PadMode::Constant, 0.5)},
                   1);
    }
    std::shared_ptr<nn::LayerNorm> norm;
    Tensor columns;
};

// Resizing, padding and the group / instance / layer norms on images.
struct ImageOps : nn::Module {
    ImageOps() : nn::Module("ImageOps") {
        group = register_module("group", nn::GroupNorm(nn::GroupNormOptions(2, 4)));
        instance = register_module("instance", nn::InstanceNorm2d(nn::InstanceNormOptions(4).affine(true)));
        conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(3, 4, 3).padding(1)));
        NoGradGuard no_grad;
        group->weight.copy_(randn({4}) * 0.3 + 1.0);
        instance->bias.copy_(randn({4}) * 0.2);
    }
    Tensor forward(const Tensor& x) override {                                 // (N, 3, 6, 5)
        const Tensor h = conv->forward(x);
        const Tensor up = F::interpolate(h, F::InterpolateFuncOptions().scale_factor({2.0, 1.5}));       // 12 x 7
        const Tensor sized = F::interpolate(h, F::InterpolateFuncOptions().size({10, 7}));              // 10 x 7
        const Tensor bilinear = F::interpolate(h, F::InterpolateFuncOptions().size({9, 8}).mode(F::InterpolateMode::Bilinear));
        const Tensor padded = F::pad(h, {2, 1, 1, 3}, F::PadMode::Reflect) + F::pad(h, {2, 1, 1, 3}, F::PadMode::Replicate);
        const Tensor normed = group->forward(h) + instance->forward(h) + F::layer_norm(h, {6, 5});
        return cat({up.flatten(1), sized.flatten(1), bilinear.flatten(1), padded.flatten(1), normed.flatten(1)}, 1);
    }
    std::shared_ptr<nn::GroupNorm> group;
    std::shared_ptr<nn::InstanceNorm2d> instance;
    std::shared_ptr<nn::Conv2d> conv;
};

void write_floats(const std::string& path, const Tensor& t) {
    const Tensor c = t.to(kFloat32).contiguous();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(c.data_ptr<float>()), static_cast<std::streamsize>(c.numel() * 4));
}
void write_ints(const std::string& path, const Tensor& t) {
    const Tensor c = t.contiguous();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(c.data_ptr<std::int64_t>()), static_cast<std::streamsize>(c.numel() * 8));
}
std::string dims(const Tensor& t) {
    std::string s;
    for (auto d : t.sizes()) s += " " + std::to_string(d);
    return s;
}

void save(std::ofstream& manifest, const std::string& dir, const std::string& name, nn::Module& model,
          const Tensor& example, const Tensor& input) {
    onnx::export_model(model, example, dir + "/" + name + ".onnx");
    model.eval();
    Tensor out;
    {
        NoGradGuard no_grad;
        out = model.forward(input);
    }
    const bool ints = input.dtype() == kInt64;
    if (ints) write_ints(dir + "/" + name + ".in", input);
    else write_floats(dir + "/" + name + ".in", input);
    write_floats(dir + "/" + name + ".out", out);
    manifest << name << " " << (ints ? "int64" : "float32") << dims(input) << " |" << dims(out) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    std::ofstream manifest(dir + "/manifest.txt");
    try {
        manual_seed(20);
        {
            SoftmaxRegression m;
            save(manifest, dir, "logreg", m, randn({1, 784}), rand({5, 784}));
        }
        {
            auto m = nn::Sequential(nn::Linear(784, 256), nn::ReLU(), nn::Dropout(0.2), nn::Linear(256, 128), nn::ReLU(),
                                    nn::Dropout(0.2), nn::Linear(128, 10));
            save(manifest, dir, "mlp", m, randn({1, 784}), rand({7, 784}));
        }
        {
            FashionCnn m;
            for (int i = 0; i < 3; ++i) m.forward(randn({8, 1, 28, 28}) * 0.5 + 0.2);  // running statistics
            save(manifest, dir, "cnn", m, randn({1, 1, 28, 28}), rand({3, 1, 28, 28}));
        }
        {
            SameCnn m;
            save(manifest, dir, "same_cnn", m, randn({2, 1, 28, 28}), rand({4, 1, 28, 28}));
        }
        {
            GroupedCnn m;
            save(manifest, dir, "grouped_cnn", m, randn({2, 1, 28, 28}), rand({3, 1, 28, 28}));
        }
        {
            GruClassifier m;
            save(manifest, dir, "gru", m, randn({1, 784}), rand({6, 784}));
        }
        {
            SelectionOps m;
            save(manifest, dir, "selection_ops", m, randn({4, 12}), randn({6, 12}));
        }
        {
            ImageOps m;
            save(manifest, dir, "image_ops", m, randn({2, 3, 6, 5}), randn({3, 3, 6, 5}));
        }
        {
            LstmTagger m;
            save(manifest, dir, "lstm", m, randint(0, 50, {9, 4}), randint(0, 50, {9, 4}));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
