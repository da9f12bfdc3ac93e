// A Keras-like training loop: fit() runs epochs of forward / loss / backward / step over a
// DataLoader, tracks metrics, validates, and calls callbacks; evaluate() measures a model.
//
//   tg::train::FitOptions options;
//   options.epochs = 10;
//   options.val_loader = &test_loader;
//   options.metrics = {tg::train::accuracy()};
//   options.callbacks = {std::make_shared<tg::train::ProgressBar>(),
//                        std::make_shared<tg::train::TensorBoard>("runs/mlp")};
//   auto loss_fn = [](const tg::Tensor& out, const tg::Tensor& y) {
//       return tg::nn::functional::cross_entropy(out, y);
//   };
//   auto history = tg::train::fit(model, loss_fn, optimizer, train_loader, options);
//   auto logs = tg::train::evaluate(model, test_loader, {tg::train::accuracy()});
//
// fit() switches the model to train() for its steps and to eval() under NoGradGuard for
// validation (so dropout and batch norm behave), and evaluate() does the latter.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tapegrad/data.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/optim.hpp"
#include "tapegrad/summary.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::train {

// Named values of one epoch (or of the running epoch): "loss", "accuracy", "val_loss", ...
using Logs = std::map<std::string, double>;
// The loss of a batch: a scalar tensor, the mean over the batch's examples.
using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;

// ---- metrics -----------------------------------------------------------------------------------

// Accumulates over the batches of an epoch: reset(), update() per batch, value().
class Metric {
public:
    virtual ~Metric() = default;
    virtual std::string name() const = 0;  // the key in Logs
    virtual void reset() = 0;
    // `output` is the model's output for the batch (detached), `target` the batch's target.
    virtual void update(const Tensor& output, const Tensor& target) = 0;
    virtual double value() const = 0;
    // A fresh metric of the same kind (fit validates with clones of its metrics).
    virtual std::shared_ptr<Metric> clone() const = 0;
};
using MetricPtr = std::shared_ptr<Metric>;

// The class a row of `output` predicts: argmax over the last dim, or output > 0 for a
// single logit per example. Targets are class indices (int64, any integer or float dtype
// holding integers) or one-hot / probability rows (argmax).
//
// Fraction of examples whose top-k predictions contain the target ("accuracy" for k = 1,
// "top_5_accuracy" for k = 5).
class TopKAccuracy : public Metric {
public:
    explicit TopKAccuracy(std::int64_t k = 1);
    std::string name() const override;
    void reset() override { correct_ = total_ = 0; }
    void update(const Tensor& output, const Tensor& target) override;
    double value() const override { return total_ ? static_cast<double>(correct_) / static_cast<double>(total_) : 0.0; }
    std::shared_ptr<Metric> clone() const override { return std::make_shared<TopKAccuracy>(k_); }

private:
    std::int64_t k_;
    std::int64_t correct_ = 0, total_ = 0;
};

MetricPtr accuracy();
MetricPtr top_k_accuracy(std::int64_t k);

// counts[true class][predicted class]; value() is the accuracy (trace / total). Printing
// shows the table with optional class names.
class ConfusionMatrix : public Metric {
public:
    explicit ConfusionMatrix(std::int64_t num_classes, std::vector<std::string> class_names = {});
    std::string name() const override { return "confusion_accuracy"; }
    void reset() override;
    void update(const Tensor& output, const Tensor& target) override;
    double value() const override;
    std::shared_ptr<Metric> clone() const override {
        return std::make_shared<ConfusionMatrix>(num_classes_, class_names_);
    }
    std::int64_t num_classes() const { return num_classes_; }
    std::int64_t count(std::int64_t true_class, std::int64_t predicted_class) const;
    // (num_classes, num_classes) int64.
    Tensor matrix() const;
    void print(std::ostream& os) const;

private:
    std::int64_t num_classes_;
    std::vector<std::string> class_names_;
    std::vector<std::int64_t> counts_;
};
std::ostream& operator<<(std::ostream& os, const ConfusionMatrix& matrix);

// ---- callbacks ---------------------------------------------------------------------------------

