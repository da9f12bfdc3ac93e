// Optimizers, learning-rate schedulers and gradient clipping, shaped like libtorch's
// torch::optim (docs/optimizers.md maps TF-1's tf.train optimizers onto these).
//
//   tg::optim::Adam opt(model_params, tg::optim::AdamOptions(1e-3).betas({0.9, 0.999}));
//   for (...) { opt.zero_grad(); loss(...).backward(); opt.step(); }
//   opt.minimize(loss);              // the same three calls in one (TF-1's minimize)
//   opt.minimize(loss, {w, b});      // only w and b: gradients and updates for just those
//
// Updates run under NoGradGuard, in place, with fused per-element loops: a step allocates
// nothing once the per-parameter state (momentum, moments, ...) exists. A parameter whose
// grad() is undefined is skipped (its state and step count do not move).
//
// Non-finite gradients: before touching anything, step() scans the gradients it is about
// to apply. By default (NonFiniteGrad::Error) a NaN or Inf throws tg::Error naming the
// group, the parameter and its shape, and leaves parameters and state unchanged, so a
// diverging run stops where it diverged instead of spreading NaN into every weight.
// NonFiniteGrad::Skip skips the whole step (counted by skipped_steps(); what mixed-
// precision loss scalers do), NonFiniteGrad::Propagate applies it as libtorch and TF-1 do.
#pragma once

#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tapegrad/serialize.hpp"
#include "tapegrad/arg.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::optim {

// ---- options --------------------------------------------------------------------------------
// Each options struct converts implicitly from its learning rate, as libtorch's do, so
// `tg::optim::SGD opt(params, 0.1)` reads like `torch::optim::SGD(params, /*lr=*/0.1)`.

using Betas = std::tuple<double, double>;  // (beta1, beta2) of Adam and AdamW

// What every optimizer's options can do. Options are saved with the optimizer state as
// (name, number) pairs (bools as 0/1, betas as beta1/beta2).
class OptimizerOptions {
public:
    virtual ~OptimizerOptions() = default;
    virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
    virtual double get_lr() const = 0;
    virtual void set_lr(double lr) = 0;
    virtual std::vector<std::pair<std::string, double>> values() const = 0;
    // Sets one option by the name values() uses; false for an unknown name.
    virtual bool set_value(std::string_view name, double value) = 0;
};

// The plumbing every options struct shares, written once: Derived lists its fields in
// `static void fields(Self& self, Visit&& visit)` as visit("name", self.field_) calls
// (Self is Derived or const Derived), and values() / set_value() / lr come from that list.
template <class Derived>
class OptimizerCloneableOptions : public OptimizerOptions {
public:
    std::unique_ptr<OptimizerOptions> clone() const override {
        return std::make_unique<Derived>(static_cast<const Derived&>(*this));
    }
    double get_lr() const override { return static_cast<const Derived&>(*this).lr(); }
    void set_lr(double lr) override { static_cast<Derived&>(*this).lr(lr); }
    std::vector<std::pair<std::string, double>> values() const override {
        std::vector<std::pair<std::string, double>> out;
        Derived::fields(static_cast<const Derived&>(*this),
                        [&](const char* name, const auto& field) { out.emplace_back(name, static_cast<double>(field)); });
        return out;
    }
    bool set_value(std::string_view name, double value) override {
        bool found = false;
        Derived::fields(static_cast<Derived&>(*this), [&](const char* field_name, auto& field) {
            if (field_name != name) return;
            field = static_cast<std::remove_reference_t<decltype(field)>>(value);  // bool: value != 0
            found = true;
        });
        return found;
    }
};

