// Debugging aids: print_tape / to_dot, nn::model_summary, gradient and activation statistics.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "autograd/scope.hpp"  // the module-observer registry (an internal header)
#include "test_support.hpp"

namespace {

std::string slurp_dir(const std::filesystem::path& dir) {
    std::string all;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        all.append(std::istreambuf_iterator<char>(in), {});
    }
    return all;
}

using tgtest::lines_of;

}  // namespace

TEST_CASE("print_tape: the tape as text, leaves first, with saved bytes and scopes") {
    tg::Tensor x = tg::rand({2, 3});                   // data: not on the tape
    tg::Tensor w = tg::rand({3, 4}).requires_grad_();
    tg::Tensor b = tg::zeros({4}).requires_grad_();
    tg::Tensor h = tg::mm(x, w) + b;
    tg::Tensor r;
    {
        tg::name_scope scope("act");
        r = tg::relu(h);
    }
    tg::Tensor out = r.sum();
    const std::string text = tg::tape_string(out, {{"fc1.weight", w}, {"fc1.bias", b}});
    INFO(text);
    CHECK(lines_of(text) == std::vector<std::string>{
                                "tape of a [] float32 tensor: 4 ops, 2 leaves, 56 B saved for backward",
                                "  %0 = leaf 'fc1.weight' [3, 4] float32",
                                "  %1 = leaf 'fc1.bias' [4] float32",
                                "  %2 = mm(-, %0) -> [2, 4] float32  saved 24 B",  // x: 6 floats
                                "  %3 = add(%2, %1) -> [2, 4] float32",
                                "  %4 = relu(%3) -> [2, 4] float32  saved 32 B  scope act",  // its output
                                "  %5 = sum(%4) -> [] float32",
                            });
    std::ostringstream os;
    tg::print_tape(out, os, {{"fc1.weight", w}, {"fc1.bias", b}});
    CHECK(os.str() == text);

    // Unnamed leaves.
    CHECK(lines_of(tg::tape_string(tg::relu(w).sum()))[1] == "  %0 = leaf [3, 4] float32");
    // After backward the nodes are released (and cut from their inputs).
    out.backward();
    CHECK(lines_of(tg::tape_string(out)) ==
          std::vector<std::string>{"tape of a [] float32 tensor: 1 ops, 0 leaves, 0 B saved for backward",
                                   "  %0 = sum() -> [] float32  (released: backward already ran)"});

    // A leaf alone, and a tensor with no tape.
    CHECK(lines_of(tg::tape_string(w))[1] == "  %0 = leaf [3, 4] float32");
    REQUIRE_TG_ERROR(tg::tape_string(x), "print_tape", "[2, 3]", "does not require grad");
    REQUIRE_TG_ERROR(tg::to_dot(x), "to_dot", "[2, 3]");
}

TEST_CASE("print_tape: an input used twice, multiple-output ops, variable-store names") {
    tg::VariableStore store;
    tg::Tensor v;
    {
        tg::variable_scope scope(store, "layer");
        v = tg::get_variable("v", {2}, tg::nn::init::ones());
    }
    tg::Tensor y;
    {
        tg::variable_scope scope(store, "layer", true);  // current store = `store`
        y = (v * v).sum();
        const auto lines = lines_of(tg::tape_string(y));
        INFO(tg::tape_string(y));
        REQUIRE(lines.size() == 4);
        CHECK(lines[1] == "  %0 = leaf 'layer/v' [2] float32");
        CHECK(lines[2] == "  %1 = mul(%0, %0) -> [2] float32  saved 16 B  scope layer");
        CHECK(lines[3] == "  %2 = sum(%1) -> [] float32  scope layer");
    }
}

