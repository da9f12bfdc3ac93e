// tg::train: metrics, fit/evaluate, callbacks (progress, TensorBoard, checkpoints, early
// stopping), Ctrl-C and NaN handling.
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "tapegrad/tapegrad.hpp"
#include "test_support.hpp"

namespace data = tg::data;
namespace train = tg::train;
namespace nn = tg::nn;
namespace fs = std::filesystem;

namespace {

// Two Gaussian blobs around (2, 2) (class 0) and (-2, -2) (class 1), std 0.5: separable
// with a wide margin.
data::TensorDataset blobs(std::int64_t n, std::uint64_t seed) {
    tg::manual_seed(seed);
    std::vector<std::int64_t> classes;
    for (std::int64_t i = 0; i < n; ++i) classes.push_back(i % 2);
    const auto labels = tg::from_vector(classes);
    const auto centres = (1 - 2 * labels.to(tg::kFloat32)).unsqueeze(1) * 2.0;
    const auto points = centres + 0.5 * tg::randn({n, 2});
    return data::TensorDataset(points, labels);
}

std::shared_ptr<nn::Sequential> small_net(std::uint64_t seed = 0) {
    tg::manual_seed(seed);
    return std::make_shared<nn::Sequential>(nn::Linear(2, 8), nn::ReLU(), nn::Linear(8, 2));
}

// The fit of most cases here: `epochs` epochs, validated on val_loader, tracking accuracy.
train::FitOptions validated_fit(std::int64_t epochs, data::DataLoader& val_loader) {
    train::FitOptions options;
    options.epochs = epochs;
    options.val_loader = &val_loader;
    options.metrics = {train::accuracy()};
    return options;
}

const train::LossFn kCrossEntropy = [](const tg::Tensor& out, const tg::Tensor& target) {
    return tg::nn::functional::cross_entropy(out, target);
};

std::vector<std::vector<float>> values_of(const std::vector<tg::Tensor>& tensors) {
    std::vector<std::vector<float>> out;
    for (const auto& t : tensors) out.push_back(t.to_vector<float>());
    return out;
}

// Records every callback with its epoch/step and what the training state looked like.
struct Recorder : train::Callback {
    std::vector<std::string> events;
    void on_train_begin(train::TrainContext&) override { events.push_back("train_begin"); }
    void on_epoch_begin(train::TrainContext& c) override { events.push_back("epoch_begin " + std::to_string(c.epoch)); }
    void on_batch_begin(train::TrainContext& c) override {
        events.push_back("batch_begin " + std::to_string(c.epoch) + "." + std::to_string(c.step));
    }
    void on_before_backward(train::TrainContext& c) override {
        // The tape is still there and the model trains with grad mode on.
        CHECK(c.loss.grad_fn() != nullptr);
        CHECK(c.model->is_training());
        CHECK(tg::GradMode::is_enabled());
        events.push_back("before_backward " + std::to_string(c.epoch) + "." + std::to_string(c.step));
    }
    void on_batch_end(train::TrainContext& c) override {
        CHECK(c.logs.count("loss") == 1);
        events.push_back("batch_end " + std::to_string(c.epoch) + "." + std::to_string(c.step) + " g" +
                         std::to_string(c.global_step));
    }
    void on_epoch_end(train::TrainContext& c) override {
        CHECK(c.logs.count("val_loss") == 1);
        events.push_back("epoch_end " + std::to_string(c.epoch));
    }
    void on_train_end(train::TrainContext&) override { events.push_back("train_end"); }
};

// A module that notes the mode and grad mode of every forward call.
struct ModeSpy : nn::Module {
    ModeSpy() { fc = register_module("fc", nn::Linear(2, 2)); }
    tg::Tensor forward(const tg::Tensor& x) override {
        calls.push_back({is_training(), tg::GradMode::is_enabled()});
        return fc->forward(x);
    }
    std::shared_ptr<nn::Linear> fc;
    std::vector<std::pair<bool, bool>> calls;
};

// A metric whose value is scripted per epoch (for EarlyStopping / ModelCheckpoint).
struct Scripted : train::Metric {
    explicit Scripted(std::vector<double> v) : values(std::move(v)) {}
    std::string name() const override { return "score"; }
    void reset() override { ++epoch; }
    void update(const tg::Tensor&, const tg::Tensor&) override {}
    double value() const override { return values.at(static_cast<std::size_t>(epoch)); }
    std::shared_ptr<train::Metric> clone() const override { return std::make_shared<Scripted>(values); }
    std::vector<double> values;
    std::int64_t epoch = -1;
};

using tgtest::lines_of;
using tgtest::TempDir;

}  // namespace