struct SGDOptions : OptimizerCloneableOptions<SGDOptions> {
    SGDOptions(double lr) : lr_(lr) {}
    // TF-1's MomentumOptimizer(learning_rate, momentum, use_nesterov): accum = mu*accum + g;
    // var -= lr*accum, which is this SGD with dampening 0 (see docs/optimizers.md).
    static SGDOptions tf1_momentum(double lr, double momentum, bool use_nesterov = false) {
        return SGDOptions(lr).momentum(momentum).nesterov(use_nesterov);
    }
    // Learning rate.
    TG_ARG(double, lr, 0.0);
    // Momentum factor mu (0: plain SGD).
    TG_ARG(double, momentum, 0.0);
    // Scales the new gradient in the momentum buffer by (1 - dampening).
    TG_ARG(double, dampening, 0.0);
    // L2 penalty: adds weight_decay * p to the gradient.
    TG_ARG(double, weight_decay, 0.0);
    // Nesterov momentum (needs momentum > 0 and dampening 0).
    TG_ARG(bool, nesterov, false);

public:  // TG_ARG leaves the section private
    template <class Self, class Visit>
    static void fields(Self& self, Visit&& visit) {
        visit("lr", self.lr_);
        visit("momentum", self.momentum_);
        visit("dampening", self.dampening_);
        visit("weight_decay", self.weight_decay_);
        visit("nesterov", self.nesterov_);
    }
};

struct RMSpropOptions : OptimizerCloneableOptions<RMSpropOptions> {
    RMSpropOptions(double lr = 1e-2) : lr_(lr) {}
    // TF-1's RMSPropOptimizer defaults: decay 0.9, epsilon 1e-10 inside the square root,
    // mean square initialised to 1 (docs/optimizers.md).
    static RMSpropOptions tf1(double lr, double decay = 0.9, double momentum = 0.0, double epsilon = 1e-10,
                              bool centered = false) {
        return RMSpropOptions(lr).alpha(decay).momentum(momentum).eps(epsilon).centered(centered)
            .eps_inside_sqrt(true).initial_square_avg(1.0);
    }
    // Learning rate.
    TG_ARG(double, lr, 1e-2);
    // Smoothing constant of the mean square (TF-1: decay).
    TG_ARG(double, alpha, 0.99);
    // Added to the denominator for stability.
    TG_ARG(double, eps, 1e-8);
    // L2 penalty: adds weight_decay * p to the gradient.
    TG_ARG(double, weight_decay, 0.0);
    // Momentum factor of the update buffer (0: none).
    TG_ARG(double, momentum, 0.0);
    // Divide by the estimated variance (mean square minus squared mean).
    TG_ARG(bool, centered, false);
    // tapegrad extensions for TF-1 compatibility (libtorch: false and 0).
    TG_ARG(bool, eps_inside_sqrt, false);     // sqrt(v + eps) instead of sqrt(v) + eps
    TG_ARG(double, initial_square_avg, 0.0);  // starting value of the mean square

public:  // TG_ARG leaves the section private
    template <class Self, class Visit>
    static void fields(Self& self, Visit&& visit) {
        visit("lr", self.lr_);
        visit("alpha", self.alpha_);
        visit("eps", self.eps_);
        visit("weight_decay", self.weight_decay_);
        visit("momentum", self.momentum_);
        visit("centered", self.centered_);
        visit("eps_inside_sqrt", self.eps_inside_sqrt_);
        visit("initial_square_avg", self.initial_square_avg_);
    }
};

