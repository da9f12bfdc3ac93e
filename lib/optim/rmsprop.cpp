// RMSprop as torch.optim.RMSprop (plus the two switches TF-1's RMSPropOptimizer needs:
// epsilon inside the square root and a mean square that starts at 1).
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

TG_OPTIMIZER_CONSTRUCTORS(RMSprop)

void RMSprop::check_options(const OptimizerOptions& options) const {
    const auto* o = static_cast<const RMSpropOptions*>(&options);
    TG_CHECK(o->alpha() >= 0 && o->alpha() <= 1, "RMSprop", "invalid alpha {} (expected in [0, 1])", o->alpha());
    detail::check_non_negative("RMSprop", {{"eps", o->eps()},
                                           {"momentum", o->momentum()},
                                           {"weight_decay", o->weight_decay()},
                                           {"initial_square_avg", o->initial_square_avg()}});
}

std::vector<std::string> RMSprop::state_names(const OptimizerOptions& options) const {
    const auto& o = static_cast<const RMSpropOptions&>(options);
    std::vector<std::string> names{"square_avg"};
    if (o.momentum() > 0) names.push_back("momentum_buffer");
    if (o.centered()) names.push_back("grad_avg");
    return names;
}
std::vector<std::string> RMSprop::all_state_names() const { return {"square_avg", "momentum_buffer", "grad_avg"}; }

ParamState RMSprop::init_state(const OptimizerOptions& options, const Tensor& param) const {
    const auto& o = static_cast<const RMSpropOptions&>(options);
    ParamState s;
    s.buffers.emplace_back("square_avg", full(param.sizes(), o.initial_square_avg(), param.dtype()));
    if (o.momentum() > 0) s.buffers.emplace_back("momentum_buffer", zeros(param.sizes(), param.dtype()));
    if (o.centered()) s.buffers.emplace_back("grad_avg", zeros(param.sizes(), param.dtype()));
    return s;
}

void RMSprop::update(const OptimizerOptions& options, Tensor& param, const Tensor& grad, ParamState& state) const {
    const auto& o = static_cast<const RMSpropOptions&>(options);
    // Buffers switched on after the first step start from zero.
    auto buffer_or_new = [&](const char* name) {
        if (Tensor* t = state.find(name)) return *t;
        state.buffers.emplace_back(name, zeros(param.sizes(), param.dtype()));
        return state.buffers.back().second;
    };
    const Tensor square = state.buffer("square_avg");
    const Tensor momentum = o.momentum() > 0 ? buffer_or_new("momentum_buffer") : Tensor();
    const Tensor average = o.centered() ? buffer_or_new("grad_avg") : Tensor();
    const std::int64_t n = param.numel();
    detail::visit_param_and_grad("RMSprop", param, grad, [&]<class T>(T* p, const T* g) {
        T* sq = impl_of(square).data_as<T>();
        T* buf = momentum.defined() ? impl_of(momentum).data_as<T>() : nullptr;
        T* avg = average.defined() ? impl_of(average).data_as<T>() : nullptr;
        const T lr = static_cast<T>(o.lr()), wd = static_cast<T>(o.weight_decay());
        const T alpha = static_cast<T>(o.alpha()), one_minus_alpha = static_cast<T>(1.0 - o.alpha());
        const T eps = static_cast<T>(o.eps()), mu = static_cast<T>(o.momentum());
        const bool inside = o.eps_inside_sqrt();
        detail::parallel_for_aligned(p, n, detail::grain::optimizer, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t i = begin; i < end; ++i) {
                const T d = g[i] + wd * p[i];
                sq[i] = alpha * sq[i] + one_minus_alpha * d * d;
                T var = sq[i];
                if (avg) {
                    avg[i] = alpha * avg[i] + one_minus_alpha * d;
                    var -= avg[i] * avg[i];
                }
                const T denom = inside ? std::sqrt(var + eps) : std::sqrt(var) + eps;
                if (buf) {
                    buf[i] = mu * buf[i] + d / denom;
                    p[i] -= lr * buf[i];
                } else {
                    p[i] -= lr * (d / denom);
                }
            }
        });
    });
}

}  // namespace tg::optim
