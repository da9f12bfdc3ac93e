// tg::nn::Module, containers and layers: registration, names, modes, printing, forward
// against the functional ops, and a small MLP that learns.
#include <cmath>
#include <sstream>

#include "test_support.hpp"

using namespace tg;
namespace F = tg::nn::functional;

namespace {

// Copies values into a parameter without recording (what a checkpoint load does).
void set_values(Tensor t, const std::vector<double>& values) {
    NoGradGuard no_grad;
    t.copy_(from_vector(values, t.sizes()));
}

void check_all_close(const Tensor& got, const Tensor& want, double atol) {
    INFO("got " << got << " want " << want);
    CHECK(allclose(got, want, 0.0, atol));
}

std::vector<std::string> names_of(const NamedTensors& named) {
    std::vector<std::string> out;
    for (const auto& [name, t] : named) out.push_back(name);
    return out;
}

struct Encoder : nn::Module {
    Encoder() {
        conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)));
        bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(4));
        scale = register_parameter("scale", ones({1}));
    }
    Tensor forward(const Tensor& x) override { return relu(bn1->forward(conv1->forward(x))) * scale; }
    std::shared_ptr<nn::Conv2d> conv1;
    std::shared_ptr<nn::BatchNorm2d> bn1;
    Tensor scale;
};

struct Net : nn::Module {
    Net() {
        encoder = register_module("encoder", std::make_shared<Encoder>());
        head = register_module("head", nn::Sequential(nn::Flatten(), nn::Dropout(0.5),
                                                       nn::Linear(4 * 4 * 4, 3)));
    }
    Tensor forward(const Tensor& x) override { return head->forward(encoder->forward(x)); }
    std::shared_ptr<Encoder> encoder;
    std::shared_ptr<nn::Sequential> head;
};

}  // namespace

TEST_CASE("module: registration and dotted names through nested modules") {
    Net net;
    CHECK(names_of(net.named_parameters()) ==
          std::vector<std::string>{"encoder.scale", "encoder.conv1.weight", "encoder.conv1.bias",
                                   "encoder.bn1.weight", "encoder.bn1.bias", "head.2.weight",
                                   "head.2.bias"});
    CHECK(names_of(net.named_buffers()) ==
          std::vector<std::string>{"encoder.bn1.running_mean", "encoder.bn1.running_var",
                                   "encoder.bn1.num_batches_tracked"});
    CHECK(net.parameters().size() == 7);
    CHECK(net.parameters(/*recurse=*/false).empty());
    CHECK(names_of(net.encoder->named_parameters(false)) == std::vector<std::string>{"scale"});
    // The registry and the member handles are the same tensors.
    CHECK(net.named_parameters()[1].second.is_same(net.encoder->conv1->weight));
    CHECK(net.encoder->conv1->weight.sizes() == Shape{4, 1, 3, 3});
    for (const Tensor& p : net.parameters()) CHECK(p.requires_grad());
    for (const Tensor& b : net.buffers()) CHECK_FALSE(b.requires_grad());
    CHECK(net.children().size() == 2);
    CHECK(net.named_children()[1].first == "head");
    std::vector<std::string> module_names;
    for (const auto& [name, m] : net.named_modules()) module_names.push_back(name);
    CHECK(module_names == std::vector<std::string>{"encoder", "encoder.conv1", "encoder.bn1",
                                                   "head", "head.0", "head.1", "head.2"});
    CHECK(net.type_name() == "Net");
    CHECK(net.encoder->conv1->type_name() == "Conv2d");
}

