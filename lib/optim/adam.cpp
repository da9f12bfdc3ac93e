// Adam (L2 weight decay, optional AMSGrad, optional TF-1 epsilon placement) and AdamW
// (decoupled weight decay), as torch.optim.Adam / AdamW. Both share one fused kernel.
#include <algorithm>
#include <cmath>

#include <xsimd/xsimd.hpp>

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

// The scalars of one Adam step, in the parameter's type.
template <class T>
struct AdamScalars {
    T b1, b2, one_minus_b1, one_minus_b2, l2, eps, shrink, step_size, bias2_root;
};

// Elements [begin, end) of the update, a vector of xsimd's default width at a time. The
// plain loop it replaces stayed scalar (std::sqrt sets errno, so GCC will not vectorise it,
// and the lambda's by-reference captures were reloaded after every store) and took a
// quarter of the CNN step. The last partial vector goes through the same vector code on
// padded copies, so every element takes the same instructions whatever the chunking (a
// scalar tail could contract a*b + c into an FMA differently) and the bits do not depend
// on the thread count.
template <class T, bool Decoupled, bool AmsGrad>
void adam_chunk(T* p, const T* g, T* m, T* s, T* smax, const AdamScalars<T>& c, std::int64_t begin,
                std::int64_t end) {
    using B = xsimd::batch<T>;
    constexpr std::int64_t width = B::size;
    const B b1(c.b1), b2(c.b2), one_minus_b1(c.one_minus_b1), one_minus_b2(c.one_minus_b2), l2(c.l2), eps(c.eps),
        shrink(c.shrink), step_size(c.step_size), bias2_root(c.bias2_root);
    auto update = [&](T* pp, const T* gp, T* mp, T* sp, T* smaxp) {
        B pi = B::load_unaligned(pp);
        if constexpr (Decoupled) pi = pi * shrink;
        const B d = B::load_unaligned(gp) + l2 * pi;
        const B mi = b1 * B::load_unaligned(mp) + one_minus_b1 * d;
        const B si = b2 * B::load_unaligned(sp) + one_minus_b2 * d * d;
        mi.store_unaligned(mp);
        si.store_unaligned(sp);
        B second = si;
        if constexpr (AmsGrad) {
            const B previous = B::load_unaligned(smaxp);
            second = xsimd::select(previous < si, si, previous);  // std::max(previous, si)
            second.store_unaligned(smaxp);
        }
        (pi - step_size * (mi / (xsimd::sqrt(second) / bias2_root + eps))).store_unaligned(pp);
    };
    std::int64_t i = begin;
    for (; i + width <= end; i += width) update(p + i, g + i, m + i, s + i, AmsGrad ? smax + i : nullptr);
    if (i == end) return;
    const std::int64_t rest = end - i;
    alignas(64) T tp[width] = {}, tg[width] = {}, tm[width] = {}, ts[width] = {}, tmax[width] = {};
    std::copy_n(p + i, rest, tp);
    std::copy_n(g + i, rest, tg);
    std::copy_n(m + i, rest, tm);
    std::copy_n(s + i, rest, ts);
    if constexpr (AmsGrad) std::copy_n(smax + i, rest, tmax);
    update(tp, tg, tm, ts, tmax);
    std::copy_n(tp, rest, p + i);
    std::copy_n(tm, rest, m + i);
    std::copy_n(ts, rest, s + i);
    if constexpr (AmsGrad) std::copy_n(tmax, rest, smax + i);
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
        // torch: p -= lr/bias1 * m / (sqrt(v)/sqrt(bias2) + eps)
        // TF-1:  p -= lr*sqrt(bias2)/bias1 * m / (sqrt(v) + eps)
        const AdamScalars<T> c{static_cast<T>(a.beta1),
                               static_cast<T>(a.beta2),
                               static_cast<T>(1.0 - a.beta1),
                               static_cast<T>(1.0 - a.beta2),
                               static_cast<T>(a.l2),
                               static_cast<T>(a.eps),
                               static_cast<T>(1.0 - a.lr * a.decoupled),
                               static_cast<T>(a.epsilon_hat ? a.lr * bias2_sqrt / bias1 : a.lr / bias1),
                               static_cast<T>(a.epsilon_hat ? 1.0 : bias2_sqrt)};
        auto run = [&](auto kernel) {
            detail::parallel_for_aligned(p, n, detail::grain::optimizer, [&](std::int64_t begin, std::int64_t end) {
                kernel(p, g, m, s, smax, c, begin, end);
            });
        };
        const bool decoupled = a.decoupled != 0;
        if (smax != nullptr)
            decoupled ? run(adam_chunk<T, true, true>) : run(adam_chunk<T, false, true>);
        else
            decoupled ? run(adam_chunk<T, true, false>) : run(adam_chunk<T, false, false>);
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