struct AdamOptions : OptimizerCloneableOptions<AdamOptions> {
    AdamOptions(double lr = 1e-3) : lr_(lr) {}
    // TF-1's AdamOptimizer: the same moments, but its epsilon is "epsilon hat", added to
    // sqrt(v) before the bias correction (docs/optimizers.md).
    static AdamOptions tf1(double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8) {
        return AdamOptions(lr).betas({beta1, beta2}).eps(epsilon).epsilon_hat(true);
    }
    // Learning rate.
    TG_ARG(double, lr, 1e-3);
    // (beta1, beta2): decay rates of the first and second moments.
    TG_ARG(Betas, betas, std::make_tuple(0.9, 0.999));
    // Added to the denominator for stability.
    TG_ARG(double, eps, 1e-8);
    // L2 penalty: adds weight_decay * p to the gradient.
    TG_ARG(double, weight_decay, 0.0);
    // Use the maximum of past second moments (AMSGrad).
    TG_ARG(bool, amsgrad, false);
    TG_ARG(bool, epsilon_hat, false);  // tapegrad extension: TF-1's eps placement

public:  // TG_ARG leaves the section private
    template <class Self, class Visit>
    static void fields(Self& self, Visit&& visit) {
        visit("lr", self.lr_);
        visit("beta1", std::get<0>(self.betas_));
        visit("beta2", std::get<1>(self.betas_));
        visit("eps", self.eps_);
        visit("weight_decay", self.weight_decay_);
        visit("amsgrad", self.amsgrad_);
        visit("epsilon_hat", self.epsilon_hat_);
    }
};

struct AdamWOptions : OptimizerCloneableOptions<AdamWOptions> {
    AdamWOptions(double lr = 1e-3) : lr_(lr) {}
    // Learning rate.
    TG_ARG(double, lr, 1e-3);
    // (beta1, beta2): decay rates of the first and second moments.
    TG_ARG(Betas, betas, std::make_tuple(0.9, 0.999));
    // Added to the denominator for stability.
    TG_ARG(double, eps, 1e-8);
    TG_ARG(double, weight_decay, 1e-2);  // decoupled: p -= lr * weight_decay * p
    // Use the maximum of past second moments (AMSGrad).
    TG_ARG(bool, amsgrad, false);

public:  // TG_ARG leaves the section private
    template <class Self, class Visit>
    static void fields(Self& self, Visit&& visit) {
        visit("lr", self.lr_);
        visit("beta1", std::get<0>(self.betas_));
        visit("beta2", std::get<1>(self.betas_));
        visit("eps", self.eps_);
        visit("weight_decay", self.weight_decay_);
        visit("amsgrad", self.amsgrad_);
    }
};

struct AdagradOptions : OptimizerCloneableOptions<AdagradOptions> {
    AdagradOptions(double lr = 1e-2) : lr_(lr) {}
    // TF-1's AdagradOptimizer: accumulator starts at 0.1 and no epsilon is added.
    static AdagradOptions tf1(double lr, double initial_accumulator_value = 0.1) {
        return AdagradOptions(lr).initial_accumulator_value(initial_accumulator_value).eps(0.0);
    }
    // Learning rate.
    TG_ARG(double, lr, 1e-2);
    // Lr / (1 + (step - 1) * lr_decay).
    TG_ARG(double, lr_decay, 0.0);
    // L2 penalty: adds weight_decay * p to the gradient.
    TG_ARG(double, weight_decay, 0.0);
    // Starting value of the sum of squared gradients.
    TG_ARG(double, initial_accumulator_value, 0.0);
    // Added to the denominator for stability.
    TG_ARG(double, eps, 1e-10);

public:  // TG_ARG leaves the section private
    template <class Self, class Visit>
    static void fields(Self& self, Visit&& visit) {
        visit("lr", self.lr_);
        visit("lr_decay", self.lr_decay_);
        visit("weight_decay", self.weight_decay_);
        visit("initial_accumulator_value", self.initial_accumulator_value_);
        visit("eps", self.eps_);
    }
};

// ---- the optimizer base ---------------------------------------------------------------------