TEST_CASE("module: registration errors") {
    nn::Module m("Custom");
    m.register_parameter("w", zeros({2}));
    m.register_buffer("b", zeros({2}));
    REQUIRE_TG_ERROR(m.register_parameter("w", zeros({2})), "register_parameter", "Custom",
                     "already has a parameter named 'w'");
    REQUIRE_TG_ERROR(m.register_module("b", nn::ReLU()), "register_module",
                     "already has a buffer named 'b'");
    REQUIRE_TG_ERROR(m.register_buffer("a.b", zeros({1})), "register_buffer", "'a.b'", "'.'");
    REQUIRE_TG_ERROR(m.register_parameter("", zeros({1})), "register_parameter", "empty");
    REQUIRE_TG_ERROR(m.register_parameter("u", Tensor()), "register_parameter", "undefined");
    REQUIRE_TG_ERROR(m.register_parameter("i", zeros({2}, kInt64)), "register_parameter", "int64");
    m.register_parameter("i", zeros({2}, kInt64), /*requires_grad=*/false);  // fine as a non-grad param
    REQUIRE_TG_ERROR(m.register_module("n", std::shared_ptr<nn::ReLU>()), "register_module", "null");
    REQUIRE_TG_ERROR(m.forward(zeros({1})), "Module::forward", "Custom");
    // A non-leaf tensor becomes a leaf parameter.
    Tensor x = ones({2}).requires_grad_();
    Tensor p = m.register_parameter("derived", x * 2.0);
    CHECK(p.is_leaf());
    CHECK(p.requires_grad());
    CHECK(tgtest::values(p) == std::vector<double>{2, 2});
}

TEST_CASE("module: train/eval propagate to every descendant") {
    Net net;
    CHECK(net.is_training());
    net.eval();
    CHECK_FALSE(net.is_training());
    CHECK_FALSE(net.encoder->bn1->is_training());
    CHECK_FALSE(net.head->ptr(1)->is_training());
    net.encoder->train();
    CHECK(net.encoder->conv1->is_training());
    CHECK_FALSE(net.head->is_training());
    net.train();
    for (const auto& [name, m] : net.named_modules()) CHECK(m->is_training());
}

