// tg::onnx::save / load / from_onnx: graphs saved and loaded back bit for bit, our own
// ONNX exports imported and matching the traced graph, PyTorch-style shape chains folded,
// and malformed files rejected with a tg::Error that names the problem.
#include <set>

#include "io/protobuf.hpp"
#include "onnx/arity.hpp"
#include "onnx/proto.hpp"
#include "onnx_models.hpp"
#include "tapegrad/onnx.hpp"
#include "tapegrad/tapegrad.hpp"
#include "test_support.hpp"

using namespace tg;
using namespace tgtest;
using tg::summary::detail::ProtoWriter;

namespace {

struct Case {
    std::string name;
    std::shared_ptr<nn::Module> model;
    Tensor example, input;  // traced at `example`'s batch, run at `input`'s
};

std::vector<Case> example_models() {
    manual_seed(20);
    std::vector<Case> cases;
    cases.push_back({"logreg", std::make_shared<SoftmaxRegression>(), randn({1, 784}), rand({5, 784})});
    auto mlp = std::make_shared<nn::Sequential>(nn::Linear(784, 256), nn::ReLU(), nn::Dropout(0.2), nn::Linear(256, 128),
                                                nn::ReLU(), nn::Dropout(0.2), nn::Linear(128, 10));
    cases.push_back({"mlp", mlp, randn({1, 784}), rand({7, 784})});
    auto cnn = std::make_shared<FashionCnn>();
    for (int i = 0; i < 2; ++i) cnn->forward(randn({8, 1, 28, 28}) * 0.5 + 0.2);  // running statistics
    cases.push_back({"cnn", cnn, randn({1, 1, 28, 28}), rand({3, 1, 28, 28})});
    cases.push_back({"same_cnn", std::make_shared<SameCnn>(), randn({2, 1, 28, 28}), rand({4, 1, 28, 28})});
    cases.push_back({"grouped_cnn", std::make_shared<GroupedCnn>(), randn({2, 1, 28, 28}), rand({3, 1, 28, 28})});
    cases.push_back({"gru", std::make_shared<GruClassifier>(), randn({1, 784}), rand({6, 784})});
    cases.push_back({"lstm", std::make_shared<LstmTagger>(), randint(0, 50, {9, 4}), randint(0, 50, {9, 4})});
    cases.push_back({"selection_ops", std::make_shared<SelectionOps>(), randn({4, 12}), randn({6, 12})});
    cases.push_back({"image_ops", std::make_shared<ImageOps>(), randn({2, 3, 6, 5}), randn({3, 3, 6, 5})});
    for (auto& c : cases) c.model->eval();
    return cases;
}

jit::Graph traced(Case& c) {
    jit::TraceOptions options;
    options.dynamic_batch = true;
    return jit::trace(*c.model, c.example, options);
}

std::vector<std::string> names_of(const jit::Graph& g, const std::vector<int>& ids) {
    std::vector<std::string> names;
    for (int id : ids) names.push_back(id < 0 ? std::string() : g.value(id).name);
    return names;
}

// ---- hand-built ONNX files (onnx.proto field numbers) ----

ProtoWriter attr_int(const std::string& name, std::int64_t v) {
    ProtoWriter a;
    a.bytes_field(1, name);
    a.int_field(3, v);
    a.uint_field(20, 2);
    return a;
}
ProtoWriter attr_ints(const std::string& name, const std::vector<std::int64_t>& v) {
    ProtoWriter a;
    a.bytes_field(1, name);
    for (auto x : v) a.int_field(8, x);
    a.uint_field(20, 7);
    return a;
}
ProtoWriter attr_tensor(const std::string& name, const Tensor& t) {
    ProtoWriter a;
    a.bytes_field(1, name);
    a.message_field(5, onnx::detail::tensor_proto("", t));
    a.uint_field(20, 4);
    return a;
}
ProtoWriter node(const std::string& op, const std::vector<std::string>& ins, const std::vector<std::string>& outs,
                 const std::vector<ProtoWriter>& attrs = {}, const std::string& domain = "") {
    ProtoWriter n;
    for (const auto& i : ins) n.bytes_field(1, i);
    for (const auto& o : outs) n.bytes_field(2, o);
    n.bytes_field(3, outs.empty() ? op : outs[0]);
    n.bytes_field(4, op);
    for (const auto& a : attrs) n.message_field(5, a);
    if (!domain.empty()) n.bytes_field(7, domain);
    return n;
}
// A graph input or output: dims with -1 written as the symbolic "batch".
ProtoWriter value(const std::string& name, const std::vector<std::int64_t>& dims, std::int64_t elem_type = 1) {
    ProtoWriter shape;
    for (auto d : dims) {
        ProtoWriter dim;
        if (d < 0) dim.bytes_field(2, "batch");
        else dim.int_field(1, d);
        shape.message_field(1, dim);
    }
    ProtoWriter tensor_type, type, info;
    tensor_type.int_field(1, elem_type);
    tensor_type.message_field(2, shape);
    type.message_field(1, tensor_type);
    info.bytes_field(1, name);
    info.message_field(2, type);
    return info;
}
std::string model(const std::vector<ProtoWriter>& nodes, const std::vector<ProtoWriter>& initializers,
                  const std::vector<ProtoWriter>& inputs, const std::vector<ProtoWriter>& outputs,
                  std::int64_t opset = 17) {
    ProtoWriter g;
    for (const auto& n : nodes) g.message_field(1, n);
    g.bytes_field(2, "test");
    for (const auto& i : initializers) g.message_field(5, i);
    for (const auto& i : inputs) g.message_field(11, i);
    for (const auto& o : outputs) g.message_field(12, o);
    ProtoWriter opset_id, m;
    opset_id.bytes_field(1, "");
    opset_id.int_field(2, opset);
    m.int_field(1, 8);
    m.message_field(7, g);
    m.message_field(8, opset_id);
    return m.bytes();
}
ProtoWriter initializer(const std::string& name, const Tensor& t) { return onnx::detail::tensor_proto(name, t); }

// A small valid model: y = relu(x @ W^T + b), x of shape (batch, 3).
std::string small_model() {
    return model({node("Gemm", {"x", "W", "b"}, {"h"}, {attr_int("transB", 1)}), node("Relu", {"h"}, {"y"})},
                 {initializer("W", from_vector(std::vector<float>{1, -2, 3, 0.5f, 0.25f, -1}, {2, 3})),
                  initializer("b", from_vector(std::vector<float>{0.5f, -0.5f}, {2}))},
                 {value("x", {-1, 3})}, {value("y", {-1, 2})});
}

}  // namespace

