// Scope / module paths on tape nodes: Module::operator() (names learned from
// register_module), tg::name_scope, tg::variable_scope; add_graph names nodes from them.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "test_support.hpp"

namespace {

// Every node of the tape behind `t`, as "op@scope" strings (sorted, counted).
std::multiset<std::string> tape_ops(const tg::Tensor& t) {
    std::multiset<std::string> out;
    std::set<const tg::Node*> seen;
    std::vector<std::shared_ptr<tg::Node>> stack{t.grad_fn()};
    while (!stack.empty()) {
        auto node = stack.back();
        stack.pop_back();
        if (!node || !seen.insert(node.get()).second) continue;
        if (node->name() != "AccumulateGrad")
            out.insert(std::string(node->name()) + "@" + node->scope());
        for (const auto& e : node->next_edges()) stack.push_back(e.node);
    }
    return out;
}

struct Encoder : tg::nn::Module {
    Encoder() {
        conv1 = register_module("conv1", tg::nn::Conv2d(tg::nn::Conv2dOptions(1, 2, 3)));
        act = register_module("act", tg::nn::ReLU());
    }
    tg::Tensor forward(const tg::Tensor& x) override { return (*act)((*conv1)(x)); }
    std::shared_ptr<tg::nn::Conv2d> conv1;
    std::shared_ptr<tg::nn::ReLU> act;
};

struct Net : tg::nn::Module {
    Net() {
        encoder = register_module("encoder", std::make_shared<Encoder>());
        head = register_module("head", tg::nn::Sequential(tg::nn::Flatten(), tg::nn::Linear(2 * 2 * 2, 3)));
    }
    tg::Tensor forward(const tg::Tensor& x) override { return (*head)((*encoder)(x)); }
    std::shared_ptr<Encoder> encoder;
    std::shared_ptr<tg::nn::Sequential> head;
};

std::string slurp_dir(const std::filesystem::path& dir) {
    std::string all;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(entry.path(), std::ios::binary);
        all.append(std::istreambuf_iterator<char>(in), {});
    }
    return all;
}

}  // namespace

TEST_CASE("module calls name the ops they record by module path") {
    Net net;
    CHECK(net.scope_name().empty());
    CHECK(net.encoder->scope_name() == "encoder");
    CHECK(net.encoder->conv1->scope_name() == "conv1");
    CHECK(net.head->ptr(1)->scope_name() == "1");

    tg::Tensor x = tg::randn({1, 1, 4, 4});
    tg::Tensor y = net(x);
    CHECK(y.sizes() == tg::Shape{1, 3});
    auto ops = tape_ops(y);
    CHECK(ops.count("conv2d@encoder/conv1") == 1);
    CHECK(ops.count("relu@encoder/act") == 1);
    // The Linear's op (addmm or a fused linear, whichever nn::Linear records).
    CHECK(std::count_if(ops.begin(), ops.end(), [](const std::string& op) {
              return op.size() > 7 && op.compare(op.size() - 7, 7, "@head/1") == 0;
          }) == 1);
    for (const auto& op : ops) CHECK(op.find('@') + 1 < op.size());  // every op has a scope
    CHECK(tg::current_name_scope().empty());  // popped after the call

    // forward() called directly opens no scope for the module itself.
    tg::Tensor z = net.encoder->conv1->forward(x);
    CHECK(tape_ops(z) == std::multiset<std::string>{"conv2d@"});

    // add_graph names the GraphDef nodes by those paths.
    auto dir = std::filesystem::temp_directory_path() /
               ("tg_scope_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    {
        tg::summary::SummaryWriter writer(dir.string());
        writer.add_graph(y.sum(), net.named_parameters());
    }
    const std::string bytes = slurp_dir(dir);
    CHECK(bytes.find("encoder/conv1/conv2d") != std::string::npos);
    CHECK(bytes.find("encoder/act/relu") != std::string::npos);
    CHECK(bytes.find("head/1/") != std::string::npos);
    CHECK(bytes.find("encoder/conv1/weight") != std::string::npos);  // the parameter node
    std::filesystem::remove_all(dir);
}

TEST_CASE("a module's scope is popped when its forward throws") {
    tg::nn::Sequential seq(tg::nn::Linear(3, 2));
    tg::nn::Sequential outer;
    outer.push_back("inner", std::make_shared<tg::nn::Sequential>(seq));
    REQUIRE_TG_ERROR(outer(tg::randn({2, 5})), "[2, 5]");
    CHECK(tg::current_name_scope().empty());
    tg::Tensor w = tg::randn({2}).requires_grad_();
    CHECK(tape_ops(w * 2.0) == std::multiset<std::string>{"mul@"});
}

TEST_CASE("name_scope and variable_scope nest into op scopes") {
    tg::Tensor a = tg::randn({3}).requires_grad_();
    tg::Tensor y;
    {
        tg::name_scope block("block");
        CHECK(block.path() == "block");
        CHECK(tg::current_name_scope() == "block");
        tg::Tensor h = tg::tanh(a);
        {
            tg::name_scope inner("inner");
            CHECK(inner.path() == "block/inner");
            y = h * 2.0;
        }
        REQUIRE_TG_ERROR(tg::name_scope(""), "name_scope", "empty");
    }
    CHECK(tg::current_name_scope().empty());
    CHECK(tape_ops(y) == std::multiset<std::string>{"mul@block/inner", "tanh@block"});

    tg::VariableStore store;
    tg::Tensor out;
    {
        tg::variable_scope scope(store, "layer1");
        CHECK(tg::current_name_scope() == "layer1");
        tg::Tensor x = tg::randn({2, 4});
        out = tg::dense(x, 3, "dense");
    }
    CHECK(tg::current_name_scope().empty());
    CHECK(store.contains("layer1/dense/kernel"));
    auto ops = tape_ops(out.sum());
    CHECK(ops == std::multiset<std::string>{"sum@", "mm@layer1/dense", "add@layer1/dense"});

    // A name_scope does not change variable names (TF-1), a variable_scope changes both.
    {
        tg::name_scope ns("ns");
        tg::variable_scope vs(store, "vs");
        tg::get_variable("v", {2});
        CHECK(tg::current_name_scope() == "ns/vs");
    }
    CHECK(store.contains("vs/v"));
}

TEST_CASE("scopes are per thread") {
    tg::name_scope outer("main");
    std::string seen = "unset";
    std::thread t([&] { seen = tg::current_name_scope(); });
    t.join();
    CHECK(seen.empty());
    CHECK(tg::current_name_scope() == "main");
}