TEST_CASE("module: zero_grad clears or zeroes every parameter's grad") {
    nn::Sequential seq(nn::Linear(3, 2), nn::Tanh(), nn::Linear(2, 1));
    seq.forward(randn({4, 3})).sum().backward();
    for (const Tensor& p : seq.parameters()) REQUIRE(p.grad().defined());
    seq.zero_grad(/*set_to_none=*/false);
    for (const Tensor& p : seq.parameters()) {
        REQUIRE(p.grad().defined());
        for (double v : tgtest::values(p.grad())) CHECK(v == 0.0);
    }
    seq.forward(randn({4, 3})).sum().backward();
    seq.zero_grad();
    for (const Tensor& p : seq.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("module: Sequential forward on fixed weights, indexing, value and pointer forms") {
    auto fc1 = std::make_shared<nn::Linear>(2, 3);
    nn::Linear fc2(nn::LinearOptions(3, 1).bias(false));  // a value
    set_values(fc1->weight, {1, 0, 0, 1, 1, -1});
    set_values(fc1->bias, {0, 0, -1});
    set_values(fc2.weight, {1, 2, 3});
    nn::Sequential seq(fc1, nn::ReLU(), fc2);
    REQUIRE(seq.size() == 3);
    CHECK(seq[0] == fc1);  // the pointer form is shared, not copied
    CHECK(seq.at<nn::Linear>(2).weight.is_same(fc2.weight));  // a value is moved in; tensors shared
    REQUIRE_TG_ERROR(seq.at<nn::Conv2d>(1), "Sequential::at", "ReLU");
    REQUIRE_TG_ERROR(seq[3], "Sequential", "index 3", "3 modules");
    // x = (2, 1): h = relu(2, 1, 2 - 1 - 1) = (2, 1, 0); y = 2 + 2 + 0 = 4.
    // x = (-1, 3): h = relu(-1, 3, -1 - 3 - 1) = (0, 3, 0); y = 6.
    Tensor y = seq.forward(tensor({{2, 1}, {-1, 3}}));
    CHECK(y.sizes() == Shape{2, 1});
    CHECK(tgtest::values(y) == std::vector<double>{4, 6});
    CHECK(tgtest::values(seq(tensor({{0, 0}}))) == std::vector<double>{0});
    CHECK(names_of(seq.named_parameters()) ==
          std::vector<std::string>{"0.weight", "0.bias", "2.weight"});
    // A function as a module, and a named push.
    nn::Sequential seq2;
    seq2.push_back(nn::Functional([](const Tensor& x) { return x * 2.0; }, "Double"));
    seq2.push_back("out", std::make_shared<nn::Sigmoid>());
    CHECK(tgtest::values(seq2.forward(tensor({0.0}))) == std::vector<double>{0.5});
    CHECK(seq2.named_children()[1].first == "out");
    REQUIRE_TG_ERROR(nn::Sequential().forward(ones({1})), "Sequential::forward", "empty");
    // Shapes through a conv stack.
    nn::Sequential cnn(nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(tg::nn::Padding::Same)),
                       nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(nn::Conv2dOptions(6, 8, 3).stride(2)), nn::Flatten(),
                       nn::Linear(8 * 3 * 3, 10));
    CHECK(cnn.forward(randn({2, 1, 14, 14})).sizes() == Shape{2, 10});
}

TEST_CASE("module: ModuleList holds modules without chaining them") {
    nn::ModuleList list(nn::Linear(2, 2), std::make_shared<nn::Linear>(2, 2));
    list.push_back(nn::ReLU());
    CHECK(list.size() == 3);
    CHECK(list.parameters().size() == 4);
    CHECK(names_of(list.named_parameters()).front() == "0.weight");
    Tensor x = randn({1, 2});
    for (const auto& m : list) x = m->forward(x);
    CHECK(x.sizes() == Shape{1, 2});
    REQUIRE_TG_ERROR(list.forward(x), "Module::forward", "ModuleList");
    REQUIRE_TG_ERROR(list[5], "ModuleList", "index 5");
}

TEST_CASE("module: printing the module tree") {
    Net net;
    std::ostringstream os;
    os << net;
    const std::string expected =
        "Net(\n"
        "  (encoder): Encoder(\n"
        "    (conv1): Conv2d(1, 4, kernel_size=[3, 3], stride=[1, 1], padding=[1, 1])\n"
        "    (bn1): BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)\n"
        "  )\n"
        "  (head): Sequential(\n"
        "    (0): Flatten(start_dim=1, end_dim=-1)\n"
        "    (1): Dropout(p=0.5)\n"
        "    (2): Linear(in_features=64, out_features=3, bias=true)\n"
        "  )\n"
        ")";
    CHECK(os.str() == expected);
    std::ostringstream leaf;
    leaf << nn::Sequential(nn::ELU(0.5), nn::Tanh(), nn::Sigmoid(),
                           nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(1).padding(tg::nn::Padding::Same)),
                           nn::Embedding(10, 4),
                           nn::Conv2d(nn::Conv2dOptions(2, 3, {1, 3}).dilation(2).bias(false)));
    CHECK(leaf.str() ==
          "Sequential(\n"
          "  (0): ELU(alpha=0.5)\n"
          "  (1): Tanh()\n"
          "  (2): Sigmoid()\n"
          "  (3): AvgPool2d(kernel_size=[3, 3], stride=[1, 1], padding=same)\n"
          "  (4): Embedding(num_embeddings=10, embedding_dim=4)\n"
          "  (5): Conv2d(2, 3, kernel_size=[1, 3], stride=[1, 1], dilation=[2, 2], bias=false)\n"
          ")");
}

