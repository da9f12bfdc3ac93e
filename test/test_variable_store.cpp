// TF-1 variable scopes: get_variable, reuse, nesting, errors, the global_variables table.
#include <cmath>
#include <sstream>

#include "test_support.hpp"

using namespace tg;
namespace init = tg::nn::init;

TEST_CASE("variable_store: scoped names, creation and reuse") {
    VariableStore store;
    Tensor w1, w2, b;
    {
        variable_scope outer(store, "test");
        CHECK(current_variable_scope() == "test");
        CHECK(&current_variable_store() == &store);
        w1 = get_variable("w", {3, 4}, init::constant(0.5));
        b = get_variable("b", {4}, init::zeros(), kFloat64, /*trainable=*/false);
        CHECK(w1.sizes() == Shape{3, 4});
        CHECK(w1.requires_grad());
        CHECK(w1.name() == "test/w");
        CHECK_FALSE(b.requires_grad());
        CHECK(b.dtype() == kFloat64);
        for (double v : tgtest::values(w1)) CHECK(v == 0.5);
    }
    CHECK(current_variable_scope().empty());
    {
        variable_scope again(store, "test", /*reuse=*/true);
        w2 = get_variable("w", {3, 4});
    }
    CHECK(w2.is_same(w1));  // the same variable, not a copy
    CHECK(store.size() == 2);
    CHECK(store.contains("test/w"));
    CHECK(store.get("test/b").is_same(b));
    CHECK(store.trainable_variables().size() == 1);
    REQUIRE_TG_ERROR(store.get("test/nope"), "test/nope");
    // Outside the scope bound to `store`, the default store is used.
    CHECK(&current_variable_store() == &VariableStore::global());
}

TEST_CASE("variable_store: nested scopes and inherited reuse") {
    VariableStore store;
    {
        variable_scope a(store, "encoder");
        {
            variable_scope b("layer1");
            CHECK(b.name() == "encoder/layer1");
            CHECK(&current_variable_store() == &store);  // inner scopes keep the store
            get_variable("kernel", {2, 2});
            {
                variable_scope c("inner");
                CHECK(current_variable_scope() == "encoder/layer1/inner");
                get_variable("v", {1});
            }
            CHECK(current_variable_scope() == "encoder/layer1");
        }
    }
    CHECK(store.contains("encoder/layer1/kernel"));
    CHECK(store.contains("encoder/layer1/inner/v"));
    {
        variable_scope a(store, "encoder", true);
        variable_scope b("layer1");  // reuse=false inside a reusing scope still reuses (TF-1)
        CHECK(b.reuse() == Reuse::Yes);
        CHECK(get_variable("kernel", {2, 2}).is_same(store.get("encoder/layer1/kernel")));
    }
    {
        variable_scope a(store, "auto", AUTO_REUSE);
        Tensor first = get_variable("x", {2});   // created
        Tensor second = get_variable("x", {2});  // found
        CHECK(first.is_same(second));
    }
}

TEST_CASE("variable_store: the three errors name the full scoped name") {
    VariableStore store;
    {
        variable_scope s(store, "test");
        variable_scope d("dense");
        get_variable("kernel", {3, 4});
        // 1. an existing name without reuse
        REQUIRE_TG_ERROR(get_variable("kernel", {3, 4}), "get_variable", "'test/dense/kernel'",
                         "already exists", "reuse=true");
        // 2. a missing name with reuse
    }
    {
        variable_scope s(store, "test", true);
        variable_scope d("dense");
        REQUIRE_TG_ERROR(get_variable("bias", {4}), "get_variable", "'test/dense/bias'",
                         "does not exist", "reuse=true");
        // 3. the same name with another shape (and another dtype)
        REQUIRE_TG_ERROR(get_variable("kernel", {4, 3}), "get_variable", "'test/dense/kernel'",
                         "[3, 4]", "[4, 3]");
        REQUIRE_TG_ERROR(get_variable("kernel", {3, 4}, {}, kFloat64), "'test/dense/kernel'",
                         "float32", "float64");
    }
    CHECK(store.size() == 1);  // failed calls created nothing
    {
        variable_scope s(store, "bad");
        REQUIRE_TG_ERROR(get_variable("w", {3}, init::xavier_uniform()), "'bad/w'", "[3]");
        REQUIRE_TG_ERROR(get_variable("i", {3}, {}, kInt64), "'bad/i'", "floating");
        REQUIRE_TG_ERROR(get_variable("", {3}), "get_variable");
    }
    REQUIRE_TG_ERROR(variable_scope(store, ""), "variable_scope");
}