TEST_CASE("metrics: accuracy, top-k and the confusion matrix on a hand-made batch") {
    const auto out = tg::tensor({{0.1, 0.5, 0.4}, {0.9, 0.05, 0.05}, {0.2, 0.3, 0.5}});
    const auto target = tg::from_vector(std::vector<std::int64_t>{2, 0, 0});
    auto top1 = train::accuracy();
    auto top2 = train::top_k_accuracy(2);
    CHECK(top1->name() == "accuracy");
    CHECK(top2->name() == "top_2_accuracy");
    top1->update(out, target);
    top2->update(out, target);
    CHECK(top1->value() == Approx(1.0 / 3));
    CHECK(top2->value() == Approx(2.0 / 3));
    // One-hot targets give the same; counts accumulate over batches until reset().
    top1->update(out, tg::one_hot(target, 3));
    CHECK(top1->value() == Approx(1.0 / 3));
    top1->reset();
    CHECK(top1->value() == 0.0);
    // One logit per example: positive predicts class 1.
    auto binary = train::accuracy();
    binary->update(tg::tensor({0.3, -1.0, 2.0}), tg::tensor({1.0, 1.0, 0.0}));
    CHECK(binary->value() == Approx(1.0 / 3));

    train::ConfusionMatrix cm(3, {"a", "b", "c"});
    cm.update(out, target);
    CHECK(cm.count(2, 1) == 1);
    CHECK(cm.count(0, 0) == 1);
    CHECK(cm.count(0, 2) == 1);
    CHECK(cm.matrix().sum().item<std::int64_t>() == 3);
    CHECK(cm.value() == Approx(1.0 / 3));
    std::ostringstream printed;
    printed << cm;
    INFO(printed.str());
    CHECK(printed.str().find("rows: true class") != std::string::npos);
    CHECK(std::regex_search(printed.str(), std::regex(R"(\n\s*a\s+1\s+0\s+1\s+0\.500)")));
    CHECK(printed.str().find("accuracy 0.3333") != std::string::npos);

    REQUIRE_TG_ERROR(train::TopKAccuracy(0), "TopKAccuracy", "k must be at least 1");
    REQUIRE_TG_ERROR(train::top_k_accuracy(4)->update(out, target), "TopKAccuracy", "top-4 of 3 classes");
    REQUIRE_TG_ERROR(top1->update(out, tg::arange(2)), "TopKAccuracy", "3 rows", "[2]");
    REQUIRE_TG_ERROR(cm.update(out, tg::from_vector(std::vector<std::int64_t>{5, 0, 0})), "ConfusionMatrix",
                     "class 5");
}