// Parameters that share options. A group built without options takes the optimizer's
// defaults when it is added.
class OptimizerParamGroup {
public:
    OptimizerParamGroup(std::vector<Tensor> params);  // NOLINT: implicit, like libtorch
    OptimizerParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options);
    OptimizerParamGroup(const OptimizerParamGroup& other);
    OptimizerParamGroup& operator=(const OptimizerParamGroup& other);
    OptimizerParamGroup(OptimizerParamGroup&&) noexcept = default;
    OptimizerParamGroup& operator=(OptimizerParamGroup&&) noexcept = default;

    bool has_options() const { return options_ != nullptr; }
    OptimizerOptions& options();
    const OptimizerOptions& options() const;
    void set_options(std::unique_ptr<OptimizerOptions> options) { options_ = std::move(options); }
    std::vector<Tensor>& params() { return params_; }
    const std::vector<Tensor>& params() const { return params_; }

private:
    std::vector<Tensor> params_;
    std::unique_ptr<OptimizerOptions> options_;
};

// Per-parameter state: the number of updates applied and named buffers of the
// parameter's shape and dtype ("momentum_buffer", "exp_avg", ...).
struct ParamState {
    std::int64_t step = 0;
    std::vector<std::pair<std::string, Tensor>> buffers;
    Tensor* find(std::string_view name);  // null when there is none of that name
    const Tensor* find(std::string_view name) const;
    Tensor& buffer(std::string_view name);  // throws when there is none of that name
};

enum class NonFiniteGrad { Error, Skip, Propagate };

class Optimizer {
public:
    virtual ~Optimizer();
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    virtual std::string_view name() const = 0;  // "Adam", ...

    // Parameters must be distinct floating-point leaf tensors.
    void add_param_group(const OptimizerParamGroup& group);
    std::vector<OptimizerParamGroup>& param_groups() { return groups_; }
    const std::vector<OptimizerParamGroup>& param_groups() const { return groups_; }
    OptimizerOptions& defaults() { return *defaults_; }
    const OptimizerOptions& defaults() const { return *defaults_; }

    // set_to_none drops the gradients (the next backward allocates fresh ones); otherwise
    // they are zeroed in place.
    void zero_grad(bool set_to_none = true);
    // One update of every parameter that has a gradient.
    void step();
    // zero_grad(), loss.backward(), step().
    void minimize(const Tensor& loss);
    // TF-1's minimize(loss, var_list): gradients of `loss` for exactly `var_list` (other
    // tensors' grad() is untouched) and an update of just those. A variable this
    // optimizer does not hold yet joins the first group (created from the defaults).
    // Both forms, like TF-1: when the loss depends on none of the variables, a tg::Error
    // ("no gradients provided for any variable") names them and nothing changes; when it
    // misses only some, `unused_variable_log` (std::clog by default; nullptr: silent) gets
    // one line naming them, once per optimizer.
    void minimize(const Tensor& loss, const std::vector<Tensor>& var_list);
    std::ostream* unused_variable_log = &std::clog;

    NonFiniteGrad non_finite_grad() const { return non_finite_grad_; }
    void set_non_finite_grad(NonFiniteGrad policy) { non_finite_grad_ = policy; }
    std::int64_t skipped_steps() const { return skipped_steps_; }

    // The state of one parameter, or null before its first update.
    const ParamState* state(const Tensor& param) const;

    // Everything needed to resume bit-exactly, as named tensors: per parameter with state
    // "group.G.param.I.step" (int64, 0-dim) and "group.G.param.I.<buffer>", per group
    // "group.G.<option>" (float64, 0-dim) and "group.G.num_params". Parameters are
    // numbered by their position in param_groups(), so load into an optimizer built the
    // same way. The parameters' own values are not included: save them separately.
    NamedTensors state_dict() const;
    // Checks every entry (names, groups, counts, shapes, dtypes) before changing anything.
    void load_state_dict(const NamedTensors& state);
    void save(const std::string& path) const;  // state_dict() through tg::save
    void load(const std::string& path);

protected:
    explicit Optimizer(std::unique_ptr<OptimizerOptions> defaults);