TEST_CASE("variable_store: default initializer is TF-1 glorot_uniform") {
    VariableStore store;
    variable_scope s(store, "g");
    manual_seed(3);
    Tensor k = get_variable("kernel", {300, 100});  // TF layout (in, out)
    const double limit = std::sqrt(6.0 / 400.0);
    double lo = 0, hi = 0;
    for (double v : tgtest::values(k)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    CHECK(lo >= -limit);
    CHECK(hi <= limit);
    CHECK(hi > 0.99 * limit);
    Tensor v = get_variable("vec", {24});  // a vector: both fans are its length
    for (double x : tgtest::values(v)) CHECK(std::abs(x) <= std::sqrt(6.0 / 48.0));
}

TEST_CASE("variable_store: tied weights with dense (two ops, one set of variables)") {
    VariableStore store;
    manual_seed(7);
    Tensor x1 = randn({5, 3});
    Tensor x2 = randn({2, 3});
    Tensor y1, y2;
    {
        variable_scope s(store, "test");
        y1 = dense(x1, 4, "dense", [](const Tensor& t) { return relu(t); });
    }
    {
        variable_scope s(store, "test", true);
        y2 = dense(x2, 4, "dense", [](const Tensor& t) { return relu(t); });
    }
    REQUIRE(store.size() == 2);
    Tensor kernel = store.get("test/dense/kernel");
    Tensor bias = store.get("test/dense/bias");
    CHECK(kernel.sizes() == Shape{3, 4});
    CHECK(bias.sizes() == Shape{4});
    for (double v : tgtest::values(bias)) CHECK(v == 0.0);
    CHECK(y1.sizes() == Shape{5, 4});
    CHECK(y2.sizes() == Shape{2, 4});
    // Values: y2 = relu(x2 @ kernel + bias), by hand.
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 4; ++j) {
            double acc = bias.at({j});
            for (std::int64_t k = 0; k < 3; ++k) acc += x2.at({i, k}) * kernel.at({k, j});
            CHECK(y2.at({i, j}) == Approx(std::max(acc, 0.0)).margin(1e-6));
        }
    // Both uses send gradient into the one kernel.
    (y1.sum() + y2.sum()).backward();
    REQUIRE(kernel.grad().defined());
    Tensor g = kernel.grad();
    // d/dkernel[k][j] = sum over rows with positive pre-activation of x[k].
    for (std::int64_t k = 0; k < 3; ++k)
        for (std::int64_t j = 0; j < 4; ++j) {
            double expect = 0;
            for (std::int64_t i = 0; i < 5; ++i)
                if (y1.at({i, j}) > 0) expect += x1.at({i, k});
            for (std::int64_t i = 0; i < 2; ++i)
                if (y2.at({i, j}) > 0) expect += x2.at({i, k});
            CHECK(g.at({k, j}) == Approx(expect).margin(1e-5));
        }
    // A second dense without reuse in the same scope is an error naming the full name.
    variable_scope s(store, "test");
    REQUIRE_TG_ERROR(dense(x1, 4, "dense"), "'test/dense/kernel'", "already exists");
    REQUIRE_TG_ERROR(dense(randn({5}), 4), "dense", "[5]");
}