TEST_CASE("layers: default init bounds and custom initializers") {
    manual_seed(21);
    nn::Linear fc(400, 50);
    const double bound = 1.0 / std::sqrt(400.0);  // kaiming_uniform(a = sqrt 5) and the bias
    double wmax = 0, bmax = 0;
    for (double v : tgtest::values(fc.weight)) wmax = std::max(wmax, std::abs(v));
    for (double v : tgtest::values(fc.bias)) bmax = std::max(bmax, std::abs(v));
    CHECK(wmax <= bound);
    CHECK(wmax > 0.98 * bound);
    CHECK(bmax <= bound);
    nn::Conv2d conv(nn::Conv2dOptions(4, 8, 5));
    const double cbound = 1.0 / std::sqrt(4.0 * 25.0);
    for (double v : tgtest::values(conv.weight)) CHECK(std::abs(v) <= cbound);
    for (double v : tgtest::values(conv.bias)) CHECK(std::abs(v) <= cbound);

    nn::Linear custom(nn::LinearOptions(3, 2)
                          .weight_init(nn::init::constant(0.5))
                          .bias_init([](Tensor& b) { nn::init::constant_(b, -1.0); }));
    for (double v : tgtest::values(custom.weight)) CHECK(v == 0.5);
    for (double v : tgtest::values(custom.bias)) CHECK(v == -1.0);
    nn::Linear nobias(nn::LinearOptions(3, 2).bias(false));
    CHECK_FALSE(nobias.bias.defined());
    CHECK(nobias.parameters().size() == 1);
    nn::Embedding emb(nn::EmbeddingOptions(5, 2).weight_init(nn::init::zeros()));
    for (double v : tgtest::values(emb.weight)) CHECK(v == 0.0);
    REQUIRE_TG_ERROR(nn::Linear(0, 3), "Linear", "positive");
    REQUIRE_TG_ERROR(nn::Conv2dOptions(1, 1, {1, 2, 3}), "Conv2dOptions", "kernel_size");
    REQUIRE_TG_ERROR(nn::Dropout(1.5), "Dropout", "1.5");
}

TEST_CASE("layers: Linear and Conv2d modules match the functional ops") {
    manual_seed(31);
    nn::Linear fc(5, 3);
    Tensor x = randn({4, 5});
    CHECK(allclose(fc.forward(x), F::linear(x, fc.weight, fc.bias)));
    // and a hand-computed element
    double acc = fc.bias.at({1});
    for (std::int64_t k = 0; k < 5; ++k) acc += x.at({2, k}) * fc.weight.at({1, k});
    CHECK(fc.forward(x).at({2, 1}) == Approx(acc));

    Tensor img = randn({2, 3, 9, 9});
    nn::Conv2d conv(nn::Conv2dOptions(3, 4, {3, 2}).stride(2).padding({1, 0}).dilation(1));
    Tensor expect = F::conv2d(img, conv.weight, conv.bias, {2, 2}, {1, 0}, {1, 1});
    Tensor got = conv.forward(img);
    CHECK(got.sizes() == Shape{2, 4, 5, 4});
    CHECK(allclose(got, expect));
    nn::Conv2d same(nn::Conv2dOptions(3, 2, 4).stride(2).padding(tg::nn::Padding::Same));
    Tensor s = same.forward(img);
    CHECK(s.sizes() == Shape{2, 2, 5, 5});  // ceil(9 / 2)
    CHECK(allclose(s, F::conv2d(img, same.weight, same.bias, {2, 2}, F::Padding::Same)));
    nn::Conv2d valid(nn::Conv2dOptions(3, 2, 4).stride(2).padding_mode(tg::nn::Padding::Valid));
    CHECK(valid.forward(img).sizes() == Shape{2, 2, 3, 3});

    nn::MaxPool2d mp(nn::MaxPool2dOptions(3).stride(2).padding(1));
    CHECK(allclose(mp.forward(img), F::max_pool2d(img, {3, 3}, {2, 2}, {1, 1})));
    nn::AvgPool2d ap(nn::AvgPool2dOptions({2, 3}).count_include_pad(false).padding({1, 1}));
    CHECK(allclose(ap.forward(img), F::avg_pool2d(img, {2, 3}, {2, 3}, {1, 1}, false, false)));
    CHECK(nn::Flatten().forward(img).sizes() == Shape{2, 243});
    CHECK(nn::Flatten(nn::FlattenOptions().start_dim(2)).forward(img).sizes() == Shape{2, 3, 81});

    nn::Embedding emb(6, 3);
    Tensor idx = from_vector(std::vector<std::int64_t>{5, 0, 5}, {3});
    Tensor e = emb.forward(idx);
    CHECK(e.sizes() == Shape{3, 3});
    CHECK(e.at({0, 2}) == emb.weight.at({5, 2}));
    CHECK(e.at({1, 1}) == emb.weight.at({0, 1}));

    Tensor z = tensor({-1.0, 0.5});
    CHECK(allclose(nn::ELU(0.5).forward(z), tensor({0.5 * (std::exp(-1.0) - 1), 0.5})));
    CHECK(allclose(nn::ReLU().forward(z), tensor({0.0, 0.5})));
    CHECK(allclose(nn::Tanh().forward(z), tensor({std::tanh(-1.0), std::tanh(0.5)})));
    CHECK(allclose(nn::Sigmoid()(z), tensor({1 / (1 + std::exp(1.0)), 1 / (1 + std::exp(-0.5))})));
}

