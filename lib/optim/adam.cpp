// Adam (L2 weight decay, optional AMSGrad, optional TF-1 epsilon placement) and AdamW
// (decoupled weight decay), as torch.optim.Adam / AdamW. Both share one fused kernel.
#include <cmath>

#include "tapegrad/creation.hpp"
#include "tapegrad/optim.hpp"
#include "optim/constructors.hpp"
#include "optim/option_checks.hpp"
#include "optim/param_update.hpp"
#include "tensor/check.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/parallel.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::optim {

namespace {

struct AdamStep {
    double lr, beta1, beta2, eps, l2, decoupled;  // decoupled: AdamW's weight decay
    bool amsgrad, epsilon_hat;
};

// The options Adam and AdamW share (the learning rate is checked by the base).
template <class Options>
void check_adam(std::string_view op, const Options& o) {
    const auto [b1, b2] = o.betas();
    TG_CHECK(b1 >= 0 && b1 < 1, op, "invalid beta1 {} (expected in [0, 1))", b1);
    TG_CHECK(b2 >= 0 && b2 < 1, op, "invalid beta2 {} (expected in [0, 1))", b2);
    detail::check_non_negative(op, {{"eps", o.eps()}, {"weight_decay", o.weight_decay()}});
}

std::vector<std::string> adam_state_names(bool amsgrad) {
    if (amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    return {"exp_avg", "exp_avg_sq"};
}

ParamState adam_state(const Tensor& param, bool amsgrad) {
    ParamState s;
    s.buffers.emplace_back("exp_avg", zeros(param.sizes(), param.dtype()));
    s.buffers.emplace_back("exp_avg_sq", zeros(param.sizes(), param.dtype()));
    if (amsgrad) s.buffers.emplace_back("max_exp_avg_sq", zeros(param.sizes(), param.dtype()));
    return s;
}

void adam_update(std::string_view op, const AdamStep& a, Tensor& param, const Tensor& grad, ParamState& state) {
    if (a.amsgrad && !state.find("max_exp_avg_sq"))  // amsgrad switched on after the first step
        state.buffers.emplace_back("max_exp_avg_sq", zeros(param.sizes(), param.dtype()));
    const Tensor m_t = state.buffer("exp_avg");
    const Tensor v_t = state.buffer("exp_avg_sq");
    const Tensor vmax_t = a.amsgrad ? state.buffer("max_exp_avg_sq") : Tensor();
    const double t = static_cast<double>(state.step);
    const double bias1 = 1.0 - std::pow(a.beta1, t);
    const double bias2_sqrt = std::sqrt(1.0 - std::pow(a.beta2, t));
    const std::int64_t n = param.numel();
    detail::visit_param_and_grad(op, param, grad, [&]<class T>(T* p, const T* g) {
        T* m = impl_of(m_t).data_as<T>();
        T* s = impl_of(v_t).data_as<T>();
        T* smax = vmax_t.defined() ? impl_of(vmax_t).data_as<T>() : nullptr;
        const T b1 = static_cast<T>(a.beta1), b2 = static_cast<T>(a.beta2);
        const T one_minus_b1 = static_cast<T>(1.0 - a.beta1), one_minus_b2 = static_cast<T>(1.0 - a.beta2);
        const T l2 = static_cast<T>(a.l2), eps = static_cast<T>(a.eps);
        const T shrink = static_cast<T>(1.0 - a.lr * a.decoupled);
        // torch: p -= lr/bias1 * m / (sqrt(v)/sqrt(bias2) + eps)
        // TF-1:  p -= lr*sqrt(bias2)/bias1 * m / (sqrt(v) + eps)
        const T step_size = static_cast<T>(a.epsilon_hat ? a.lr * bias2_sqrt / bias1 : a.lr / bias1);
        const T bias2_root = static_cast<T>(a.epsilon_hat ? 1.0 : bias2_sqrt);
        detail::parallel_for_aligned(p, n, detail::grain::optimizer, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t i = begin; i < end; ++i) {
                if (a.decoupled != 0) p[i] *= shrink;
                const T d = g[i] + l2 * p[i];
                m[i] = b1 * m[i] + one_minus_b1 * d;
                s[i] = b2 * s[i] + one_minus_b2 * d * d;
                T second = s[i];
                if (smax) {
                    smax[i] = std::max(smax[i], s[i]);
                    second = smax[i];
                }
                p[i] -= step_size * (m[i] / (std::sqrt(second) / bias2_root + eps));
            }
        });
    });
}

}  // namespace

// Adam and AdamW differ only in where the weight decay goes (their update); the rest of
// their members are these.
#define TG_ADAM_MEMBERS(Name)                                                                        \
    TG_OPTIMIZER_CONSTRUCTORS(Name)                                                                  \
    void Name::check_options(const OptimizerOptions& options) const {                                \
        check_adam(#Name, static_cast<const Name##Options&>(options));                               \
    }                                                                                                \
    std::vector<std::string> Name::state_names(const OptimizerOptions& options) const {              \
        return adam_state_names(static_cast<const Name##Options&>(options).amsgrad());               \
    }                                                                                                \
    std::vector<std::string> Name::all_state_names() const { return adam_state_names(true); }       \
    ParamState Name::init_state(const OptimizerOptions& options, const Tensor& param) const {        \
        return adam_state(param, static_cast<const Name##Options&>(options).amsgrad());              \
    }

TG_ADAM_MEMBERS(Adam)
TG_ADAM_MEMBERS(AdamW)
#undef TG_ADAM_MEMBERS

// ---- Adam ---------------------------------------------------------------------------------

void Adam::update(const OptimizerOptions& options, Tensor& param, const Tensor& grad, ParamState& state) const {
    const auto& o = static_cast<const AdamOptions&>(options);
    const AdamStep a{o.lr(), std::get<0>(o.betas()), std::get<1>(o.betas()), o.eps(), o.weight_decay(), 0.0,
                     o.amsgrad(), o.epsilon_hat()};
    adam_update("Adam", a, param, grad, state);
}

// ---- AdamW --------------------------------------------------------------------------------

void AdamW::update(const OptimizerOptions& options, Tensor& param, const Tensor& grad, ParamState& state) const {
    const auto& o = static_cast<const AdamWOptions&>(options);
    const AdamStep a{o.lr(), std::get<0>(o.betas()), std::get<1>(o.betas()), o.eps(), 0.0, o.weight_decay(),
                     o.amsgrad(), false};
    adam_update("AdamW", a, param, grad, state);
}

}  // namespace tg::optim