TEST_CASE("variable_store: global_variables lists name, shape, dtype as a table") {
    VariableStore::global().clear();
    {
        variable_scope s("model");
        get_variable("kernel", {784, 10});
        get_variable("bias", {10}, init::zeros(), kFloat64);
        get_variable("step", {}, init::zeros(), kInt64, false);
    }
    VariableList vars = global_variables();
    REQUIRE(vars.size() == 3);
    CHECK(vars[0].name == "model/kernel");
    CHECK(vars[0].shape == Shape{784, 10});
    CHECK(vars[0].dtype == kFloat32);
    CHECK(vars[1].name == "model/bias");
    CHECK(vars[1].dtype == kFloat64);
    CHECK_FALSE(vars[2].trainable);
    CHECK(vars.total_numel() == 7840 + 10 + 1);
    CHECK(trainable_variables().size() == 2);
    std::ostringstream os;
    os << vars;
    const std::string table = os.str();
    INFO(table);
    const std::string expected =
        "name          shape      dtype    trainable  numel\n"
        "--------------------------------------------------\n"
        "model/kernel  [784, 10]  float32  yes         7840\n"
        "model/bias    [10]       float64  yes           10\n"
        "model/step    []         int64    no             1\n"
        "3 variables, 7851 elements\n";
    CHECK(table == expected);
    VariableStore::global().clear();
    CHECK(global_variables().empty());
}

// ---- tg::layers: TF-1's tf.layers functions in the variable-store style ----------------------

namespace {
// An initializer writing fixed values (for hand-computed outputs).
init::Initializer values_of(std::vector<double> v) {
    return [v](Tensor& t) {
        NoGradGuard no_grad;
        t.copy_(from_vector(v, t.sizes()).to(t.dtype()));
    };
}
}  // namespace

TEST_CASE("layers::conv2d: TF's kernel layout (kh, kw, in, out), NHWC input, valid and same padding") {
    VariableStore store;
    variable_scope scope(store, "conv1");
    // 3x3 image 1..9, one channel; a 2x2 kernel of ones and bias 0.5.
    auto x = arange(1, 10, 1, kFloat64).reshape({1, 3, 3, 1});
    auto valid = layers::conv2d(x, 1, {2}, "valid", {.kernel_initializer = init::ones(),
                                                     .bias_initializer = init::constant(0.5)});
    CHECK(valid.sizes() == Shape{1, 2, 2, 1});
    CHECK(tgtest::values(valid) == std::vector<double>{12.5, 16.5, 24.5, 28.5});
    // "same": TF puts the odd padding row/column at the bottom/right.
    auto same = layers::conv2d(x, 1, {2, 2}, "same", {.padding = layers::Padding::Same,
                                                      .kernel_initializer = init::ones(),
                                                      .bias_initializer = init::constant(0.5)});
    CHECK(same.sizes() == Shape{1, 3, 3, 1});
    CHECK(tgtest::values(same) == std::vector<double>{12.5, 16.5, 9.5, 24.5, 28.5, 15.5, 15.5, 17.5, 9.5});
    CHECK(store.get("conv1/valid/kernel").sizes() == Shape{2, 2, 1, 1});
    CHECK(store.get("conv1/valid/bias").sizes() == Shape{1});

    // Two input channels, three filters, 1x1: y[..., o] = sum_c x[..., c] * kernel[0, 0, c, o].
    auto x2 = tensor({{1.0, 10.0}, {2.0, 20.0}}, kFloat64).reshape({1, 1, 2, 2});  // N H W C
    auto y2 = layers::conv2d(x2, 3, {1}, "mix", {.use_bias = false,
                                                 .kernel_initializer = values_of({1, 2, 3, 4, 5, 6})});
    CHECK(y2.sizes() == Shape{1, 1, 2, 3});
    CHECK(tgtest::values(y2) == std::vector<double>{41, 52, 63, 82, 104, 126});
    CHECK_FALSE(store.contains("conv1/mix/bias"));
    // channels-first gives the same numbers in NCHW.
    auto y2_nchw = layers::conv2d(x2.permute({0, 3, 1, 2}), 3, {1}, "mix_nchw",
                                  {.data_format = layers::DataFormat::ChannelsFirst, .use_bias = false,
                                   .kernel_initializer = values_of({1, 2, 3, 4, 5, 6})});
    CHECK(tgtest::values(y2_nchw.permute({0, 2, 3, 1})) == tgtest::values(y2));
    // The gradient reaches the kernel variable in TF's layout: d(sum y)/dk[c, o] = sum x[..., c].
    y2.sum().backward();
    CHECK(tgtest::values(store.get("conv1/mix/kernel").grad()) == std::vector<double>{3, 3, 3, 30, 30, 30});
    // Activation, and the glorot_uniform default: |k| <= sqrt(6 / (fan_in + fan_out)).
    auto act = layers::conv2d(x, 4, {3}, "act", {.activation = tg::relu});
    CHECK(tg::min(act).item<double>() >= 0.0);
    const double bound = std::sqrt(6.0 / (9 * 1 + 9 * 4));
    const double largest = tg::max(store.get("conv1/act/kernel").abs()).item<double>();
    CHECK(largest <= bound);
    CHECK(largest > bound / 2);  // 36 uniform draws all below half the bound: p = 2^-36
    REQUIRE_TG_ERROR(layers::conv2d(tg::zeros({3, 3, 1}), 1, {2}), "layers::conv2d", "N, H, W, C", "[3, 3, 1]");
    REQUIRE_TG_ERROR(layers::conv2d(x, 1, {2, 2, 2}, "bad"), "layers::conv2d", "kernel_size");
}