TEST_CASE("onnx: save and load give back the example models, bit for bit") {
    TempDir dir;
    for (auto& c : example_models()) {
        INFO(c.name);
        const jit::Graph g = traced(c);
        onnx::save(g, dir.file(c.name + ".tg.onnx"));
        const jit::Graph loaded = onnx::load(dir.file(c.name + ".tg.onnx"));
        REQUIRE(loaded.nodes().size() == g.nodes().size());
        for (std::size_t n = 0; n < g.nodes().size(); ++n) {
            CHECK(loaded.nodes()[n].kind == g.nodes()[n].kind);
            CHECK(names_of(loaded, loaded.nodes()[n].inputs) == names_of(g, g.nodes()[n].inputs));
            CHECK(names_of(loaded, loaded.nodes()[n].outputs) == names_of(g, g.nodes()[n].outputs));
            CHECK(loaded.nodes()[n].attributes == g.nodes()[n].attributes);
        }
        CHECK(names_of(loaded, loaded.inputs()) == names_of(g, g.inputs()));
        CHECK(names_of(loaded, loaded.outputs()) == names_of(g, g.outputs()));
        std::set<std::string> saved_weights, loaded_weights;
        for (const auto& [id, t] : g.initializers()) saved_weights.insert(g.value(id).name);
        for (const auto& [id, t] : loaded.initializers()) loaded_weights.insert(loaded.value(id).name);
        CHECK(loaded_weights == saved_weights);
        CHECK(loaded.value(loaded.inputs()[0]).dynamic_batch);
        const auto expected = g.run({{"input", c.input}});
        const auto got = loaded.run({{"input", c.input}});
        REQUIRE(got.size() == expected.size());
        for (std::size_t k = 0; k < got.size(); ++k) CHECK(same_bits(got[k], expected[k]));
    }
}

