// The models the ONNX tests export and load (test/onnx_export_models.cpp,
// test/test_onnx_import.cpp): the four Fashion-MNIST example architectures, a TF
// "same"-padding CNN, a depthwise / grouped CNN, a GRU classifier, an embedding + 2-layer
// bidirectional LSTM tagger, and two modules of the selection, comparison, scan, loss,
// padding, resizing and normalisation ops. Weights are seeded random (manual_seed first).
#pragma once

#include "tapegrad/tapegrad.hpp"

namespace tgtest {

using namespace tg;
namespace F = tg::nn::functional;

struct SoftmaxRegression : nn::Module {
    SoftmaxRegression() : Module("SoftmaxRegression") {
        W = register_parameter("W", randn({784, 10}) * 0.05);
        b = register_parameter("b", randn({10}) * 0.1);
    }
    Tensor forward(const Tensor& x) override { return matmul(x, W) + b; }
    Tensor W, b;
};

struct FashionCnn : nn::Module {
    FashionCnn() : nn::Module("FashionCnn") {
        conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(1, 32, 5).padding(2).bias(false)));
        bn1 = register_module("bn1", nn::BatchNorm2d(32));
        conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(32, 64, 5).padding(2).bias(false)));
        bn2 = register_module("bn2", nn::BatchNorm2d(64));
        fc1 = register_module("fc1", nn::Linear(64 * 7 * 7, 128));
        dropout = register_module("dropout", nn::Dropout(0.3));
        fc2 = register_module("fc2", nn::Linear(128, 10));
    }
    Tensor forward(const Tensor& x) override {
        auto h = F::max_pool2d(relu(bn1->forward(conv1->forward(x))), {2});
        h = F::max_pool2d(relu(bn2->forward(conv2->forward(h))), {2});
        h = relu(fc1->forward(h.reshape({h.size(0), -1})));
        return fc2->forward(dropout->forward(h));
    }
    std::shared_ptr<nn::Conv2d> conv1, conv2;
    std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
    std::shared_ptr<nn::Linear> fc1, fc2;
    std::shared_ptr<nn::Dropout> dropout;
};

// TF-1 style: "same" padding with stride 2 (asymmetric pads), average pooling, ELU.
struct SameCnn : nn::Module {
    SameCnn() : nn::Module("SameCnn") {
        w1 = register_parameter("w1", randn({8, 1, 3, 3}) * 0.3);
        b1 = register_parameter("b1", randn({8}) * 0.1);
        w2 = register_parameter("w2", randn({4, 8, 4, 4}) * 0.2);
        fc = register_module("fc", nn::Linear(4 * 4 * 4, 10));
    }
    Tensor forward(const Tensor& x) override {  // (N, 1, 28, 28)
        auto h = elu(F::conv2d(x, w1, b1, {2, 2}, F::Padding::Same));                 // 14x14
        h = leaky_relu(F::conv2d(h, w2, {}, {1, 1}, F::Padding::Same), 0.1);          // 14x14
        h = F::avg_pool2d(h, {3, 3}, {3, 3}, F::Padding::Same);                       // 5x5
        h = F::max_pool2d(h, {2, 2}, {1, 1}, F::Padding::Valid);                      // 4x4
        return softmax(fc->forward(h.flatten(1)), 1);
    }
    Tensor w1, b1, w2;
    std::shared_ptr<nn::Linear> fc;
};

// MobileNet style: depthwise (groups = channels) and grouped convolutions, pooling with
// ceil_mode (a partial last window), softplus with beta / threshold, unfold / fold, a grouped
// dilated ConvTranspose2d.
struct GroupedCnn : nn::Module {
    GroupedCnn() : nn::Module("GroupedCnn") {
        stem = register_module("stem", nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)));
        depthwise = register_module("depthwise", nn::Conv2d(nn::Conv2dOptions(4, 4, 3).padding(1).groups(4)));
        grouped = register_module("grouped", nn::Conv2d(nn::Conv2dOptions(4, 8, 3).stride(2).groups(2).bias(false)));
        up = register_module("up", nn::ConvTranspose2d(nn::ConvTranspose2dOptions(8, 8, 3).groups(2).padding(2).dilation(2)));
        fc = register_module("fc", nn::Linear(8 * 4 * 4, 10));
    }
    Tensor forward(const Tensor& x) override {                                   // (N, 1, 28, 28)
        auto h = softplus(stem->forward(x), 2.0, 1.5);                             // 28x28
        h = softplus(depthwise->forward(h));                                       // 28x28
        h = grouped->forward(h);                                                   // 13x13
        h = F::max_pool2d(h, {3}, {2}, {1}, {1}, true) + F::max_pool2d(h, {2}, {2}, {1}, {3}, true);  // 7x7
        h = h + 0.1 * F::fold(F::unfold(h, {3}, {1}, {1}, {2}), {7, 7}, {3}, {1}, {1}, {2}) +
            0.2 * F::fold(tg::tanh(F::unfold(h, {2}, {2}, {0}, {3})), {7, 7}, {2}, {2}, {0}, {3});  // im2col both ways
        h = F::avg_pool2d(h, {2}, {2}, {0}, true) + F::avg_pool2d(h, {3}, {2}, {1}, true, false);  // 4x4
        h = h + 0.5 * up->forward(h);                                              // 4x4
        return fc->forward(h.flatten(1));
    }
    std::shared_ptr<nn::ConvTranspose2d> up;
    std::shared_ptr<nn::Conv2d> stem, depthwise, grouped;
    std::shared_ptr<nn::Linear> fc;
};

struct GruClassifier : nn::Module {
    GruClassifier() : nn::Module("GruClassifier") {
        gru = register_module("gru", nn::GRU(nn::GRUOptions(28, 32).batch_first(true)));
        fc = register_module("fc", nn::Linear(32, 10));
    }
    Tensor forward(const Tensor& x) override {
        const auto rows = x.reshape({x.size(0), 28, 28});
        auto [outputs, h_n] = gru->forward(rows, Tensor());
        return fc->forward(h_n.select(0, 0));
    }
    std::shared_ptr<nn::GRU> gru;
    std::shared_ptr<nn::Linear> fc;
};

// Token ids -> embedding -> 2-layer bidirectional LSTM (forget_bias 1) -> mean over time.
struct LstmTagger : nn::Module {
    LstmTagger() : nn::Module("LstmTagger") {
        embed = register_module("embed", nn::Embedding(50, 12));
        lstm = register_module("lstm", nn::LSTM(nn::LSTMOptions(12, 16).num_layers(2).bidirectional(true).forget_bias(1.0)));
        fc = register_module("fc", nn::Linear(32, 5));
    }
    Tensor forward(const Tensor& tokens) override {  // (T, B) int64
        auto [out, state] = lstm->forward(embed->forward(tokens), {});
        auto [h, c] = state;
        Tensor pooled = out.sum({0}) / static_cast<double>(tokens.size(0));
        return log_softmax(fc->forward(pooled) + fc->forward(cat({h.select(0, 2), h.select(0, 3)}, 1)) - c.select(0, 0).sum({1}, true), 1);
    }
    std::shared_ptr<nn::Embedding> embed;
    std::shared_ptr<nn::LSTM> lstm;
    std::shared_ptr<nn::Linear> fc;
};

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

}  // namespace tgtest