TEST_CASE("layers::conv2d: gradients match finite differences; a reusing scope shares the kernel") {
    VariableStore store;
    auto f = [&](const std::vector<Tensor>& in) {
        variable_scope scope(store, "g", AUTO_REUSE);
        return layers::conv2d(in[0], 2, {2}, "conv", {.strides = {2}, .padding = layers::Padding::Same,
                                                      .activation = tg::tanh});
    };
    REQUIRE_GRADCHECK(f, (std::vector<Tensor>{tgtest::leaf({2, 5, 5, 3})}));
    CHECK(store.size() == 2);  // every call reused g/conv/kernel and g/conv/bias
}

TEST_CASE("layers::batch_normalization: batch statistics and moving-average updates in training, moving ones in eval") {
    VariableStore store;
    auto x = tensor({{1.0, 2.0}, {2.0, 4.0}, {3.0, 6.0}, {4.0, 8.0}}, kFloat64);  // (N, C)
    Tensor y;
    {
        variable_scope scope(store, "net");
        y = layers::batch_normalization(x, /*training=*/true, "bn");
    }
    // Batch mean (2.5, 5), biased variance (1.25, 5), TF's epsilon 1e-3.
    for (std::int64_t i = 0; i < 4; ++i) {
        CHECK(y.at({i, 0}) == Approx((x.at({i, 0}) - 2.5) / std::sqrt(1.25 + 1e-3)));
        CHECK(y.at({i, 1}) == Approx((x.at({i, 1}) - 5.0) / std::sqrt(5.0 + 1e-3)));
    }
    // TF's momentum 0.99 weighs the old value; the variance update is unbiased (5/3, 20/3).
    const auto moving_mean = tgtest::values(store.get("net/bn/moving_mean"));
    const auto moving_variance = tgtest::values(store.get("net/bn/moving_variance"));
    CHECK(moving_mean[0] == Approx(0.01 * 2.5));
    CHECK(moving_mean[1] == Approx(0.01 * 5.0));
    CHECK(moving_variance[0] == Approx(0.99 + 0.01 * 5.0 / 3.0));
    CHECK(moving_variance[1] == Approx(0.99 + 0.01 * 20.0 / 3.0));
    // Only gamma and beta are trainable (TF-1's trainable_variables()).
    CHECK(store.size() == 4);
    auto trainable = store.trainable_variables();
    REQUIRE(trainable.size() == 2);
    CHECK(trainable[0].name == "net/bn/gamma");
    CHECK(trainable[1].name == "net/bn/beta");
    // Eval with the same variables: (x - moving_mean) / sqrt(moving_variance + eps); nothing moves.
    variable_scope reuse(store, "net", /*reuse=*/true);
    auto e = layers::batch_normalization(x, /*training=*/false, "bn");
    const double mm = 0.025, mv = 0.99 + 0.05 / 3.0;
    CHECK(e.at({2, 0}) == Approx((3.0 - mm) / std::sqrt(mv + 1e-3)));
    CHECK(store.get("net/bn/moving_mean").at({0}) == Approx(0.025));
}