TEST_CASE("print_tape: the fused LSTM/GRU gate ops report each saved byte once") {
    namespace F = tg::nn::functional;
    const std::int64_t B = 2, H = 3;
    // The line of the node whose op is `op` (its saved bytes are at the end).
    auto node_line = [](const std::string& text, const std::string& op) {
        for (const auto& line : lines_of(text))
            if (line.find("= " + op + "(") != std::string::npos) return line;
        return std::string();
    };
    SECTION("lstm_gates saves the activated gates (B, 4H), tanh(c') and c (B, H each)") {
        tg::Tensor gates = tg::rand({B, 4 * H}).requires_grad_();
        tg::Tensor c = tg::rand({B, H}).requires_grad_();
        auto [h_next, c_next] = F::lstm_gates(gates, c);
        const std::string text = tg::tape_string(h_next.sum() + c_next.sum());
        INFO(text);
        const std::size_t bytes = (4 + 1 + 1) * B * H * sizeof(float);  // 144
        CHECK(node_line(text, "lstm_gates").ends_with("saved " + std::to_string(bytes) + " B"));
    }
    SECTION("gru_gates saves r, z, n, gh_n (B, 4H) and h (B, H)") {
        tg::Tensor gi = tg::rand({B, 3 * H}, tg::kFloat64).requires_grad_();
        tg::Tensor gh = tg::rand({B, 3 * H}, tg::kFloat64).requires_grad_();
        tg::Tensor h = tg::rand({B, H}, tg::kFloat64).requires_grad_();
        const std::string text = tg::tape_string(F::gru_gates(gi, gh, h).sum());
        INFO(text);
        const std::size_t bytes = (4 + 1) * B * H * sizeof(double);  // 240
        CHECK(node_line(text, "gru_gates").ends_with("saved " + std::to_string(bytes) + " B"));
    }
}

TEST_CASE("to_dot: Graphviz DOT of the tape that dot accepts") {
    tg::Tensor x = tg::rand({2, 3}, tg::kFloat64);
    tg::Tensor w = tg::rand({3, 4}, tg::kFloat64).requires_grad_();
    tg::Tensor b = tg::zeros({4}, tg::kFloat64).requires_grad_();
    tg::Tensor out;
    {
        tg::name_scope scope("say \"hi\"");  // quotes are escaped
        out = tg::relu(tg::mm(x, w) + b).sum();
    }
    const std::string dot = tg::to_dot(out, {{"w", w}});
    INFO(dot);
    CHECK(dot.rfind("digraph tape {\n", 0) == 0);
    CHECK(dot.substr(dot.size() - 2) == "}\n");
    CHECK(dot.find("n0 [shape=ellipse") != std::string::npos);
    CHECK(dot.find("%0 leaf 'w'\\n[3, 4] float64") != std::string::npos);
    CHECK(dot.find("%2 mm\\nsay \\\"hi\\\"\\n-> [2, 4] float64\\ninputs (-, %0)\\nsaved 48 B")
          != std::string::npos);
    // Edges input -> consumer, labelled with the input's position.
    std::vector<std::string> edges;
    const std::regex edge(R"(^  (n\d+ -> n\d+ \[label="\d+"\]);$)");
    for (const auto& line : lines_of(dot)) {
        std::smatch m;
        if (std::regex_match(line, m, edge)) edges.push_back(m[1]);
    }
    CHECK(edges == std::vector<std::string>{"n0 -> n2 [label=\"1\"]", "n2 -> n3 [label=\"0\"]",
                                            "n1 -> n3 [label=\"1\"]", "n3 -> n4 [label=\"0\"]",
                                            "n4 -> n5 [label=\"0\"]"});

    if (std::system("command -v dot > /dev/null 2>&1") != 0) {
        WARN("graphviz's dot is not installed: skipping the rendering check");
        return;
    }
    tgtest::TempDir dir;
    const auto dot_path = dir.path / "tape.dot";
    std::ofstream(dot_path) << dot;
    const auto svg_path = dir.path / "tape.svg";
    const std::string cmd = "dot -Tsvg '" + dot_path.string() + "' -o '" + svg_path.string() + "' 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream svg(svg_path);
    const std::string rendered((std::istreambuf_iterator<char>(svg)), {});
    CHECK(rendered.find("<svg") != std::string::npos);
    CHECK(rendered.find("relu") != std::string::npos);
}