TEST_CASE("fit: a separable problem reaches accuracy >= 0.95 and its loss decreases") {
    auto model = small_net(1);
    auto train_loader = data::DataLoader(blobs(256, 2), {.batch_size = 16, .shuffle = true, .seed = 3});
    data::DataLoader val_loader(blobs(128, 4), {.batch_size = 64});
    tg::optim::Adam opt(model->parameters(), tg::optim::AdamOptions(0.02));
    train::FitOptions options = validated_fit(5, val_loader);
    const auto history = train::fit(*model, kCrossEntropy, opt, train_loader, options);
    REQUIRE(history.epochs.size() == 5);
    const auto loss = history.get("loss");
    INFO("losses " << loss[0] << " ... " << loss[4]);
    CHECK(loss[4] < 0.5 * loss[0]);
    CHECK(history.get("val_loss")[4] < history.get("val_loss")[0]);
    CHECK(history.last().at("accuracy") >= 0.95);
    CHECK(history.last().at("val_accuracy") >= 0.95);
    CHECK(history.last().at("lr") == 0.02);
    CHECK_FALSE(history.interrupted);
    CHECK_FALSE(history.stopped_early);
    CHECK(model->is_training());

    // evaluate agrees with the last validation and restores the mode.
    model->eval();
    auto cm = std::make_shared<train::ConfusionMatrix>(2);
    const auto logs = train::evaluate(*model, val_loader, kCrossEntropy, {train::accuracy(), cm});
    CHECK(logs.at("loss") == Approx(history.last().at("val_loss")));
    CHECK(logs.at("accuracy") == Approx(history.last().at("val_accuracy")));
    CHECK(cm->matrix().sum().item<std::int64_t>() == 128);
    CHECK(cm->value() == Approx(logs.at("accuracy")));
    CHECK_FALSE(model->is_training());
    REQUIRE_TG_ERROR(history.get("nope"), "History::get", "nope");
}

TEST_CASE("fit: train() with grad for steps, eval() under NoGradGuard for validation") {
    ModeSpy model;
    data::DataLoader train_loader(blobs(8, 1), {.batch_size = 4});
    data::DataLoader val_loader(blobs(4, 2), {.batch_size = 4});
    tg::optim::SGD opt(model.parameters(), tg::optim::SGDOptions(0.1));
    train::FitOptions options;
    options.epochs = 2;
    options.val_loader = &val_loader;
    model.eval();  // fit must switch it back on
    train::fit(model, kCrossEntropy, opt, train_loader, options);
    using Call = std::pair<bool, bool>;
    const std::vector<Call> expected = {{true, true}, {true, true}, {false, false},
                                        {true, true}, {true, true}, {false, false}};
    CHECK(model.calls == expected);
    model.calls.clear();
    model.train();
    train::evaluate(model, val_loader, std::vector<train::MetricPtr>{});
    CHECK(model.calls == std::vector<Call>{{false, false}});
    CHECK(model.is_training());
}

TEST_CASE("fit: callbacks fire in order") {
    auto model = small_net();
    data::DataLoader train_loader(blobs(8, 1), {.batch_size = 4});
    data::DataLoader val_loader(blobs(4, 2), {.batch_size = 4});
    tg::optim::SGD opt(model->parameters(), tg::optim::SGDOptions(0.1));
    auto rec = std::make_shared<Recorder>();
    train::FitOptions options;
    options.epochs = 2;
    options.val_loader = &val_loader;
    options.callbacks = {rec};
    train::fit(*model, kCrossEntropy, opt, train_loader, options);
    const std::vector<std::string> expected = {
        "train_begin",
        "epoch_begin 0", "batch_begin 0.0", "before_backward 0.0", "batch_end 0.0 g1",
        "batch_begin 0.1", "before_backward 0.1", "batch_end 0.1 g2", "epoch_end 0",
        "epoch_begin 1", "batch_begin 1.0", "before_backward 1.0", "batch_end 1.0 g3",
        "batch_begin 1.1", "before_backward 1.1", "batch_end 1.1 g4", "epoch_end 1",
        "train_end"};
    CHECK(rec->events == expected);
}