TEST_CASE("layers::batch_normalization: NHWC normalises per last-axis channel; gradients") {
    VariableStore store;
    variable_scope scope(store, "img", AUTO_REUSE);
    manual_seed(3);
    auto x = randn({2, 3, 3, 4}, kFloat64) * 3.0 + 1.0;
    auto y = layers::batch_normalization(x, true, "bn", {.momentum = 0.9});
    CHECK(y.sizes() == x.sizes());
    auto per_channel_mean = y.mean({0, 1, 2});
    auto per_channel_var = (y * y).mean({0, 1, 2});
    for (double m : tgtest::values(per_channel_mean)) CHECK(std::abs(m) < 1e-9);
    for (double v : tgtest::values(per_channel_var)) CHECK(v == Approx(1.0).epsilon(2e-3));  // eps 1e-3 shrinks it
    const auto moving = tgtest::values(store.get("img/bn/moving_mean"));
    const auto batch_mean = tgtest::values(x.mean({0, 1, 2}));
    for (std::size_t c = 0; c < 4; ++c) CHECK(moving[c] == Approx(0.1 * batch_mean[c]));
    auto f = [&](const std::vector<Tensor>& in) { return layers::batch_normalization(in[0], true, "bn_grad"); };
    REQUIRE_GRADCHECK(f, (std::vector<Tensor>{tgtest::leaf({3, 2, 2, 2})}));
    REQUIRE_TG_ERROR(layers::batch_normalization(tg::zeros({4}), true), "layers::batch_normalization", "[4]");
}

TEST_CASE("layers::dropout and layers::max_pooling2d") {
    auto ones_batch = ones({100, 100});
    CHECK(equal(layers::dropout(ones_batch, 0.4, /*training=*/false), ones_batch));
    manual_seed(7);
    auto d = layers::dropout(ones_batch, 0.4, /*training=*/true);
    std::int64_t zeros_count = 0;
    for (double v : tgtest::values(d)) {
        if (v == 0.0) ++zeros_count;
        else CHECK(v == Approx(1.0 / 0.6));
    }
    CHECK(zeros_count > 3700);  // 4000 expected; binomial sd 49
    CHECK(zeros_count < 4300);
    REQUIRE_TG_ERROR(layers::dropout(ones_batch, 1.0, true), "layers::dropout", "keep_prob");

    auto img = arange(0, 16, 1, kFloat64).reshape({1, 4, 4, 1});  // NHWC
    auto p = layers::max_pooling2d(img, {2}, {2});
    CHECK(p.sizes() == Shape{1, 2, 2, 1});
    CHECK(tgtest::values(p) == std::vector<double>{5, 7, 13, 15});
    // Per channel: channel 1 is the negated image, whose maxima are the window's first cells.
    auto two = cat({img, -img}, 3);
    auto q = layers::max_pooling2d(two, {2, 2}, {2, 2});
    CHECK(tgtest::values(q) == std::vector<double>{5, 0, 7, -2, 13, -8, 15, -10});
    auto s = layers::max_pooling2d(arange(0, 9, 1, kFloat64).reshape({1, 3, 3, 1}), {2}, {2}, layers::Padding::Same);
    CHECK(tgtest::values(s) == std::vector<double>{4, 5, 7, 8});
    REQUIRE_TG_ERROR(layers::max_pooling2d(tg::zeros({4, 4}), {2}, {2}), "layers::max_pooling2d", "[4, 4]");
}