// What callbacks see (and may change: stop_training).
struct TrainContext {
    nn::Module* model = nullptr;
    optim::Optimizer* optimizer = nullptr;
    std::int64_t epochs = 0;           // fit's epochs
    std::int64_t epoch = 0;            // 0-based
    std::int64_t steps_per_epoch = 0;  // batches per epoch
    std::int64_t step = 0;             // 0-based batch within the epoch
    std::int64_t global_step = 0;      // batches trained so far (after on_batch_end: including this one)
    const data::Batch* batch = nullptr;  // the current batch (batch callbacks)
    Tensor output;                     // the model's output for it
    Tensor loss;                       // its loss, still with its tape in on_before_backward
    double batch_loss = 0;
    // on_batch_end: running means of the epoch so far; on_epoch_end: the epoch's logs
    // (with val_ keys after validation); on_train_end: the last epoch's.
    Logs logs;
    bool stop_training = false;        // set by a callback: fit stops after this step / epoch
    bool interrupted = false;          // Ctrl-C was pressed
};

class Callback {
public:
    virtual ~Callback() = default;
    virtual void on_train_begin(TrainContext&) {}
    virtual void on_epoch_begin(TrainContext&) {}
    virtual void on_batch_begin(TrainContext&) {}
    // After the forward pass and the loss, before backward(): the tape still exists.
    virtual void on_before_backward(TrainContext&) {}
    virtual void on_batch_end(TrainContext&) {}
    virtual void on_epoch_end(TrainContext&) {}
    virtual void on_train_end(TrainContext&) {}
};
using CallbackPtr = std::shared_ptr<Callback>;

// Progress on `os`. On a terminal (isatty of stdout/stderr) one line per epoch updated in
// place with \r: step/steps, a bar, running loss and metrics, examples/s and the ETA. Not on
// a terminal (a log file, a pipe, a std::ostringstream), plain lines:
//   epoch 1/10 step 117/469 loss 0.6120 accuracy 0.7833 (2450 ex/s, ETA 12.1 s)
// `lines_per_epoch` - 1 of them during the epoch, then one at its end with the validation
// values and the epoch's time.
class ProgressBar : public Callback {
public:
    enum class Mode { Auto, Terminal, Plain };
    explicit ProgressBar(std::ostream& os = std::cout, Mode mode = Mode::Auto, int lines_per_epoch = 4);
    void on_train_begin(TrainContext& ctx) override;
    void on_epoch_begin(TrainContext& ctx) override;
    void on_batch_end(TrainContext& ctx) override;
    void on_epoch_end(TrainContext& ctx) override;
    void on_train_end(TrainContext& ctx) override;
    bool terminal() const { return terminal_; }

private:
    std::ostream& os_;
    bool terminal_;
    int lines_per_epoch_;
    double epoch_start_ = 0, last_draw_ = 0;
    std::int64_t examples_ = 0;
};

// TensorBoard logging through tg::summary::SummaryWriter (then `tensorboard --logdir`):
// - every `log_every_n_steps` steps: "step/loss" and "step/<metric>" (running means) at
//   the global step;
// - every epoch: "epoch/<key>" for every log key (loss, accuracy, val_loss, lr, ...) at the
//   epoch number (1-based), and, when `weight_summaries`, each parameter's
//   "<name>/mean", "/stddev", "/max", "/min" and histogram "<name>" (TF-1's
//   variable_summaries; dots in names become '/');
// - with `graph`, the first step's loss tape as the graph (add_graph).
struct TensorBoardOptions {
    std::int64_t log_every_n_steps = 100;
    bool weight_summaries = true;
    bool graph = true;
};

class TensorBoard : public Callback {
public:
    explicit TensorBoard(std::string logdir, TensorBoardOptions options = {});
    void on_train_begin(TrainContext& ctx) override;
    void on_before_backward(TrainContext& ctx) override;
    void on_batch_end(TrainContext& ctx) override;
    void on_epoch_end(TrainContext& ctx) override;
    void on_train_end(TrainContext& ctx) override;
    // The writer (opened by on_train_begin); null before.
    summary::SummaryWriter* writer() { return writer_.get(); }

private:
    std::string logdir_;
    TensorBoardOptions options_;
    std::unique_ptr<summary::SummaryWriter> writer_;
    bool graph_written_ = false;
};

// "min" for keys containing "loss", else "max" (Keras' mode="auto").
enum class MonitorMode { Auto, Min, Max };

// Saves the model (named_parameters() then named_buffers(), through tg::save) to `path`
// at the end of each epoch whose `monitor` value is the best so far, or every epoch when
// `save_best_only` is false. Load it with tg::load_into(model, path).
// A monitor key missing from the epoch's logs throws, naming the keys there are.
class ModelCheckpoint : public Callback {
public:
    explicit ModelCheckpoint(std::string path, std::string monitor = "val_loss", bool save_best_only = true,
                             MonitorMode mode = MonitorMode::Auto);
    void on_epoch_end(TrainContext& ctx) override;
    std::optional<double> best() const { return best_; }
    std::int64_t saves() const { return saves_; }

private:
    std::string path_, monitor_;
    bool save_best_only_;
    bool minimize_;
    std::optional<double> best_;
    std::int64_t saves_ = 0;
};