TEST_CASE("ProgressBar: plain lines when not on a terminal, \\r updates on one") {
    auto model = small_net();
    data::DataLoader train_loader(blobs(64, 1), {.batch_size = 8});
    data::DataLoader val_loader(blobs(16, 2), {.batch_size = 8});
    tg::optim::SGD opt(model->parameters(), tg::optim::SGDOptions(0.1));
    std::ostringstream out;
    auto bar = std::make_shared<train::ProgressBar>(out, train::ProgressBar::Mode::Auto, 2);
    CHECK_FALSE(bar->terminal());  // a string stream is not a terminal
    train::FitOptions options = validated_fit(2, val_loader);
    options.callbacks = {bar};
    train::fit(*model, kCrossEntropy, opt, train_loader, options);
    const auto text = out.str();
    INFO(text);
    CHECK(text.find('\r') == std::string::npos);
    const auto lines = lines_of(text);
    REQUIRE(lines.size() == 4);  // per epoch: one at the half, one at the end
    const std::regex mid(R"(epoch [12]/2 step 4/8 loss \d+\.\d{4} accuracy \d\.\d{4} \(\d+ ex/s, ETA \d+\.\d s\))");
    const std::regex end(R"(epoch [12]/2 8/8 loss \d+\.\d{4} accuracy \d\.\d{4} val_loss \d+\.\d{4} )"
                         R"(val_accuracy \d\.\d{4} lr 0\.1 \(\d+\.\d s, \d+ ex/s\))");
    CHECK(std::regex_match(lines[0], mid));
    CHECK(std::regex_match(lines[1], end));
    CHECK(lines[2].rfind("epoch 2/2 step 4/8", 0) == 0);
    CHECK(std::regex_match(lines[3], end));

    std::ostringstream tty;
    auto forced = std::make_shared<train::ProgressBar>(tty, train::ProgressBar::Mode::Terminal);
    options.callbacks = {forced};
    options.epochs = 1;
    train::fit(*model, kCrossEntropy, opt, train_loader, options);
    CHECK(tty.str().find("\r\033[Kepoch 1/1 8/8 loss") != std::string::npos);
    CHECK(lines_of(tty.str()).size() == 1);
}

TEST_CASE("EarlyStopping stops when the monitored value stalls; restores the best weights") {
    auto model = small_net();
    data::DataLoader train_loader(blobs(8, 1), {.batch_size = 4});
    tg::optim::SGD opt(model->parameters(), tg::optim::SGDOptions(0.1));
    std::vector<std::vector<std::vector<float>>> weights;  // after each epoch
    auto snapshot = std::make_shared<train::LambdaCallback>(
        [&](train::TrainContext& c) { weights.push_back(values_of(c.model->parameters())); });
    auto stop = std::make_shared<train::EarlyStopping>("score", 2, 0.0, train::MonitorMode::Min, true);
    train::FitOptions options;
    options.epochs = 10;
    options.metrics = {std::make_shared<Scripted>(std::vector<double>{1.0, 0.5, 0.6, 0.55, 0.1, 0.1})};
    options.callbacks = {snapshot, stop};
    const auto history = train::fit(*model, kCrossEntropy, opt, train_loader, options);
    CHECK(history.epochs.size() == 4);  // 0.5 at epoch 1, then two epochs without improvement
    CHECK(history.stopped_early);
    CHECK(stop->best_epoch() == 1);
    CHECK(stop->stopped_epoch() == 3);
    REQUIRE(weights.size() == 4);
    CHECK(values_of(model->parameters()) == weights[1]);
    CHECK(weights[3] != weights[1]);

    auto missing = std::make_shared<train::EarlyStopping>("val_loss");
    options.callbacks = {missing};
    options.metrics = {};
    REQUIRE_TG_ERROR(train::fit(*model, kCrossEntropy, opt, train_loader, options), "EarlyStopping", "val_loss",
                     "loss, lr");
}

TEST_CASE("ModelCheckpoint writes the best epoch's weights to a loadable file") {
    TempDir dir;
    const auto path = (dir.path / "best.tgckpt").string();
    auto model = small_net();
    data::DataLoader train_loader(blobs(8, 1), {.batch_size = 4});
    tg::optim::SGD opt(model->parameters(), tg::optim::SGDOptions(0.1));
    std::vector<std::vector<std::vector<float>>> weights;
    auto snapshot = std::make_shared<train::LambdaCallback>(
        [&](train::TrainContext& c) { weights.push_back(values_of(c.model->parameters())); });
    auto checkpoint = std::make_shared<train::ModelCheckpoint>(path, "score");  // auto: max
    train::FitOptions options;
    options.epochs = 3;
    options.metrics = {std::make_shared<Scripted>(std::vector<double>{0.5, 0.7, 0.6})};
    options.callbacks = {snapshot, checkpoint};
    train::fit(*model, kCrossEntropy, opt, train_loader, options);
    CHECK(checkpoint->saves() == 2);
    CHECK(checkpoint->best() == 0.7);
    REQUIRE(fs::exists(path));
    auto restored = small_net(99);
    CHECK(values_of(restored->parameters()) != weights[1]);
    tg::load_into(*restored, path);
    CHECK(values_of(restored->parameters()) == weights[1]);
}

