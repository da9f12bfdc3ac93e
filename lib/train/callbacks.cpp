// The stock callbacks: TensorBoard, ModelCheckpoint, EarlyStopping (ProgressBar is in
// progress.cpp, LRSchedulerStep and LambdaCallback are inline in train.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/serialize.hpp"
#include "tapegrad/train.hpp"
#include "tensor/check.hpp"

namespace tg::train {

namespace {

bool minimizes(MonitorMode mode, const std::string& monitor) {
    if (mode == MonitorMode::Auto) return monitor.find("loss") != std::string::npos;
    return mode == MonitorMode::Min;
}

// The monitored value; a missing key is a configuration error worth a clear message.
double monitored(const Logs& logs, const std::string& monitor, const char* who) {
    const auto it = logs.find(monitor);
    if (it != logs.end()) return it->second;
    std::string keys;
    for (const auto& [k, v] : logs) keys += (keys.empty() ? "" : ", ") + k;
    detail::fail(who, fmt::format("the logs have no '{}' (they have: {}); validation keys need "
                                  "FitOptions::val_loader", monitor, keys));
}

std::string tag_of(const std::string& parameter_name) {
    auto tag = parameter_name;
    std::replace(tag.begin(), tag.end(), '.', '/');
    return tag;
}

}  // namespace

// ---- TensorBoard --------------------------------------------------------------------------------

TensorBoard::TensorBoard(std::string logdir, TensorBoardOptions options)
    : logdir_(std::move(logdir)), options_(options) {
    TG_CHECK(!logdir_.empty(), "TensorBoard", "the logdir is empty");
}

void TensorBoard::on_train_begin(TrainContext&) {
    writer_ = std::make_unique<summary::SummaryWriter>(logdir_);
    graph_written_ = false;
}

void TensorBoard::on_before_backward(TrainContext& ctx) {
    if (!options_.graph || graph_written_ || writer_ == nullptr) return;
    writer_->add_graph(ctx.loss, ctx.model->named_parameters());
    graph_written_ = true;
}

void TensorBoard::on_batch_end(TrainContext& ctx) {
    if (writer_ == nullptr || options_.log_every_n_steps <= 0 || ctx.global_step % options_.log_every_n_steps != 0)
        return;
    for (const auto& [key, value] : ctx.logs) writer_->add_scalar("step/" + key, value, ctx.global_step);
}

void TensorBoard::on_epoch_end(TrainContext& ctx) {
    if (writer_ == nullptr) return;
    const auto step = ctx.epoch + 1;
    for (const auto& [key, value] : ctx.logs) writer_->add_scalar("epoch/" + key, value, step);
    if (options_.weight_summaries) {
        NoGradGuard no_grad;
        // TF-1's variable_summaries: mean, stddev (population), max, min and a histogram.
        for (const auto& [name, param] : ctx.model->named_parameters()) {
            const auto values = param.detach().to(kFloat64);
            const double mean = values.mean().item<double>();
            const double stddev = std::sqrt(((values - mean) * (values - mean)).mean().item<double>());
            const auto tag = tag_of(name);
            writer_->add_scalar(tag + "/mean", mean, step);
            writer_->add_scalar(tag + "/stddev", stddev, step);
            writer_->add_scalar(tag + "/max", values.max().item<double>(), step);
            writer_->add_scalar(tag + "/min", values.min().item<double>(), step);
            writer_->add_histogram(tag, values, step);
        }
    }
    writer_->flush();
}

void TensorBoard::on_train_end(TrainContext&) {
    if (writer_ == nullptr) return;
    writer_->close();
}

// ---- ModelCheckpoint ----------------------------------------------------------------------------

ModelCheckpoint::ModelCheckpoint(std::string path, std::string monitor, bool save_best_only, MonitorMode mode)
    : path_(std::move(path)), monitor_(std::move(monitor)), save_best_only_(save_best_only),
      minimize_(minimizes(mode, monitor_)) {
    TG_CHECK(!path_.empty(), "ModelCheckpoint", "the path is empty");
}

void ModelCheckpoint::on_epoch_end(TrainContext& ctx) {
    const double value = monitored(ctx.logs, monitor_, "ModelCheckpoint");
    const bool improved = std::isfinite(value) && (!best_ || (minimize_ ? value < *best_ : value > *best_));
    if (improved) best_ = value;
    if (improved || !save_best_only_) {
        save(*ctx.model, path_);
        ++saves_;
    }
}

// ---- EarlyStopping ------------------------------------------------------------------------------

EarlyStopping::EarlyStopping(std::string monitor, std::int64_t patience, double min_delta, MonitorMode mode,
                             bool restore_best_weights)
    : monitor_(std::move(monitor)), patience_(patience), min_delta_(std::abs(min_delta)),
      minimize_(minimizes(mode, monitor_)), restore_(restore_best_weights) {
    TG_CHECK(patience >= 0, "EarlyStopping", "patience must be non-negative, got {}", patience);
}

void EarlyStopping::on_train_begin(TrainContext&) {
    best_.reset();
    best_epoch_ = -1;
    wait_ = 0;
    stopped_epoch_ = -1;
    best_weights_.clear();
}

void EarlyStopping::on_epoch_end(TrainContext& ctx) {
    const double value = monitored(ctx.logs, monitor_, "EarlyStopping");
    const bool improved =
        std::isfinite(value) && (!best_ || (minimize_ ? value < *best_ - min_delta_ : value > *best_ + min_delta_));
    if (improved) {
        best_ = value;
        best_epoch_ = ctx.epoch;
        wait_ = 0;
        if (restore_) {
            NoGradGuard no_grad;
            best_weights_.clear();
            for (const auto& p : ctx.model->parameters()) best_weights_.push_back(p.detach().clone());
        }
        return;
    }
    if (++wait_ >= patience_) {
        ctx.stop_training = true;
        stopped_epoch_ = ctx.epoch;
    }
}

void EarlyStopping::on_train_end(TrainContext& ctx) {
    if (!restore_ || stopped_epoch_ < 0 || best_weights_.empty()) return;
    NoGradGuard no_grad;
    const auto params = ctx.model->parameters();
    for (std::size_t i = 0; i < params.size() && i < best_weights_.size(); ++i) {
        auto p = params[i];
        p.copy_(best_weights_[i]);
    }
}

}  // namespace tg::train