namespace {

struct SmallCnn : tg::nn::Module {
    SmallCnn() {
        features = register_module(
            "features", tg::nn::Sequential(tg::nn::Conv2d(1, 4, 3), tg::nn::BatchNorm2d(4),
                                           tg::nn::ReLU(), tg::nn::MaxPool2d(2)));
        classifier = register_module("classifier",
                                     tg::nn::Sequential(tg::nn::Flatten(), tg::nn::Linear(36, 5)));
    }
    tg::Tensor forward(const tg::Tensor& x) override { return (*classifier)((*features)(x)); }
    std::shared_ptr<tg::nn::Sequential> features, classifier;
};

}  // namespace

TEST_CASE("nn::model_summary of an MLP: rows, shapes and exact parameter counts") {
    tg::nn::Sequential mlp(tg::nn::Linear(784, 64), tg::nn::ReLU(), tg::nn::Linear(64, 10));
    mlp.at<tg::nn::Linear>(2).bias.requires_grad_(false);  // frozen: non-trainable
    auto s = tg::nn::model_summary(mlp, tg::randn({2, 784}));
    REQUIRE(s.layers.size() == 3);
    CHECK(s.model_type == "Sequential");
    CHECK(s.layers[0].path == "0");
    CHECK(s.layers[0].type == "Linear");
    CHECK(s.layers[0].output_shape == tg::Shape{2, 64});
    CHECK(s.layers[0].params == 784 * 64 + 64);
    CHECK(s.layers[1].type == "ReLU");
    CHECK(s.layers[1].params == 0);
    CHECK(s.layers[2].output_shape == tg::Shape{2, 10});
    CHECK(s.layers[2].params == 650);
    CHECK(s.layers[2].trainable_params == 640);
    CHECK(s.total_params == 50890);
    CHECK(s.trainable_params == 50880);
    CHECK(s.non_trainable_params == 10);
    CHECK(s.output_shape == tg::Shape{2, 10});
    const std::string table = s.table();
    INFO(table);
    CHECK(table.rfind("Model: \"Sequential\"\n", 0) == 0);
    CHECK(table.find("Total params: 50,890\n") != std::string::npos);
    CHECK(table.find("Trainable params: 50,880\n") != std::string::npos);
    CHECK(table.find("Non-trainable params: 10\n") != std::string::npos);
    CHECK(std::regex_search(table, std::regex(R"(\n 0 \(Linear\) +\[2, 64\] +50,240\n)")));
    CHECK(std::regex_search(table, std::regex(R"(\n 2 \(Linear\) +\[2, 10\] +650\n)")));
    std::ostringstream os;
    os << s;
    CHECK(os.str() == table);
}

TEST_CASE("nn::model_summary of a small CNN: nested paths, depth, buffers, modes kept") {
    SmallCnn cnn;
    cnn.classifier->eval();  // mixed modes are restored as they were
    tg::Tensor mean_before = cnn.features->at<tg::nn::BatchNorm2d>(1).running_mean.clone();
    auto s = tg::nn::model_summary(cnn, tg::randn({1, 1, 8, 8}) * 5.0 + 3.0);
    std::vector<std::string> paths;
    for (const auto& l : s.layers) paths.push_back(l.path + ":" + l.type + ":" + std::to_string(l.depth));
    CHECK(paths == std::vector<std::string>{
                       "features:Sequential:1", "features/0:Conv2d:2", "features/1:BatchNorm2d:2",
                       "features/2:ReLU:2", "features/3:MaxPool2d:2", "classifier:Sequential:1",
                       "classifier/0:Flatten:2", "classifier/1:Linear:2"});
    CHECK(s.layers[1].output_shape == tg::Shape{1, 4, 6, 6});
    CHECK(s.layers[1].params == 4 * 9 + 4);
    CHECK(s.layers[2].params == 8);
    CHECK(s.layers[4].output_shape == tg::Shape{1, 4, 3, 3});
    CHECK(s.layers[6].output_shape == tg::Shape{1, 36});
    CHECK(s.layers[7].params == 36 * 5 + 5);
    CHECK(s.total_params == 40 + 8 + 185);
    CHECK(s.trainable_params == 233);
    std::int64_t buffers = 0;
    for (const auto& b : cnn.buffers()) buffers += b.numel();
    CHECK(s.buffer_elements == buffers);
    CHECK(buffers >= 8);
    // Ran in eval mode: the running statistics did not move; modes are back.
    CHECK(tg::equal(cnn.features->at<tg::nn::BatchNorm2d>(1).running_mean, mean_before));
    CHECK(cnn.is_training());
    CHECK(cnn.features->ptr(1)->is_training());
    CHECK_FALSE(cnn.classifier->is_training());
    CHECK_FALSE(cnn.classifier->ptr(1)->is_training());
    const std::string table = s.table();
    INFO(table);
    CHECK(table.find("\n   0 (Conv2d)") != std::string::npos);  // indented under features
    CHECK(table.find("Total params: 233\n") != std::string::npos);
    // Nothing was recorded and no module path leaked.
    CHECK(tg::current_name_scope().empty());
}