TEST_CASE("fit: a NaN loss stops training with the step named") {
    auto model = small_net();
    data::DataLoader train_loader(blobs(16, 1), {.batch_size = 4});
    tg::optim::SGD opt(model->parameters(), tg::optim::SGDOptions(0.1));
    int calls = 0;
    const train::LossFn poisoned = [&](const tg::Tensor& out, const tg::Tensor& target) {
        auto loss = tg::nn::functional::cross_entropy(out, target);
        return ++calls == 6 ? loss * std::numeric_limits<double>::quiet_NaN() : loss;
    };
    train::FitOptions options;
    options.epochs = 3;
    REQUIRE_TG_ERROR(train::fit(*model, poisoned, opt, train_loader, options), "fit", "loss is nan",
                     "epoch 2/3, step 2/4 (global step 6)");
    for (const auto& p : model->parameters()) CHECK(std::isfinite(p.abs().sum().item<double>()));
}

namespace {
volatile std::sig_atomic_t g_custom_handler_calls = 0;
extern "C" void custom_handler(int) { g_custom_handler_calls = g_custom_handler_calls + 1; }
}  // namespace

TEST_CASE("fit: Ctrl-C stops after the current step, saves a checkpoint, restores the handler") {
    TempDir dir;
    const auto path = (dir.path / "interrupted.tgckpt").string();
    struct sigaction mine {}, before {}, after {};
    mine.sa_handler = custom_handler;
    sigemptyset(&mine.sa_mask);
    REQUIRE(sigaction(SIGINT, &mine, &before) == 0);

    auto model = small_net();
    data::DataLoader train_loader(blobs(16, 1), {.batch_size = 4});
    tg::optim::SGD opt(model->parameters(), tg::optim::SGDOptions(0.1));
    std::int64_t steps = 0;
    struct Interrupter : train::Callback {
        std::int64_t* steps;
        void on_batch_end(train::TrainContext& c) override {
            ++*steps;
            if (c.global_step == 6) std::raise(SIGINT);  // epoch 2, step 2
        }
    };
    auto interrupter = std::make_shared<Interrupter>();
    interrupter->steps = &steps;
    std::ostringstream out;
    train::FitOptions options;
    options.epochs = 5;
    options.callbacks = {interrupter, std::make_shared<train::ProgressBar>(out)};
    options.interrupt_checkpoint = path;
    const auto history = train::fit(*model, kCrossEntropy, opt, train_loader, options);
    CHECK(history.interrupted);
    CHECK(steps == 6);
    CHECK(history.epochs.size() == 1);  // epoch 2 did not complete
    CHECK(g_custom_handler_calls == 0);  // fit's handler took the signal
    CHECK(out.str().find("interrupted (Ctrl-C) in epoch 2 after step 2") != std::string::npos);
    REQUIRE(fs::exists(path));
    auto restored = small_net(5);
    tg::load_into(*restored, path);
    CHECK(values_of(restored->parameters()) == values_of(model->parameters()));

    REQUIRE(sigaction(SIGINT, nullptr, &after) == 0);
    CHECK(after.sa_handler == custom_handler);
    std::raise(SIGINT);
    CHECK(g_custom_handler_calls == 1);
    sigaction(SIGINT, &before, nullptr);
}

namespace {

// TFRecord framing: u64 length, u32 crc, data, u32 crc.
std::vector<std::string> records_of(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> records;
    std::size_t pos = 0;
    while (pos + 12 <= bytes.size()) {
        std::uint64_t length = 0;
        for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[pos + i]);
        REQUIRE(pos + 12 + length + 4 <= bytes.size());
        records.push_back(bytes.substr(pos + 12, length));
        pos += 12 + length + 4;
    }
    CHECK(pos == bytes.size());
    return records;
}

