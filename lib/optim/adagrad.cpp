// Adagrad as torch.optim.Adagrad (TF-1's AdagradOptimizer is AdagradOptions::tf1).
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

TG_OPTIMIZER_CONSTRUCTORS(Adagrad)

void Adagrad::check_options(const OptimizerOptions& options) const {
    const auto* o = static_cast<const AdagradOptions*>(&options);
    detail::check_non_negative("Adagrad", {{"lr_decay", o->lr_decay()},
                                           {"weight_decay", o->weight_decay()},
                                           {"initial_accumulator_value", o->initial_accumulator_value()},
                                           {"eps", o->eps()}});
}

std::vector<std::string> Adagrad::state_names(const OptimizerOptions&) const { return {"sum"}; }
std::vector<std::string> Adagrad::all_state_names() const { return {"sum"}; }

ParamState Adagrad::init_state(const OptimizerOptions& options, const Tensor& param) const {
    const auto& o = static_cast<const AdagradOptions&>(options);
    ParamState s;
    s.buffers.emplace_back("sum", full(param.sizes(), o.initial_accumulator_value(), param.dtype()));
    return s;
}

void Adagrad::update(const OptimizerOptions& options, Tensor& param, const Tensor& grad, ParamState& state) const {
    const auto& o = static_cast<const AdagradOptions&>(options);
    const Tensor sum = state.buffer("sum");
    const double clr = o.lr() / (1.0 + static_cast<double>(state.step - 1) * o.lr_decay());
    const std::int64_t n = param.numel();
    detail::visit_param_and_grad("Adagrad", param, grad, [&]<class T>(T* p, const T* g) {
        T* acc = impl_of(sum).data_as<T>();
        const T lr = static_cast<T>(clr), wd = static_cast<T>(o.weight_decay()), eps = static_cast<T>(o.eps());
        detail::parallel_for_aligned(p, n, detail::grain::optimizer, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t i = begin; i < end; ++i) {
                const T d = g[i] + wd * p[i];
                acc[i] += d * d;
                p[i] -= lr * (d / (std::sqrt(acc[i]) + eps));
            }
        });
    });
}

}  // namespace tg::optim