TEST_CASE("grad norms and ReLU zero fractions, exact on a tiny case, logged to summaries") {
    tg::nn::Sequential model(tg::nn::Linear(2, 3), tg::nn::ReLU());
    {
        tg::NoGradGuard no_grad;
        auto& fc = model.at<tg::nn::Linear>(0);
        fc.weight.copy_(tg::tensor({{1, 0}, {0, 1}, {-1, -1}}));
        fc.bias.zero_();
    }
    tg::debug::ActivationStats stats(model);
    tg::Tensor y = model(tg::tensor({{1, 2}, {-1, 0}}));  // relu: [1,2,0], [0,0,1]
    REQUIRE(stats.entries().size() == 1);
    const auto& e = stats.entries().at("1");
    CHECK(e.type == "ReLU");
    CHECK(e.calls == 1);
    CHECK(e.elements == 6);
    CHECK(e.zeros == 3);
    CHECK(e.zero_fraction() == 0.5);
    model(tg::tensor({{1, 1}}));  // [1, 1, 0]
    CHECK(stats.entries().at("1").zero_fraction() == Approx(4.0 / 9.0));
    CHECK(stats.table().find("1 (ReLU)") != std::string::npos);

    y.sum().backward();  // dW rows: mask_j-weighted sums of the inputs
    auto norms = tg::debug::grad_norms(model);
    REQUIRE(norms.size() == 2);
    CHECK(norms[0].first == "0.weight");
    CHECK(norms[0].second == Approx(std::sqrt(11.0)));  // [1,2], [1,2], [-1,0]
    CHECK(norms[1].first == "0.bias");
    CHECK(norms[1].second == Approx(std::sqrt(3.0)));
    CHECK(tg::debug::grad_norms_table(model).find("0.weight") != std::string::npos);

    tgtest::TempDir dir;
    {
        tg::summary::SummaryWriter writer(dir.path.string());
        tg::debug::log_grad_norms(model, writer, 7);
        stats.log(writer, 7);
    }
    const std::string bytes = slurp_dir(dir.path);
    CHECK(bytes.find("grad_norm/0/weight") != std::string::npos);
    CHECK(bytes.find("grad_norm/0/bias") != std::string::npos);
    CHECK(bytes.find("activations/1/zero_fraction") != std::string::npos);

    stats.reset();
    CHECK(stats.entries().empty());
    tg::nn::Sequential no_relu(tg::nn::Linear(2, 2));
    REQUIRE_TG_ERROR(tg::debug::ActivationStats(no_relu), "ActivationStats", "ReLU");
}

TEST_CASE("ActivationStats stops watching when destroyed") {
    tg::nn::Sequential model{tg::nn::ReLU()};
    const std::size_t installed = tg::detail::module_observers().size();
    {
        tg::debug::ActivationStats stats(model);
        CHECK(tg::detail::module_observers().size() == installed + 1);
        model(tg::tensor({-1.0, 1.0}));
        CHECK(stats.entries().at("0").zeros == 1);
    }
    // Its observer is uninstalled: one left behind would be called, freed, by every later
    // forward (a use-after-free that only a sanitizer would otherwise see).
    CHECK(tg::detail::module_observers().size() == installed);
    CHECK(tg::nn::model_summary(model, tg::tensor({-1.0, 1.0})).layers.size() == 1);  // runs, watched by model_summary only
}
