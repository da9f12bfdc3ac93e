// TF-1 variable scopes: get_variable, reuse, nesting, errors, the global_variables table.
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