TEST_CASE("onnx: loading a training-mode graph leaves its running statistics as saved") {
    // load runs each node once to infer shapes; a training-mode batch norm would update the
    // running statistics it read, so the dry run gives it copies.
    manual_seed(3);
    FashionCnn model;
    model.train();
    jit::TraceOptions options;
    options.dynamic_batch = true;
    const jit::Graph g = jit::trace(model, randn({2, 1, 28, 28}), options);
    TempDir dir;
    onnx::save(g, dir.file("train.tg.onnx"));
    const jit::Graph loaded = onnx::load(dir.file("train.tg.onnx"));
    int statistics = 0;
    for (const auto& [id, saved] : g.initializers()) {
        if (g.value(id).name.find("running") == std::string::npos) continue;
        ++statistics;
        INFO(g.value(id).name);
        Tensor reloaded;
        for (const auto& [loaded_id, t] : loaded.initializers())
            if (loaded.value(loaded_id).name == g.value(id).name) reloaded = t;
        REQUIRE(reloaded.defined());
        CHECK(same_bits(reloaded, saved));
    }
    CHECK(statistics == 4);  // bn1 and bn2: mean and var
}

TEST_CASE("onnx: load knows the inputs of every traceable kind") {
    // A kind missing from onnx/arity.hpp would make load refuse every saved graph using it.
    for (const auto& kind : jit::traceable_kinds()) {
        INFO(kind);
        onnx::detail::Arity arity;
        CHECK(onnx::detail::saved_arity(kind, 1, 1, arity));
    }
}

TEST_CASE("onnx: what export_model writes imports and matches the traced graph") {
    for (auto& c : example_models()) {
        INFO(c.name);
        const jit::Graph g = traced(c);
        const jit::Graph imported = onnx::from_onnx(onnx::to_onnx(g), c.name);
        const auto expected = g.run({{"input", c.input}});
        const auto got = imported.run({{"input", c.input}});
        REQUIRE(got.size() == expected.size());
        for (std::size_t k = 0; k < got.size(); ++k) check_close(got[k], expected[k], 1e-6);
        // Weights keep their names wherever the export kept them as they are.
        if (c.name == "mlp") CHECK_NOTHROW(imported.find("0.weight"));
        if (c.name == "cnn") CHECK_NOTHROW(imported.find("bn1.running_var"));
    }
}

TEST_CASE("onnx import: PyTorch's x.view(x.size(0), -1) chain folds into a view with a dynamic batch") {
    // Shape -> Gather(0) -> Unsqueeze -> Concat([., -1]) -> Reshape, then Gemm(transB) and
    // Relu, as torch.onnx.export writes nn.Linear after a flatten; Constant and Identity too.
    const Tensor W = from_vector(std::vector<float>{1, -2, 3, 0.5f, 0.25f, -1, 2, 0, 1, -1, 0.5f, 0.5f}, {2, 6});
    const std::string bytes = model(
        {node("Shape", {"x"}, {"s"}), node("Constant", {}, {"zero"}, {attr_tensor("value", from_vector(std::vector<std::int64_t>{0}).reshape({}))}),
         node("Gather", {"s", "zero"}, {"n"}, {attr_int("axis", 0)}),
         node("Unsqueeze", {"n", "axes"}, {"n1"}),
         node("Constant", {}, {"minus_one"}, {attr_tensor("value", from_vector(std::vector<std::int64_t>{-1}))}),
         node("Concat", {"n1", "minus_one"}, {"target"}, {attr_int("axis", 0)}),
         node("Reshape", {"x", "target"}, {"flat"}), node("Identity", {"W"}, {"W_alias"}),
         node("Gemm", {"flat", "W_alias", "b"}, {"h"}, {attr_int("transB", 1)}), node("Relu", {"h"}, {"y"})},
        {initializer("W", W), initializer("b", from_vector(std::vector<float>{0.5f, -0.5f}, {2})),
         initializer("axes", from_vector(std::vector<std::int64_t>{0}))},
        {value("x", {-1, 2, 3})}, {value("y", {-1, 2})});
    const jit::Graph g = onnx::from_onnx(bytes);
    CHECK(g.value(g.inputs()[0]).dynamic_batch);
    CHECK(g.value(g.outputs()[0]).dynamic_batch);
    // The shape arithmetic is gone: one view, one linear, one relu (the Identity on a weight folds).
    std::vector<std::string> kinds;
    for (const auto& n : g.nodes()) kinds.push_back(n.kind);
    CHECK(kinds == std::vector<std::string>{"view", "linear", "relu"});
    CHECK(g.nodes()[0].ints("shape") == std::vector<std::int64_t>{-1, 6});
    for (std::int64_t batch : {1, 4}) {
        const Tensor x = randn({batch, 2, 3});
        const Tensor expected = relu(matmul(x.reshape({batch, 6}), W.t()) + from_vector(std::vector<float>{0.5f, -0.5f}));
        check_close(g.run({{"x", x}})[0], expected, 1e-6);
    }
}