TEST_CASE("layers: Dropout is inverted in training and the identity in eval") {
    manual_seed(41);
    nn::Dropout drop(0.25);
    Tensor x = ones({10000});
    Tensor y = drop.forward(x);
    std::int64_t zeros_seen = 0;
    for (double v : tgtest::values(y)) {
        if (v == 0.0) ++zeros_seen;
        else CHECK(v == Approx(1.0 / 0.75));
    }
    CHECK(zeros_seen == Approx(2500).margin(200));
    drop.eval();
    CHECK(equal(drop.forward(x), x));
}

TEST_CASE("layers: BatchNorm uses batch stats in training, running stats after eval") {
    manual_seed(51);
    nn::BatchNorm2d bn(nn::BatchNormOptions(3).momentum(0.5));
    CHECK(names_of(bn.named_buffers()) ==
          std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"});
    for (double v : tgtest::values(bn.weight)) CHECK(v == 1.0);
    for (double v : tgtest::values(bn.bias)) CHECK(v == 0.0);
    set_values(bn.weight, {1.0, 2.0, 0.5});
    set_values(bn.bias, {0.0, 1.0, -1.0});
    Tensor x = randn({4, 3, 5, 5}) * 2.0 + 1.0;

    // Training: the same as the functional op with its own copy of the running stats.
    Tensor rm = zeros({3}), rv = ones({3});
    Tensor expect = F::batch_norm(x, rm, rv, bn.weight, bn.bias, true, 0.5, 1e-5);
    Tensor y = bn.forward(x);
    CHECK(allclose(y, expect, 1e-5, 1e-6));
    CHECK(allclose(bn.running_mean, rm));
    CHECK(allclose(bn.running_var, rv));
    CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);
    // Per channel the output has mean = bias and std = weight (batch stats).
    Tensor ch1 = y.select(1, 1);
    CHECK(ch1.mean().item<double>() == Approx(1.0).margin(1e-5));
    // The running mean moved halfway from 0 to the batch mean.
    CHECK(bn.running_mean.at({0}) == Approx(0.5 * x.select(1, 0).mean().item<double>()).margin(1e-5));

    bn.eval();
    Tensor e = bn.forward(x);
    CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);  // eval does not count
    for (std::int64_t c = 0; c < 3; ++c) {
        const double m = bn.running_mean.at({c}), v = bn.running_var.at({c});
        const double expected_val =
            (x.at({2, c, 3, 1}) - m) / std::sqrt(v + 1e-5) * bn.weight.at({c}) + bn.bias.at({c});
        CHECK(e.at({2, c, 3, 1}) == Approx(expected_val).margin(1e-4));
    }
    CHECK(allclose(e, F::batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, false)));

    nn::BatchNorm1d bn1(nn::BatchNormOptions(2).affine(false).track_running_stats(false));
    CHECK(bn1.parameters().empty());
    CHECK(bn1.buffers().empty());
    bn1.eval();  // no running stats: still batch statistics
    Tensor t = tensor({{1, 10}, {3, 30}});
    CHECK(allclose(bn1.forward(t), tensor({{-1, -1}, {1, 1}}), 1e-3, 1e-3));
    REQUIRE_TG_ERROR(bn1.forward(ones({2, 3})), "BatchNorm1d", "[2, 3]", "num_features = 2");
    REQUIRE_TG_ERROR(bn.forward(ones({2, 3})), "BatchNorm2d", "[2, 3]", "4-D");
}

