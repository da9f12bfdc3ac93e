// fit() and evaluate(): the training loop every example used to write by hand.
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/serialize.hpp"
#include "tapegrad/train.hpp"
#include "tensor/check.hpp"

namespace tg::train {

namespace {

// Ctrl-C presses since fit installed its handler. The first asks fit to stop after the
// current step; a second one restores the default action and re-raises, so a stuck step
// can still be killed.
volatile std::sig_atomic_t g_interrupts = 0;

extern "C" void on_sigint(int) {
    g_interrupts = g_interrupts + 1;
    if (g_interrupts >= 2) {
        std::signal(SIGINT, SIG_DFL);
        std::raise(SIGINT);
    }
}

// Installs on_sigint for its lifetime and restores the previous action.
class SigintGuard {
public:
    explicit SigintGuard(bool enabled) : enabled_(enabled) {
        g_interrupts = 0;
        if (!enabled_) return;
        struct sigaction action {};
        action.sa_handler = on_sigint;
        sigemptyset(&action.sa_mask);
        sigaction(SIGINT, &action, &previous_);
    }
    ~SigintGuard() {
        if (enabled_) sigaction(SIGINT, &previous_, nullptr);
    }
    SigintGuard(const SigintGuard&) = delete;
    SigintGuard& operator=(const SigintGuard&) = delete;
    bool interrupted() const { return enabled_ && g_interrupts > 0; }

private:
    bool enabled_;
    struct sigaction previous_ {};
};

// Puts the model back in the mode it was in.
class ModeGuard {
public:
    explicit ModeGuard(nn::Module& model) : model_(model), training_(model.is_training()) {}
    ~ModeGuard() { model_.train(training_); }
    ModeGuard(const ModeGuard&) = delete;
    ModeGuard& operator=(const ModeGuard&) = delete;

private:
    nn::Module& model_;
    bool training_;
};

double current_lr(const optim::Optimizer& optimizer) {
    const auto& groups = optimizer.param_groups();
    if (!groups.empty() && groups.front().has_options()) return groups.front().options().get_lr();
    return optimizer.defaults().get_lr();
}

// Example-weighted mean of batch losses plus the metrics' running values.
struct Meter {
    double loss_sum = 0;
    std::int64_t examples = 0;
    void add(double loss, std::int64_t batch_size) {
        loss_sum += loss * static_cast<double>(batch_size);
        examples += batch_size;
    }
    Logs logs(const std::vector<MetricPtr>& metrics, bool with_loss, const std::string& prefix = "") const {
        Logs out;
        if (with_loss) out[prefix + "loss"] = examples ? loss_sum / static_cast<double>(examples) : 0.0;
        for (const auto& m : metrics) out[prefix + m->name()] = m->value();
        return out;
    }
};

Logs run_evaluation(nn::Module& model, data::DataLoader& loader, const LossFn* loss_fn,
                    const std::vector<MetricPtr>& metrics) {
    ModeGuard mode(model);
    model.eval();
    NoGradGuard no_grad;
    for (const auto& m : metrics) {
        TG_CHECK(m != nullptr, "evaluate", "a metric is null");
        m->reset();
    }
    Meter meter;
    for (const auto& batch : loader) {
        const auto output = model.forward(batch.input);
        if (loss_fn != nullptr) meter.add((*loss_fn)(output, batch.target).item<double>(), batch.size());
        for (const auto& m : metrics) m->update(output, batch.target);
    }
    return meter.logs(metrics, loss_fn != nullptr);
}

}  // namespace

std::vector<double> History::get(const std::string& key) const {
    std::vector<double> values;
    for (std::size_t e = 0; e < epochs.size(); ++e) {
        const auto it = epochs[e].find(key);
        TG_CHECK(it != epochs[e].end(), "History::get", "epoch {} has no '{}'", e, key);
        values.push_back(it->second);
    }
    return values;
}

const Logs& History::last() const {
    TG_CHECK(!epochs.empty(), "History::last", "no epoch completed");
    return epochs.back();
}

Logs evaluate(nn::Module& model, data::DataLoader& loader, const std::vector<MetricPtr>& metrics) {
    return run_evaluation(model, loader, nullptr, metrics);
}

Logs evaluate(nn::Module& model, data::DataLoader& loader, const LossFn& loss_fn,
              const std::vector<MetricPtr>& metrics) {
    TG_CHECK(static_cast<bool>(loss_fn), "evaluate", "the loss function is empty");
    return run_evaluation(model, loader, &loss_fn, metrics);
}

History fit(nn::Module& model, const LossFn& loss_fn, optim::Optimizer& optimizer, data::DataLoader& train_loader,
            const FitOptions& options) {
    TG_CHECK(static_cast<bool>(loss_fn), "fit", "the loss function is empty");
    TG_CHECK(options.epochs >= 0 && options.initial_epoch >= 0, "fit",
             "expected epochs >= 0 and initial_epoch >= 0, got {} and {}", options.epochs, options.initial_epoch);
    for (const auto& m : options.metrics) TG_CHECK(m != nullptr, "fit", "a metric is null");
    for (const auto& c : options.callbacks) TG_CHECK(c != nullptr, "fit", "a callback is null");
    std::vector<MetricPtr> val_metrics;
    for (const auto& m : options.metrics) val_metrics.push_back(m->clone());

    SigintGuard sigint(options.handle_sigint);
    History history;
    TrainContext ctx;
    ctx.model = &model;
    ctx.optimizer = &optimizer;
    ctx.epochs = options.epochs;
    ctx.steps_per_epoch = train_loader.size();
    ctx.global_step = options.initial_epoch * ctx.steps_per_epoch;
    auto each = [&](auto method) {
        for (const auto& c : options.callbacks) ((*c).*method)(ctx);
    };

    each(&Callback::on_train_begin);
    for (std::int64_t epoch = options.initial_epoch; epoch < options.epochs; ++epoch) {
        ctx.epoch = epoch;
        ctx.step = 0;
        ctx.logs.clear();
        model.train();
        for (const auto& m : options.metrics) m->reset();
        Meter meter;
        each(&Callback::on_epoch_begin);

        train_loader.set_epoch(epoch);
        for (const auto& batch : train_loader) {
            ctx.batch = &batch;
            each(&Callback::on_batch_begin);
            ctx.output = model.forward(batch.input);
            ctx.loss = loss_fn(ctx.output, batch.target);
            TG_CHECK(ctx.loss.defined() && ctx.loss.numel() == 1, "fit", "the loss function returned {}, not a scalar",
                     ctx.loss.defined() ? ctx.loss.sizes() : Shape{});
            ctx.batch_loss = ctx.loss.item<double>();
            TG_CHECK(std::isfinite(ctx.batch_loss), "fit",
                     "the loss is {} at epoch {}/{}, step {}/{} (global step {}); stopped before its backward pass",
                     ctx.batch_loss, epoch + 1, options.epochs, ctx.step + 1, ctx.steps_per_epoch,
                     ctx.global_step + 1);
            each(&Callback::on_before_backward);
            optimizer.zero_grad();
            ctx.loss.backward();
            optimizer.step();
            {
                NoGradGuard no_grad;
                const auto output = ctx.output.detach();
                for (const auto& m : options.metrics) m->update(output, batch.target);
            }
            meter.add(ctx.batch_loss, batch.size());
            ctx.loss = Tensor();  // frees the tape before the callbacks run
            ctx.output = Tensor();
            ++ctx.global_step;
            ctx.logs = meter.logs(options.metrics, true);
            ctx.interrupted = sigint.interrupted();
            each(&Callback::on_batch_end);
            ctx.interrupted = sigint.interrupted();  // a callback may have been interrupted
            ctx.batch = nullptr;
            ++ctx.step;
            if (ctx.interrupted || ctx.stop_training) break;
        }
        ctx.interrupted = sigint.interrupted();
        // An epoch cut short by Ctrl-C is not a completed epoch.
        if (ctx.interrupted) break;

        ctx.logs = meter.logs(options.metrics, true);
        ctx.logs["lr"] = current_lr(optimizer);
        if (options.val_loader != nullptr) {
            const auto val = run_evaluation(model, *options.val_loader, &loss_fn, val_metrics);
            for (const auto& [key, value] : val) ctx.logs["val_" + key] = value;
            model.train();
        }
        history.epochs.push_back(ctx.logs);
        each(&Callback::on_epoch_end);
        ctx.interrupted = sigint.interrupted();
        if (ctx.interrupted || ctx.stop_training) break;
    }
    history.interrupted = ctx.interrupted;
    history.stopped_early = ctx.stop_training;
    if (ctx.interrupted && !options.interrupt_checkpoint.empty())
        save(model, options.interrupt_checkpoint);
    if (!history.epochs.empty()) ctx.logs = history.epochs.back();
    each(&Callback::on_train_end);
    return history;
}

}  // namespace tg::train