TEST_CASE("onnx import: a hand-written model runs as written") {
    const jit::Graph g = onnx::from_onnx(small_model());
    const Tensor x = from_vector(std::vector<float>{1, 2, 3, -1, 0, 2}, {2, 3});
    // rows: [1-4+9+0.5, 0.5+0.5-3-0.5] = [6.5, -2.5] -> [6.5, 0]; [-1+0+6+0.5, -0.5+0-2-0.5] -> [5.5, 0]
    check_close(g.run({{"x", x}})[0], std::vector<double>{6.5, 0, 5.5, 0});
    CHECK_NOTHROW(g.find("W"));
}

TEST_CASE("ProtoReader: empty packed fields are no values (fuzz finding: a memcpy from null)") {
    ProtoWriter w;
    w.bytes_field(4, "");  // packed floats, zero bytes
    w.bytes_field(10, "");  // packed doubles
    w.bytes_field(7, "");  // packed varints
    tg::summary::detail::ProtoReader r(w.bytes(), "test");
    std::vector<float> floats;
    std::vector<double> doubles;
    std::vector<std::int64_t> ints;
    REQUIRE(r.next());
    r.floats(floats);
    REQUIRE(r.next());
    r.doubles(doubles);
    REQUIRE(r.next());
    r.ints(ints);
    CHECK(!r.next());
    CHECK(floats.empty());
    CHECK(doubles.empty());
    CHECK(ints.empty());
    // The same inside a model: an empty float tensor given by float_data.
    ProtoWriter empty;
    empty.int_field(1, 0), empty.int_field(2, 1), empty.bytes_field(8, "nothing"), empty.bytes_field(4, "");
    const jit::Graph g = onnx::from_onnx(model({node("Concat", {"x", "nothing"}, {"y"}, {attr_int("axis", 0)})}, {empty},
                                               {value("x", {3})}, {value("y", {3})}));
    check_close(g.run({{"x", from_vector(std::vector<float>{1, 2, 3})}})[0], std::vector<double>{1, 2, 3});
}