// `protoc --decode_raw` of one record (an independent decoder).
std::string decode_raw(const std::string& record, const fs::path& dir) {
    const auto tmp = dir / "record.bin";
    {
        std::ofstream out(tmp, std::ios::binary);
        out << record;
    }
    const std::string command = "protoc --decode_raw < " + tmp.string() + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string text;
    char buf[4096];
    while (const auto n = fread(buf, 1, sizeof buf, pipe)) text.append(buf, n);
    REQUIRE(pclose(pipe) == 0);
    return text;
}

}  // namespace

TEST_CASE("TensorBoard callback: scalars, weight summaries and the graph in an event file") {
    INFO("needs protoc (Debian: protobuf-compiler)");
    REQUIRE(std::system("protoc --version > /dev/null 2>&1") == 0);
    TempDir dir;
    const auto logdir = dir.path / "run";
    auto model = small_net();
    data::DataLoader train_loader(blobs(32, 1), {.batch_size = 8});
    data::DataLoader val_loader(blobs(8, 2), {.batch_size = 8});
    tg::optim::SGD opt(model->parameters(), tg::optim::SGDOptions(0.1));
    train::FitOptions options = validated_fit(2, val_loader);
    options.callbacks = {std::make_shared<train::TensorBoard>(logdir.string(), train::TensorBoardOptions{.log_every_n_steps = 3})};
    train::fit(*model, kCrossEntropy, opt, train_loader, options);

    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(logdir))
        if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) files.push_back(e.path());
    REQUIRE(files.size() == 1);
    const auto records = records_of(files[0]);
    std::vector<std::string> decoded;
    for (const auto& r : records) decoded.push_back(decode_raw(r, dir.path));
    REQUIRE(!decoded.empty());
    CHECK(decoded[0].find("brain.Event:2") != std::string::npos);
    auto count = [&](const std::string& needle) {
        std::int64_t n = 0;
        for (const auto& d : decoded) n += d.find(needle) != std::string::npos;
        return n;
    };
    // Per epoch (2 epochs): every log key; per 3 steps (8 steps: 3 and 6): loss, accuracy.
    CHECK(count("\"epoch/loss\"") == 2);
    CHECK(count("\"epoch/accuracy\"") == 2);
    CHECK(count("\"epoch/val_loss\"") == 2);
    CHECK(count("\"epoch/val_accuracy\"") == 2);
    CHECK(count("\"epoch/lr\"") == 2);
    CHECK(count("\"step/loss\"") == 2);
    CHECK(count("\"step/accuracy\"") == 2);
    // variable_summaries of each parameter ("0.weight" shows as 0/weight).
    for (const std::string name : {"0/weight", "0/bias", "2/weight", "2/bias"}) {
        INFO(name);
        for (const std::string stat : {"/mean\"", "/stddev\"", "/max\"", "/min\""}) CHECK(count('"' + name + stat) == 2);
        CHECK(count('"' + name + '"') == 3);  // the two histograms and the graph's variable node
    }
    // The graph: one event holding a GraphDef with the parameters as variables.
    CHECK(count("VariableV2") == 1);
    CHECK(count("0/weight\"\n") >= 1);
}

TEST_CASE("fit: argument errors") {
    auto model = small_net();
    data::DataLoader train_loader(blobs(8, 1), {.batch_size = 4});
    tg::optim::SGD opt(model->parameters(), tg::optim::SGDOptions(0.1));
    train::FitOptions options;
    options.epochs = -1;
    REQUIRE_TG_ERROR(train::fit(*model, kCrossEntropy, opt, train_loader, options), "fit", "epochs >= 0");
    options.epochs = 1;
    REQUIRE_TG_ERROR(train::fit(*model, train::LossFn(), opt, train_loader, options), "fit", "loss function");
    const train::LossFn not_scalar = [](const tg::Tensor& out, const tg::Tensor&) { return out; };
    REQUIRE_TG_ERROR(train::fit(*model, not_scalar, opt, train_loader, options), "fit", "not a scalar", "[4, 2]");
    options.metrics = {nullptr};
    REQUIRE_TG_ERROR(train::fit(*model, kCrossEntropy, opt, train_loader, options), "fit", "metric is null");
}