TEST_CASE("layers: LayerNorm parameters, defaults, values and printing") {
    manual_seed(61);
    nn::LayerNorm ln(nn::LayerNormOptions({2, 3}));
    CHECK(names_of(ln.named_parameters()) == std::vector<std::string>{"weight", "bias"});
    CHECK(ln.weight.sizes() == Shape{2, 3});
    CHECK(ln.bias.sizes() == Shape{2, 3});
    CHECK(tgtest::values(ln.weight) == std::vector<double>(6, 1.0));
    CHECK(tgtest::values(ln.bias) == std::vector<double>(6, 0.0));
    CHECK(ln.options.eps() == 1e-5);
    CHECK(ln.options.elementwise_affine());
    Tensor x = randn({4, 2, 3}) * 3.0 + 2.0;
    Tensor y = ln.forward(x);
    // With the default weight and bias every sample has mean 0 and biased variance ~1.
    check_all_close(y.mean({1, 2}), zeros({4}), 1e-5);
    check_all_close((y * y).mean({1, 2}), ones({4}), 1e-3);
    set_values(ln.weight, {1, 2, 3, 4, 5, 6});
    set_values(ln.bias, {0, 0, 1, 1, -1, -1});
    CHECK(allclose(ln.forward(x), F::layer_norm(x, {2, 3}, ln.weight, ln.bias)));
    ln.eval();  // no running statistics: the same in eval
    CHECK(allclose(ln.forward(x), F::layer_norm(x, {2, 3}, ln.weight, ln.bias)));

    nn::LayerNorm plain(nn::LayerNormOptions({3}).eps(1e-3).elementwise_affine(false));
    CHECK(plain.parameters().empty());
    const double sd = std::sqrt(2.0 / 3.0 + 1e-3);  // row 1 2 3: mean 2, biased variance 2/3
    CHECK(allclose(plain.forward(tensor({{1.0, 2.0, 3.0}})), tensor({{-1 / sd, 0.0, 1 / sd}}), 1e-5, 1e-6));
    std::ostringstream os;
    os << nn::Sequential(nn::LayerNorm(nn::LayerNormOptions({2, 3})), nn::LayerNorm(plain.options));
    CHECK(os.str() ==
          "Sequential(\n"
          "  (0): LayerNorm([2, 3], eps=1e-05, elementwise_affine=true)\n"
          "  (1): LayerNorm([3], eps=0.001, elementwise_affine=false)\n"
          ")");
    REQUIRE_TG_ERROR(nn::LayerNorm(nn::LayerNormOptions(Shape{})), "LayerNorm", "at least 1 dim");
    REQUIRE_TG_ERROR(nn::LayerNorm(nn::LayerNormOptions({0})), "LayerNorm", "positive", "[0]");
    REQUIRE_TG_ERROR(ln.forward(ones({4, 3, 2})), "layer_norm", "[4, 3, 2]", "[2, 3]");
}