// Stops fit when `monitor` has not improved by more than `min_delta` for `patience`
// epochs; with restore_best_weights the parameters of the best epoch are copied back at
// the end of training.
class EarlyStopping : public Callback {
public:
    explicit EarlyStopping(std::string monitor = "val_loss", std::int64_t patience = 3, double min_delta = 0.0,
                           MonitorMode mode = MonitorMode::Auto, bool restore_best_weights = false);
    void on_train_begin(TrainContext& ctx) override;
    void on_epoch_end(TrainContext& ctx) override;
    void on_train_end(TrainContext& ctx) override;
    // The epoch (0-based) fit stopped after, or -1.
    std::int64_t stopped_epoch() const { return stopped_epoch_; }
    std::int64_t best_epoch() const { return best_epoch_; }

private:
    std::string monitor_;
    std::int64_t patience_;
    double min_delta_;
    bool minimize_;
    bool restore_;
    std::optional<double> best_;
    std::int64_t best_epoch_ = -1, wait_ = 0, stopped_epoch_ = -1;
    std::vector<Tensor> best_weights_;
};

// Calls scheduler.step() after every epoch (the scheduler must outlive fit); the learning
// rate of the first parameter group is in the logs as "lr" either way.
class LRSchedulerStep : public Callback {
public:
    explicit LRSchedulerStep(optim::LRScheduler& scheduler) : scheduler_(scheduler) {}
    void on_epoch_end(TrainContext&) override { scheduler_.step(); }

private:
    optim::LRScheduler& scheduler_;
};

// Calls a function at the end of each epoch (printing, custom logging).
class LambdaCallback : public Callback {
public:
    explicit LambdaCallback(std::function<void(TrainContext&)> on_epoch_end) : fn_(std::move(on_epoch_end)) {}
    void on_epoch_end(TrainContext& ctx) override { fn_(ctx); }

private:
    std::function<void(TrainContext&)> fn_;
};

// ---- fit and evaluate ----------------------------------------------------------------------

struct FitOptions {
    std::int64_t epochs = 1;
    data::DataLoader* val_loader = nullptr;  // validated after each epoch ("val_" keys)
    std::vector<MetricPtr> metrics;          // "loss" is always logged
    std::vector<CallbackPtr> callbacks;
    std::int64_t initial_epoch = 0;          // resume: the first epoch to run
    // Ctrl-C (SIGINT) ends fit after the current step instead of killing the process (a
    // second Ctrl-C kills it); the previous handler is restored when fit returns.
    bool handle_sigint = true;
    // Where to save the model (tg::save(model, ...)) when Ctrl-C stopped training (empty: nowhere).
    std::string interrupt_checkpoint;
};

struct History {
    std::vector<Logs> epochs;  // one entry per completed epoch
    bool interrupted = false;  // Ctrl-C stopped training
    bool stopped_early = false;  // a callback set stop_training
    // The values of `key` epoch by epoch (throws when an epoch lacks it).
    std::vector<double> get(const std::string& key) const;
    const Logs& last() const;  // throws when no epoch completed
};

// Trains `model` on `train_loader` for options.epochs epochs. Each step: forward, loss,
// optimizer.zero_grad(), backward, optimizer.step(). The epoch's "loss" is the
// example-weighted mean of the batch losses. A NaN or infinite loss throws tg::Error
// naming the epoch and step before backward runs (the parameters are those after the
// previous step).
History fit(nn::Module& model, const LossFn& loss_fn, optim::Optimizer& optimizer, data::DataLoader& train_loader,
            const FitOptions& options = {});

// Metrics of `model` over one pass of `loader` in eval() mode under NoGradGuard (the
// model's previous mode is restored). The metric objects keep their state (print a
// ConfusionMatrix afterwards). With a loss_fn, "loss" too.
Logs evaluate(nn::Module& model, data::DataLoader& loader, const std::vector<MetricPtr>& metrics);
Logs evaluate(nn::Module& model, data::DataLoader& loader, const LossFn& loss_fn,
              const std::vector<MetricPtr>& metrics = {});

}  // namespace tg::train

TG_PUBLIC_END
