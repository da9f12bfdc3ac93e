// Learning-rate schedulers: closed forms of the epoch count, applied to every group.
#include <cmath>
#include <numbers>

#include "tapegrad/optim.hpp"
#include "tensor/check.hpp"

namespace tg::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
    for (const auto& group : optimizer.param_groups()) base_lrs_.push_back(group.options().get_lr());
}

void LRScheduler::step() {
    auto& groups = optimizer_.param_groups();
    TG_CHECK(groups.size() == base_lrs_.size(), "LRScheduler",
             "the optimizer has {} parameter group(s) but had {} when the scheduler was made", groups.size(),
             base_lrs_.size());
    ++epoch_;
    apply_lr();
}

void LRScheduler::apply_lr() {
    auto& groups = optimizer_.param_groups();
    for (std::size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(lr_at(base_lrs_[g], epoch_));
}

std::vector<double> LRScheduler::get_last_lr() const {
    std::vector<double> lrs;
    for (const auto& group : optimizer_.param_groups()) lrs.push_back(group.options().get_lr());
    return lrs;
}

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
    TG_CHECK(step_size > 0, "StepLR", "step_size must be positive, got {}", step_size);
}
double StepLR::lr_at(double base_lr, std::int64_t epoch) const {
    return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {}
double ExponentialLR::lr_at(double base_lr, std::int64_t epoch) const {
    return base_lr * std::pow(gamma_, static_cast<double>(epoch));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler(optimizer), t_max_(T_max), eta_min_(eta_min) {
    TG_CHECK(T_max > 0, "CosineAnnealingLR", "T_max must be positive, got {}", T_max);
}
double CosineAnnealingLR::lr_at(double base_lr, std::int64_t epoch) const {
    const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_);
    return eta_min_ + (base_lr - eta_min_) * (1.0 + std::cos(phase)) / 2.0;
}

LambdaLR::LambdaLR(Optimizer& optimizer, std::function<double(std::int64_t)> lr_lambda)
    : LRScheduler(optimizer), lr_lambda_(std::move(lr_lambda)) {
    TG_CHECK(static_cast<bool>(lr_lambda_), "LambdaLR", "lr_lambda is empty");
    apply_lr();
}
double LambdaLR::lr_at(double base_lr, std::int64_t epoch) const { return base_lr * lr_lambda_(epoch); }

}  // namespace tg::optim