TEST_CASE("layers: ConvTranspose2d parameters, default init, forward and printing") {
    manual_seed(62);
    nn::ConvTranspose2d ct(nn::ConvTranspose2dOptions(3, 5, {3, 2}).stride(2).padding(1).output_padding(1));
    CHECK(names_of(ct.named_parameters()) == std::vector<std::string>{"weight", "bias"});
    CHECK(ct.weight.sizes() == Shape{3, 5, 3, 2});  // libtorch's (in, out, kh, kw)
    CHECK(ct.bias.sizes() == Shape{5});
    // libtorch's default: fan_in from weight dim 1, out * kh * kw = 30.
    const double bound = 1.0 / std::sqrt(30.0);
    double wmax = 0;
    for (double v : tgtest::values(ct.weight)) wmax = std::max(wmax, std::abs(v));
    CHECK(wmax <= bound);
    CHECK(wmax > 0.9 * bound);
    for (double v : tgtest::values(ct.bias)) CHECK(std::abs(v) <= bound);
    Tensor img = randn({2, 3, 4, 5});
    Tensor got = ct.forward(img);
    CHECK(got.sizes() == Shape{2, 5, 8, 9});  // (4 - 1) * 2 - 2 + 3 + 1 = 8, (5 - 1) * 2 - 2 + 2 + 1 = 9
    CHECK(allclose(got, F::conv_transpose2d(img, ct.weight, ct.bias, {2, 2}, {1, 1}, {1, 1}, 1, {1, 1})));
    // It undoes the shape change of the Conv2d with the same settings.
    nn::Conv2d down(nn::Conv2dOptions(5, 3, {3, 2}).stride(2).padding(1));
    CHECK(down.forward(got).sizes() == img.sizes());

    nn::ConvTranspose2d plain(nn::ConvTranspose2dOptions(2, 4, 3).dilation(2).bias(false));
    CHECK(plain.parameters().size() == 1);
    CHECK_FALSE(plain.bias.defined());
    nn::ConvTranspose2d custom(nn::ConvTranspose2dOptions(1, 1, 1).weight_init(nn::init::constant(2.0)));
    CHECK(custom.forward(full({1, 1, 1, 1}, 1.5)).item<double>() == Approx(3.0 + custom.bias.item<double>()));
    std::ostringstream os;
    os << nn::Sequential(nn::ConvTranspose2d(ct.options), nn::ConvTranspose2d(plain.options),
                         nn::ConvTranspose2d(1, 2, 4));
    CHECK(os.str() ==
          "Sequential(\n"
          "  (0): ConvTranspose2d(3, 5, kernel_size=[3, 2], stride=[2, 2], padding=[1, 1], output_padding=[1, 1])\n"
          "  (1): ConvTranspose2d(2, 4, kernel_size=[3, 3], stride=[1, 1], dilation=[2, 2], bias=false)\n"
          "  (2): ConvTranspose2d(1, 2, kernel_size=[4, 4], stride=[1, 1])\n"
          ")");
    REQUIRE_TG_ERROR(nn::ConvTranspose2d(0, 3, 3), "ConvTranspose2d", "positive");
    REQUIRE_TG_ERROR(nn::ConvTranspose2dOptions(1, 1, {1, 2, 3}), "ConvTranspose2dOptions", "kernel_size");
    REQUIRE_TG_ERROR(ct.forward(ones({1, 2, 4, 4})), "conv_transpose2d", "[1, 2, 4, 4]", "[3, 5, 3, 2]");
}

