// SGD with momentum, dampening, Nesterov and (L2) weight decay, as torch.optim.SGD.
#include "tapegrad/optim.hpp"
#include "optim/constructors.hpp"
#include "optim/option_checks.hpp"
#include "optim/param_update.hpp"
#include "tensor/check.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/parallel.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::optim {

TG_OPTIMIZER_CONSTRUCTORS(SGD)

void SGD::check_options(const OptimizerOptions& options) const {
    const auto* o = static_cast<const SGDOptions*>(&options);
    detail::check_non_negative("SGD", {{"momentum", o->momentum()}, {"weight_decay", o->weight_decay()}});
    TG_CHECK(!o->nesterov() || (o->momentum() > 0 && o->dampening() == 0), "SGD",
             "nesterov momentum requires momentum > 0 and dampening 0 (got momentum {}, dampening {})",
             o->momentum(), o->dampening());
}

// The momentum buffer is created on first use (it starts as the first gradient), so a
// parameter may have state without one (momentum 0).
std::vector<std::string> SGD::state_names(const OptimizerOptions&) const { return {}; }
std::vector<std::string> SGD::all_state_names() const { return {"momentum_buffer"}; }
ParamState SGD::init_state(const OptimizerOptions&, const Tensor&) const { return {}; }

void SGD::update(const OptimizerOptions& options, Tensor& param, const Tensor& grad, ParamState& state) const {
    const auto& o = static_cast<const SGDOptions&>(options);
    const std::int64_t n = param.numel();
    Tensor* buffer = nullptr;
    bool first = false;
    if (o.momentum() != 0) {
        buffer = state.find("momentum_buffer");
        if (buffer == nullptr) {
            state.buffers.emplace_back("momentum_buffer", make_tensor(param.sizes(), param.dtype()));
            buffer = &state.buffers.back().second;
            first = true;
        }
    }
    detail::visit_param_and_grad("SGD", param, grad, [&]<class T>(T* p, const T* g) {
        const T lr = static_cast<T>(o.lr()), wd = static_cast<T>(o.weight_decay());
        if (buffer == nullptr) {
            detail::parallel_for_aligned(p, n, detail::grain::optimizer, [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t i = begin; i < end; ++i) p[i] -= lr * (g[i] + wd * p[i]);
            });
            return;
        }
        T* buf = impl_of(*buffer).data_as<T>();
        const T mu = static_cast<T>(o.momentum()), keep = static_cast<T>(1.0 - o.dampening());
        const bool nesterov = o.nesterov();
        detail::parallel_for_aligned(p, n, detail::grain::optimizer, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t i = begin; i < end; ++i) {
                const T d = g[i] + wd * p[i];
                buf[i] = first ? d : mu * buf[i] + keep * d;
                p[i] -= lr * (nesterov ? d + mu * buf[i] : buf[i]);
            }
        });
    });
}

}  // namespace tg::optim
