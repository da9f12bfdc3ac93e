// ProgressBar: \r-updated line on a terminal, a few plain lines per epoch elsewhere.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

#include <unistd.h>

#include "tapegrad/train.hpp"

namespace tg::train {

namespace {

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool stream_is_terminal(const std::ostream& os) {
    if (&os == &std::cout) return isatty(STDOUT_FILENO) != 0;
    if (&os == &std::cerr || &os == &std::clog) return isatty(STDERR_FILENO) != 0;
    return false;
}

std::string format(const char* fmt, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, value);
    return buf;
}

// "loss 0.4123 accuracy 0.8512 val_loss ... lr 0.001": loss first, then the other training
// values, the validation values, and the learning rate.
std::string format_logs(const Logs& logs) {
    std::string out;
    auto add = [&](const std::string& key, double value) {
        out += ' ' + key + ' ' + format(key == "lr" ? "%.4g" : "%.4f", value);
    };
    auto is_val = [](const std::string& key) { return key.rfind("val_", 0) == 0; };
    if (const auto it = logs.find("loss"); it != logs.end()) add("loss", it->second);
    for (const auto& [k, v] : logs)
        if (k != "loss" && k != "lr" && !is_val(k)) add(k, v);
    if (const auto it = logs.find("val_loss"); it != logs.end()) add("val_loss", it->second);
    for (const auto& [k, v] : logs)
        if (k != "val_loss" && is_val(k)) add(k, v);
    if (const auto it = logs.find("lr"); it != logs.end()) add("lr", it->second);
    return out;
}

std::string format_duration(double seconds) {
    if (seconds < 60) return format("%.1f s", seconds);
    const auto s = static_cast<long long>(seconds);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
    return buf;
}

}  // namespace

ProgressBar::ProgressBar(std::ostream& os, Mode mode, int lines_per_epoch)
    : os_(os),
      terminal_(mode == Mode::Terminal || (mode == Mode::Auto && stream_is_terminal(os))),
      lines_per_epoch_(lines_per_epoch < 1 ? 1 : lines_per_epoch) {}

void ProgressBar::on_train_begin(TrainContext&) {}

void ProgressBar::on_epoch_begin(TrainContext&) {
    epoch_start_ = now_seconds();
    last_draw_ = 0;
    examples_ = 0;
}

void ProgressBar::on_batch_end(TrainContext& ctx) {
    if (ctx.batch != nullptr) examples_ += ctx.batch->size();
    const auto done = ctx.step + 1;
    const auto steps = ctx.steps_per_epoch;
    const double now = now_seconds();
    const double elapsed = now - epoch_start_;
    const double rate = elapsed > 0 ? static_cast<double>(examples_) / elapsed : 0.0;
    const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(steps - done) : 0.0;
    const std::string head = "epoch " + std::to_string(ctx.epoch + 1) + "/" + std::to_string(ctx.epochs);
    if (terminal_) {
        // Redraw at most ten times a second; the epoch's end draws the final state.
        if (now - last_draw_ < 0.1 || done == steps) return;
        last_draw_ = now;
        constexpr int kWidth = 24;
        const int filled = steps > 0 ? static_cast<int>(kWidth * done / steps) : 0;
        std::string bar(static_cast<std::size_t>(filled), '=');
        if (filled < kWidth) bar += '>' + std::string(static_cast<std::size_t>(kWidth - filled - 1), ' ');
        os_ << "\r\033[K" << head << ' ' << done << '/' << steps << " [" << bar << ']' << format_logs(ctx.logs)
            << "  " << format("%.0f", rate) << " ex/s  ETA " << format_duration(eta) << std::flush;
        return;
    }
    // Plain lines at the 1/n, 2/n, ... marks of the epoch, not at its end.
    if (lines_per_epoch_ <= 1 || steps <= 0 || done >= steps) return;
    const auto mark = done * lines_per_epoch_ / steps;
    const auto previous = (done - 1) * lines_per_epoch_ / steps;
    if (mark == previous) return;
    os_ << head << " step " << done << '/' << steps << format_logs(ctx.logs) << " (" << format("%.0f", rate)
        << " ex/s, ETA " << format_duration(eta) << ")\n"
        << std::flush;
}

void ProgressBar::on_epoch_end(TrainContext& ctx) {
    const double elapsed = now_seconds() - epoch_start_;
    const double rate = elapsed > 0 ? static_cast<double>(examples_) / elapsed : 0.0;
    if (terminal_) os_ << "\r\033[K";
    os_ << "epoch " << ctx.epoch + 1 << '/' << ctx.epochs << ' ' << ctx.step << '/' << ctx.steps_per_epoch
        << format_logs(ctx.logs) << " (" << format_duration(elapsed) << ", " << format("%.0f", rate) << " ex/s)\n"
        << std::flush;
}

void ProgressBar::on_train_end(TrainContext& ctx) {
    if (ctx.interrupted) {
        if (terminal_) os_ << '\n';
        os_ << "interrupted (Ctrl-C) in epoch " << ctx.epoch + 1 << " after step " << ctx.step << "\n" << std::flush;
    }
}

}  // namespace tg::train