TEST_CASE("layers: Upsample and AdaptiveAvgPool2d") {
    manual_seed(63);
    Tensor img = randn({2, 3, 4, 5});
    nn::Upsample up(nn::UpsampleOptions().scale_factor(2));
    CHECK(up.parameters().empty());
    Tensor u = up.forward(img);
    CHECK(u.sizes() == Shape{2, 3, 8, 10});
    CHECK(u.at({1, 2, 7, 9}) == img.at({1, 2, 3, 4}));
    CHECK(u.at({0, 1, 2, 5}) == img.at({0, 1, 1, 2}));
    nn::Upsample sized(nn::UpsampleOptions().size({5, 7}));
    CHECK(allclose(sized.forward(img), F::upsample_nearest2d(img, {5, 7})));
    nn::Upsample square(nn::UpsampleOptions().scale_factor(2).size({6}));  // the last one set wins
    CHECK(square.forward(img).sizes() == Shape{2, 3, 6, 6});

    nn::AdaptiveAvgPool2d gap(1);
    Tensor g = gap.forward(img);
    CHECK(g.sizes() == Shape{2, 3, 1, 1});
    CHECK(allclose(g.reshape({2, 3}), img.mean({2, 3})));
    nn::AdaptiveAvgPool2d pool(nn::AdaptiveAvgPool2dOptions({3, 2}));
    CHECK(allclose(pool.forward(img), F::adaptive_avg_pool2d(img, {3, 2})));
    CHECK(pool.parameters().empty());

    std::ostringstream os;
    os << nn::Sequential(nn::Upsample(up.options), nn::Upsample(sized.options),
                         nn::Upsample(nn::UpsampleOptions().scale_factor({1.5, 2})), nn::AdaptiveAvgPool2d(1),
                         nn::AdaptiveAvgPool2d(pool.options));
    CHECK(os.str() ==
          "Sequential(\n"
          "  (0): Upsample(scale_factor=[2, 2], mode=nearest)\n"
          "  (1): Upsample(size=[5, 7], mode=nearest)\n"
          "  (2): Upsample(scale_factor=[1.5, 2], mode=nearest)\n"
          "  (3): AdaptiveAvgPool2d(output_size=[1, 1])\n"
          "  (4): AdaptiveAvgPool2d(output_size=[3, 2])\n"
          ")");
    REQUIRE_TG_ERROR(nn::Upsample(nn::UpsampleOptions()), "Upsample", "size or a scale_factor");
    REQUIRE_TG_ERROR(nn::UpsampleOptions().size({0, 3}), "UpsampleOptions", "size", "[0, 3]");
    REQUIRE_TG_ERROR(nn::UpsampleOptions().scale_factor(-2), "UpsampleOptions", "scale_factor");
    REQUIRE_TG_ERROR(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({2, 2, 2})), "AdaptiveAvgPool2d",
                     "output_size", "[2, 2, 2]");
    REQUIRE_TG_ERROR(gap.forward(ones({4, 4})), "adaptive_avg_pool2d", "[4, 4]");
}

TEST_CASE("training: a small MLP separates two classes (accuracy >= 0.95)") {
    manual_seed(61);
    // Two classes split by a circle: inside radius 1 vs outside (not linearly separable).
    const std::int64_t n = 512;
    Tensor x = uniform({n, 2}, -2.0, 2.0);
    std::vector<std::int64_t> labels(n);
    for (std::int64_t i = 0; i < n; ++i) {
        const double r2 = x.at({i, 0}) * x.at({i, 0}) + x.at({i, 1}) * x.at({i, 1});
        labels[i] = r2 < 1.6 ? 1 : 0;
    }
    Tensor y = from_vector(labels, {n});
    auto model = std::make_shared<nn::Sequential>(nn::Linear(2, 32), nn::Tanh(),
                                                  nn::Linear(32, 32), nn::ReLU(),
                                                  nn::Linear(32, 2));
    auto accuracy = [&] {
        NoGradGuard no_grad;
        Tensor pred = model->forward(x).argmax(1);
        std::int64_t right = 0;
        const auto p = pred.to_vector<std::int64_t>();
        for (std::int64_t i = 0; i < n; ++i) right += p[i] == labels[i];
        return static_cast<double>(right) / static_cast<double>(n);
    };
    const double before = accuracy();
    const double lr = 0.5;
    for (int step = 0; step < 400; ++step) {
        model->zero_grad();
        Tensor loss = F::cross_entropy(model->forward(x), y);
        loss.backward();
        NoGradGuard no_grad;
        for (Tensor& p : model->parameters()) p.add_(p.grad(), -lr);
    }
    const double after = accuracy();
    INFO("accuracy before " << before << ", after " << after);
    CHECK(after >= 0.95);
}