    // Throws when `options` holds invalid values; the base has already checked that they are
    // this optimizer's kind (<name()>Options) and that lr >= 0 (check_group_options).
    virtual void check_options(const OptimizerOptions& options) const = 0;
    // The buffers every parameter with state has under `options` (checked on load), and
    // every buffer name this optimizer may keep (some are created on first use).
    virtual std::vector<std::string> state_names(const OptimizerOptions& options) const = 0;
    virtual std::vector<std::string> all_state_names() const = 0;
    // Adds the groups after the derived class is complete (add_param_group calls the
    // virtual checks, which a base constructor cannot).
    void init_groups(std::vector<OptimizerParamGroup> groups);
    // Fresh state for `param` (buffers in state_names order; step 0).
    virtual ParamState init_state(const OptimizerOptions& options, const Tensor& param) const = 0;
    // Applies one update to `param` (contiguous) from `grad` (contiguous, same shape and
    // dtype); state.step has already been incremented. Runs under NoGradGuard.
    virtual void update(const OptimizerOptions& options, Tensor& param, const Tensor& grad,
                        ParamState& state) const = 0;

private:
    void check_group_options(const OptimizerOptions& options) const;
    void step_params(const std::unordered_set<const TensorImpl*>* only);
    void check_new_params(const std::vector<Tensor>& params, std::string_view what) const;

    std::vector<OptimizerParamGroup> groups_;
    std::unique_ptr<OptimizerOptions> defaults_;
    std::unordered_map<const TensorImpl*, ParamState> state_;
    // Throws when no variable got a gradient; logs the ungraded ones once otherwise.
    void check_gradients_reached(const std::vector<Tensor>& variables, const std::vector<std::string>& labels);

    NonFiniteGrad non_finite_grad_ = NonFiniteGrad::Error;
    std::int64_t skipped_steps_ = 0;
    bool reported_unused_ = false;
};

// The hooks each optimizer below defines in its lib/optim/<name>.cpp: the protected
// virtuals of Optimizer, declared once here.
#define TG_OPTIMIZER_HOOKS                                                                    \
    void check_options(const OptimizerOptions& options) const override;                        \
    std::vector<std::string> state_names(const OptimizerOptions& options) const override;      \
    std::vector<std::string> all_state_names() const override;                                \
    ParamState init_state(const OptimizerOptions& options, const Tensor& param) const override; \
    void update(const OptimizerOptions& options, Tensor& param, const Tensor& grad,            \
                ParamState& state) const override;

// p -= lr * d with d = g + weight_decay*p, then with momentum:
// buf = momentum*buf + (1 - dampening)*d (buf = d on the first step) and
// d = nesterov ? d + momentum*buf : buf.
class SGD : public Optimizer {
public:
    SGD(std::vector<Tensor> params, const SGDOptions& defaults);
    SGD(std::vector<OptimizerParamGroup> groups, const SGDOptions& defaults);
    std::string_view name() const override { return "SGD"; }

protected:
    TG_OPTIMIZER_HOOKS
};

// v = alpha*v + (1-alpha)*g^2 (g with weight decay added); centered also tracks
// m = alpha*m + (1-alpha)*g and uses v - m^2; d = g / (sqrt(v) + eps);
// with momentum buf = momentum*buf + d, p -= lr*buf, else p -= lr*d.
class RMSprop : public Optimizer {
public:
    RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults = RMSpropOptions());
    RMSprop(std::vector<OptimizerParamGroup> groups, const RMSpropOptions& defaults = RMSpropOptions());
    std::string_view name() const override { return "RMSprop"; }

protected:
    TG_OPTIMIZER_HOOKS
};

// m = b1*m + (1-b1)*g, v = b2*v + (1-b2)*g^2 (g with L2 weight decay added),
// p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps); amsgrad uses max over time of v.
class Adam : public Optimizer {
public:
    Adam(std::vector<Tensor> params, const AdamOptions& defaults = AdamOptions());
    Adam(std::vector<OptimizerParamGroup> groups, const AdamOptions& defaults = AdamOptions());
    std::string_view name() const override { return "Adam"; }

protected:
    TG_OPTIMIZER_HOOKS
};

// Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr*weight_decay,
// then the Adam update of the raw gradient.
class AdamW : public Optimizer {
public:
    AdamW(std::vector<Tensor> params, const AdamWOptions& defaults = AdamWOptions());
    AdamW(std::vector<OptimizerParamGroup> groups, const AdamWOptions& defaults = AdamWOptions());
    std::string_view name() const override { return "AdamW"; }

protected:
    TG_OPTIMIZER_HOOKS
};

// sum += g^2 (g with weight decay added); p -= clr * g / (sqrt(sum) + eps) with
// clr = lr / (1 + (t-1)*lr_decay).
class Adagrad : public Optimizer {
public:
    Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults = AdagradOptions());
    Adagrad(std::vector<OptimizerParamGroup> groups, const AdagradOptions& defaults = AdagradOptions());
    std::string_view name() const override { return "Adagrad"; }

protected:
    TG_OPTIMIZER_HOOKS
};

// ---- learning-rate schedulers ---------------------------------------------------------------

// Call step() once per epoch, after the optimizer's steps. Each scheduler sets the lr of
// every group from that group's lr at construction (base_lrs) and the epoch count, by a
// closed form, so it never accumulates rounding.
class LRScheduler {
public:
    explicit LRScheduler(Optimizer& optimizer);
    virtual ~LRScheduler() = default;
    void step();
    std::int64_t last_epoch() const { return epoch_; }
    std::vector<double> get_last_lr() const;
    const std::vector<double>& base_lrs() const { return base_lrs_; }

protected:
    virtual double lr_at(double base_lr, std::int64_t epoch) const = 0;
    void apply_lr();  // sets every group's lr to lr_at(base, last_epoch())

private:
    Optimizer& optimizer_;
    std::vector<double> base_lrs_;
    std::int64_t epoch_ = 0;
};

// lr = base * gamma^floor(epoch / step_size)  (TF-1: exponential_decay with staircase)
class StepLR : public LRScheduler {
public:
    StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

protected:
    double lr_at(double base_lr, std::int64_t epoch) const override;

private:
    std::int64_t step_size_;
    double gamma_;
};

// lr = base * gamma^epoch
class ExponentialLR : public LRScheduler {
public:
    ExponentialLR(Optimizer& optimizer, double gamma);

protected:
    double lr_at(double base_lr, std::int64_t epoch) const override;

private:
    double gamma_;
};

// lr = eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2  (TF-1: cosine_decay)
class CosineAnnealingLR : public LRScheduler {
public:
    CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min = 0.0);

protected:
    double lr_at(double base_lr, std::int64_t epoch) const override;

private:
    std::int64_t t_max_;
    double eta_min_;
};

// lr = base * lr_lambda(epoch), applied from epoch 0 on (at construction) like libtorch
class LambdaLR : public LRScheduler {
public:
    LambdaLR(Optimizer& optimizer, std::function<double(std::int64_t)> lr_lambda);

protected:
    double lr_at(double base_lr, std::int64_t epoch) const override;

private:
    std::function<double(std::int64_t)> lr_lambda_;
};

}  // namespace tg::optim

namespace tg::nn::utils {

// Scales every gradient by max_norm / (total_norm + 1e-6) when the total norm (the
// norm_type-norm of all gradients together; norm_type may be INFINITY) exceeds
// max_norm. Returns the total norm before clipping (= tf.clip_by_global_norm).
// A NaN/Inf total norm throws when error_if_nonfinite, else the gradients are scaled by
// it like libtorch does.
double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
double clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
// Clamps every gradient element into [-clip_value, clip_value] (= tf.clip_by_value).
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);
void clip_grad_value_(const Tensor& parameter, double clip_value);

}  // namespace tg::nn::utils

TG_PUBLIC_END