TEST_CASE("onnx import: malformed files throw tg::Error naming the problem") {
    const std::string good = small_model();
    SECTION("every truncation of a valid file throws tg::Error or loads, never anything else") {
        for (std::size_t n = 0; n < good.size(); ++n) {
            try {
                (void)onnx::from_onnx(good.substr(0, n));
            } catch (const Error&) {
            }
        }
        REQUIRE_TG_ERROR(onnx::from_onnx(good.substr(0, good.size() - 3), "cut.onnx"), "cut.onnx");
    }
    SECTION("lengths and varints past the end") {
        REQUIRE_TG_ERROR(onnx::from_onnx(std::string("\x3a\x7f", 2)), "a length of 127 bytes with only 0 left");
        REQUIRE_TG_ERROR(onnx::from_onnx(std::string("\x08\xff\xff", 3)), "truncated varint");
        REQUIRE_TG_ERROR(onnx::from_onnx(std::string("\x08\x01", 2)), "no graph");
    }
    const std::vector<ProtoWriter> x_in{value("x", {-1, 3})}, y_out{value("y", {-1, 3})};
    SECTION("tensors whose dims disagree with their data, negative or huge dims, unsupported dtypes") {
        ProtoWriter short_raw;
        short_raw.int_field(1, 2), short_raw.int_field(1, 3), short_raw.int_field(2, 1), short_raw.bytes_field(8, "w");
        short_raw.bytes_field(9, std::string(20, '\0'));
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Add", {"x", "w"}, {"y"})}, {short_raw}, x_in, y_out)),
                         "initializer 0 'w'", "need 24 bytes of raw_data, the file has 20");
        ProtoWriter negative;
        negative.int_field(1, -2), negative.int_field(2, 1), negative.bytes_field(8, "w"), negative.bytes_field(9, "");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Add", {"x", "w"}, {"y"})}, {negative}, x_in, y_out)), "negative dim");
        ProtoWriter huge;
        huge.int_field(1, std::int64_t{1} << 40), huge.int_field(1, std::int64_t{1} << 40), huge.int_field(2, 1);
        huge.bytes_field(8, "w"), huge.bytes_field(9, "");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Add", {"x", "w"}, {"y"})}, {huge}, x_in, y_out)), "more than");
        ProtoWriter half;
        half.int_field(1, 3), half.int_field(2, 10), half.bytes_field(8, "w"), half.bytes_field(9, std::string(6, '\0'));
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Add", {"x", "w"}, {"y"})}, {half}, x_in, y_out)), "FLOAT16", "not supported");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Relu", {"x"}, {"y"})}, {}, {value("x", {-1, 3}, 6)}, y_out)),
                         "graph input 'x'", "INT32");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Relu", {"x"}, {"y"})}, {}, {value("x", {2, -1})}, y_out)),
                         "symbolic dim 1");
    }
    SECTION("unknown ops, missing or mistyped attributes, wrong input counts") {
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("FooBar", {"x"}, {"y"})}, {}, x_in, y_out)), "node 0 'y' (FooBar)",
                         "not an op import knows");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("MaxPool", {"x"}, {"y"})}, {}, {value("x", {-1, 1, 4, 4})}, y_out)),
                         "(MaxPool)", "lacks its attribute 'kernel_shape'");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Softmax", {"x"}, {"y"}, {attr_ints("axis", {1})})}, {}, x_in, y_out)),
                         "attribute 'axis' of type INTS, expected INT");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Add", {"x"}, {"y"})}, {}, x_in, y_out)), "has 1 inputs, expected 2");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("relu", {}, {"y"}, {}, "ai.tapegrad")}, {}, x_in, y_out)),
                         "has 0 inputs, 'relu' takes 1");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Relu", {"x"}, {"y"}, {}, "com.example")}, {}, x_in, y_out)),
                         "domain 'com.example'");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Relu", {"x"}, {"y"})}, {}, x_in, y_out, 9)), "opset 9");
        ProtoWriter linear_mode;
        linear_mode.bytes_field(1, "mode"), linear_mode.bytes_field(4, "linear"), linear_mode.uint_field(20, 3);
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Resize", {"x", "", "scales"}, {"y"}, {linear_mode})},
                                               {initializer("scales", from_vector(std::vector<float>{1, 1, 2, 2}))},
                                               {value("x", {-1, 1, 4, 4})}, y_out)),
                         "(Resize)", "mode 'linear'");
    }
    SECTION("use before definition, cycles, double definitions, undefined outputs") {
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Relu", {"h"}, {"y"}), node("Relu", {"x"}, {"h"})}, {}, x_in, y_out)),
                         "node 0", "reads 'h' before anything defines it");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Add", {"x", "b"}, {"a"}), node("Relu", {"a"}, {"b"})}, {}, x_in, y_out)),
                         "reads 'b' before anything defines it");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Relu", {"x"}, {"y"}), node("Relu", {"x"}, {"y"})}, {}, x_in, y_out)),
                         "node 1", "defines 'y' a second time");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Relu", {"x"}, {"h"})}, {}, x_in, y_out)), "graph output 'y' is never defined");
    }
    SECTION("inconsistent shapes fail in the dry run with the op's own message") {
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Gemm", {"x", "W"}, {"y"}, {attr_int("transB", 1)})},
                                               {initializer("W", zeros({2, 5}))}, x_in, y_out)),
                         "(Gemm)", "does not run on its inputs", "linear");
    }
    SECTION("a small file cannot ask for a huge tensor") {
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Expand", {"x", "shape"}, {"y"})},
                                               {initializer("shape", from_vector(std::vector<std::int64_t>{100000, 100000, 3}))},
                                               x_in, y_out)),
                         "(Expand)", "max_elements");
        REQUIRE_TG_ERROR(onnx::from_onnx(model({node("Mul", {"a", "b"}, {"y"})}, {},
                                               {value("a", {-1, 20000, 1}), value("b", {1, 20000})}, y_out)),
                         "(Mul)", "max_elements");
        onnx::ImportOptions tight;
        tight.max_elements = 5;
        REQUIRE_TG_ERROR(onnx::from_onnx(small_model(), "small", tight), "more than 5 elements");
        onnx::ImportOptions little_work;
        little_work.max_operations = 1000;  // the Gemm of a (2, 3) by (3, 2) fits, 100 of them do not
        std::vector<ProtoWriter> chain;
        std::vector<std::string> names{"x"};
        for (int k = 0; k < 99; ++k) {
            std::string name = "h";
            name += std::to_string(k);
            names.push_back(name);
        }
        names.push_back("y");
        for (std::size_t k = 0; k + 1 < names.size(); ++k)
            chain.push_back(node("Gemm", {names[k], "W"}, {names[k + 1]}, {attr_int("transB", 1)}));
        REQUIRE_TG_ERROR(onnx::from_onnx(model(chain, {initializer("W", zeros({3, 3}))}, x_in, y_out), "chain", little_work),
                         "max_operations");
        CHECK_NOTHROW(onnx::from_onnx(small_model(), "small", little_work));
    }
}
