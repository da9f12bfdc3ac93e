// Fused recurrent-cell ops: the gate nonlinearities of an LSTM or GRU step as one op each,
// and the gate pre-activations (gate_linear, the dense op of linalg.cpp) including the
// sequence-wide weight-gradient collector. A step written with single ops records ~15 nodes
// (chunk, sigmoid x3, tanh x2, mul x3, add, ...) whose backwards allocate a temporary each;
// here the forward is one pass over the gates and the backward one pass that writes the
// gate gradients in place. The transcendental functions go through xsimd (xtensor
// expressions over each row's gate segment); the backward needs none: it reuses the saved
// activations.
//
// The backwards are kernels, not tapegrad ops, so these ops have no double backward: a
// create_graph backward through them throws (the cells written with single ops would).
#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

#include <cstring>
#include <memory>

#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>

#include "autograd/record.hpp"
#include "ops/dense.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/rnn.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/check.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/simd_kernels.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::nn::functional {

namespace {

// Batch rows per parallel chunk of the gate kernels (parallel.hpp): a row is 4H (LSTM) or
// 3H (GRU) activations, each an exp or tanh.
std::int64_t gate_rows_per_chunk(std::int64_t H) {
    return std::max<std::int64_t>(1, detail::grain::costly / std::max<std::int64_t>(1, 4 * H));
}

// Runs row_fn(b) for every batch row b in [0, B), rows split over the threads: each gate
// kernel (forward and backward) works row by row, independently.
template <class RowFn>
void for_each_gate_row(std::int64_t B, std::int64_t H, RowFn&& row_fn) {
    detail::parallel_for(B, gate_rows_per_chunk(H), [&](std::int64_t b_begin, std::int64_t b_end) {
        for (std::int64_t b = b_begin; b < b_end; ++b) row_fn(b);
    });
}

template <class T>
auto row(T* p, std::int64_t n) {
    return xt::adapt(p, static_cast<std::size_t>(n), xt::no_ownership(),
                     std::array<std::size_t, 1>{static_cast<std::size_t>(n)});
}

// dst[k] = sigmoid(src[k] + shift), vectorised. A baseline (portable) build takes the
// run-time dispatched kernel (tensor/simd_kernels.hpp), as map_floating does: xtensor's
// expression would run at the build's SSE2 (the gate activations were ~16% of an
// LSTMCell step on this AVX-512 machine). Each row is one call, so the bits do not depend
// on the thread count.
template <class T>
void sigmoid_into(T* dst, const T* src, std::int64_t n, T shift = T(0)) {
#ifndef __AVX2__
    if (shift != T(0)) {
        for (std::int64_t k = 0; k < n; ++k) dst[k] = src[k] + shift;
        src = dst;
    }
    detail::simd_unary(detail::SimdUnary::Sigmoid, src, dst, n);
#else
    auto y = row(dst, n);
    auto x = row(const_cast<T*>(src), n);
    if (shift == T(0))
        xt::noalias(y) = T(1) / (T(1) + xt::exp(-x));
    else
        xt::noalias(y) = T(1) / (T(1) + xt::exp(-(x + shift)));
#endif
}

template <class T>
void tanh_into(T* dst, const T* src, std::int64_t n) {
#ifndef __AVX2__
    detail::simd_unary(detail::SimdUnary::Tanh, src, dst, n);
#else
    auto y = row(dst, n);
    auto x = row(const_cast<T*>(src), n);
    xt::noalias(y) = xt::tanh(x);
#endif
}

// The backward rows of the fused gates. Restrict-qualified and not inlined: as loops over
// seven buffers with an optional store they stayed scalar behind the compiler's overlap
// checks (perf: the LSTM row was 5% of an LSTMCell step); the buffers are distinct tensors.
template <class T, bool kWantC>
[[gnu::noinline]] void lstm_gates_backward_row(const T* __restrict a, const T* __restrict tanh_c,
                                               const T* __restrict c_prev, const T* __restrict dh,
                                               const T* __restrict dc, T* __restrict d, T* __restrict dc_prev,
                                               std::int64_t H) {
    for (std::int64_t j = 0; j < H; ++j) {
        const T i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
        const T t = tanh_c[j], gh = dh[j];
        // c' feeds h' through tanh and the next step directly.
        const T dct = dc[j] + gh * o * (T(1) - t * t);
        d[j] = dct * g * i * (T(1) - i);
        d[H + j] = dct * c_prev[j] * f * (T(1) - f);
        d[2 * H + j] = dct * i * (T(1) - g * g);
        d[3 * H + j] = gh * t * o * (T(1) - o);
        if constexpr (kWantC) dc_prev[j] = dct * f;
    }
}

template <class T, bool kWantGh, bool kWantH>
[[gnu::noinline]] void gru_gates_backward_row(const T* __restrict a, const T* __restrict h_prev,
                                              const T* __restrict dh, T* __restrict di, T* __restrict dg,
                                              T* __restrict dh_prev, std::int64_t H) {
    for (std::int64_t j = 0; j < H; ++j) {
        const T r = a[j], z = a[H + j], n = a[2 * H + j], ghn = a[3 * H + j];
        const T d = dh[j], hp = h_prev[j];
        const T dn = d * (T(1) - z) * (T(1) - n * n);
        const T dr = dn * ghn * r * (T(1) - r), dz = d * (hp - n) * z * (T(1) - z);
        di[j] = dr;
        di[H + j] = dz;
        di[2 * H + j] = dn;
        if constexpr (kWantGh) {
            dg[j] = dr;
            dg[H + j] = dz;
            dg[2 * H + j] = dn * r;
        }
        if constexpr (kWantH) dh_prev[j] = d * z;
    }
}

void check_no_double_backward(const char* op) {
    TG_CHECK(!GradMode::is_enabled(), op,
             "double backward (create_graph) is not supported through the fused gate op; "
             "write the cell with single ops to differentiate its gradient");
}

void check_2d(const Tensor& t, const char* op, const char* what, std::int64_t rows, std::int64_t cols) {
    TG_CHECK(t.dim() == 2 && t.size(0) == rows && t.size(1) == cols, op, "expected {} of shape [{}, {}], got {}",
             what, rows, cols, t.sizes());
}

// gate_linear's checks: input (N, K), weight (G, K), bias (G) and add (N, G) optional.
void check_gate_linear(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& add) {
    detail::check_defined(input, "gate_linear");
    detail::check_defined(weight, "gate_linear");
    detail::check_floating(input, "gate_linear");
    detail::check_same_dtype(input, weight, "gate_linear");
    TG_CHECK(input.dim() == 2 && weight.dim() == 2 && input.size(1) == weight.size(1), "gate_linear",
             "expected input [N, K] and weight [G, K], got {} and {}", input.sizes(), weight.sizes());
    const std::int64_t N = input.size(0), G = weight.size(0);
    if (bias.defined()) {
        TG_CHECK(bias.sizes() == Shape{G}, "gate_linear", "expected bias of shape [{}], got {}", G, bias.sizes());
        detail::check_same_dtype(input, bias, "gate_linear");
    }
    if (add.defined()) {
        check_2d(add, "gate_linear", "add", N, G);
        detail::check_same_dtype(input, add, "gate_linear");
    }
}

}  // namespace

Tensor gate_linear(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& add) {
    check_gate_linear(input, weight, bias, add);
    return detail::dense("gate_linear", input, weight, detail::WeightLayout::OutIn, bias, add);
}

std::tuple<Tensor, Tensor> lstm_gates(const Tensor& gates, const Tensor& c, double forget_bias) {
    detail::check_defined(gates, "lstm_gates");
    detail::check_defined(c, "lstm_gates");
    detail::check_floating(gates, "lstm_gates");
    detail::check_same_dtype(gates, c, "lstm_gates");
    TG_CHECK(gates.dim() == 2 && gates.size(1) % 4 == 0 && gates.size(1) > 0, "lstm_gates",
             "expected gates of shape [B, 4H], got {}", gates.sizes());
    const std::int64_t B = gates.size(0), H = gates.size(1) / 4;
    check_2d(c, "lstm_gates", "c", B, H);

    const Tensor g_in = gates.detach().contiguous(), c_in = c.detach().contiguous();
    // act holds the activated gates i, f, g, o; tc = tanh(c'), both saved for the backward.
    Tensor act = make_tensor({B, 4 * H}, gates.dtype());
    Tensor tc = make_tensor({B, H}, gates.dtype());
    Tensor h_out = make_tensor({B, H}, gates.dtype());
    Tensor c_out = make_tensor({B, H}, gates.dtype());
    detail::visit_floating(gates.dtype(), "lstm_gates", [&](auto v) {
        using T = decltype(v);
        const T* pg = impl_of(g_in).data_as<T>();
        const T* pc = impl_of(c_in).data_as<T>();
        T* pa = impl_of(act).data_as<T>();
        T* pt = impl_of(tc).data_as<T>();
        T* ph = impl_of(h_out).data_as<T>();
        T* pcn = impl_of(c_out).data_as<T>();
        for_each_gate_row(B, H, [&](std::int64_t b) {
            const T* gr = pg + b * 4 * H;
            T* ar = pa + b * 4 * H;
            sigmoid_into(ar, gr, H);                                    // i
            sigmoid_into(ar + H, gr + H, H, static_cast<T>(forget_bias));  // f
            tanh_into(ar + 2 * H, gr + 2 * H, H);                       // g
            sigmoid_into(ar + 3 * H, gr + 3 * H, H);                    // o
            const T* cr = pc + b * H;
            T* cn = pcn + b * H;
            for (std::int64_t j = 0; j < H; ++j) cn[j] = ar[H + j] * cr[j] + ar[j] * ar[2 * H + j];
            tanh_into(pt + b * H, cn, H);
            const T* tr = pt + b * H;
            T* hr = ph + b * H;
            for (std::int64_t j = 0; j < H; ++j) hr[j] = ar[3 * H + j] * tr[j];
        });
    });

    if (detail::needs_grad(gates, c)) {
        const Tensor inputs[2] = {gates, c};
        detail::record_node(
            "lstm_gates", inputs, 2, {&h_out, &c_out},
            [sa = detail::SavedTensor(act), st = detail::SavedTensor(tc), sc = detail::SavedTensor(c_in), B, H,
             want_c = c.requires_grad()](std::vector<Tensor>& grads) -> detail::GradList {
                check_no_double_backward("lstm_gates");
                const Tensor act = sa.unpack(), tc = st.unpack(), c_prev = sc.unpack();
                const Tensor dh = grads[0].contiguous(), dc = grads[1].contiguous();
                Tensor dgates = make_tensor({B, 4 * H}, act.dtype());
                Tensor dc_prev = want_c ? make_tensor({B, H}, act.dtype()) : Tensor();
                detail::visit_floating(act.dtype(), "lstm_gates", [&](auto v) {
                    using T = decltype(v);
                    const T* pa = impl_of(act).data_as<T>();
                    const T* pt = impl_of(tc).data_as<T>();
                    const T* pc = impl_of(c_prev).data_as<T>();
                    const T* pdh = impl_of(dh).data_as<T>();
                    const T* pdc = impl_of(dc).data_as<T>();
                    T* pdg = impl_of(dgates).data_as<T>();
                    T* pdcp = want_c ? impl_of(dc_prev).data_as<T>() : nullptr;
                    for_each_gate_row(B, H, [&](std::int64_t b) {
                        const T *a = pa + b * 4 * H, *t = pt + b * H, *c = pc + b * H, *gh = pdh + b * H,
                                *gc = pdc + b * H;
                        if (pdcp)
                            lstm_gates_backward_row<T, true>(a, t, c, gh, gc, pdg + b * 4 * H, pdcp + b * H, H);
                        else
                            lstm_gates_backward_row<T, false>(a, t, c, gh, gc, pdg + b * 4 * H, nullptr, H);
                    });
                });
                return {dgates, dc_prev};
            });
    }
    return {h_out, c_out};
}

Tensor gru_gates(const Tensor& gi, const Tensor& gh, const Tensor& h) {
    detail::check_defined(gi, "gru_gates");
    detail::check_defined(gh, "gru_gates");
    detail::check_defined(h, "gru_gates");
    detail::check_floating(gi, "gru_gates");
    detail::check_same_dtype(gi, gh, "gru_gates");
    detail::check_same_dtype(gi, h, "gru_gates");
    TG_CHECK(gi.dim() == 2 && gi.size(1) % 3 == 0 && gi.size(1) > 0, "gru_gates",
             "expected gi of shape [B, 3H], got {}", gi.sizes());
    const std::int64_t B = gi.size(0), H = gi.size(1) / 3;
    check_2d(gh, "gru_gates", "gh", B, 3 * H);
    check_2d(h, "gru_gates", "h", B, H);

    const Tensor gi_in = gi.detach().contiguous(), gh_in = gh.detach().contiguous(), h_in = h.detach().contiguous();
    // act holds r, z, n and gh_n (what the reset gate multiplied) per row.
    Tensor act = make_tensor({B, 4 * H}, gi.dtype());
    Tensor out = make_tensor({B, H}, gi.dtype());
    detail::visit_floating(gi.dtype(), "gru_gates", [&](auto v) {
        using T = decltype(v);
        const T* pi = impl_of(gi_in).data_as<T>();
        const T* pg = impl_of(gh_in).data_as<T>();
        const T* ph = impl_of(h_in).data_as<T>();
        T* pa = impl_of(act).data_as<T>();
        T* po = impl_of(out).data_as<T>();
        for_each_gate_row(B, H, [&](std::int64_t b) {
            const T* ir = pi + b * 3 * H;
            const T* gr = pg + b * 3 * H;
            T* a = pa + b * 4 * H;
            for (std::int64_t j = 0; j < 2 * H; ++j) a[j] = ir[j] + gr[j];
            sigmoid_into(a, a, 2 * H);  // r, z
            for (std::int64_t j = 0; j < H; ++j) {
                a[3 * H + j] = gr[2 * H + j];
                a[2 * H + j] = ir[2 * H + j] + a[j] * gr[2 * H + j];
            }
            tanh_into(a + 2 * H, a + 2 * H, H);  // n
            const T* hr = ph + b * H;
            T* o = po + b * H;
            for (std::int64_t j = 0; j < H; ++j) {
                const T z = a[H + j], n = a[2 * H + j];
                o[j] = n + z * (hr[j] - n);
            }
        });
    });

    if (detail::needs_grad(gi, gh, h)) {
        detail::record(
            "gru_gates", {gi, gh, h}, out,
            [sa = detail::SavedTensor(act), sh = detail::SavedTensor(h_in), B, H, want_gi = gi.requires_grad(),
             want_gh = gh.requires_grad(), want_h = h.requires_grad()](const Tensor& g) -> detail::GradList {
                check_no_double_backward("gru_gates");
                const Tensor act = sa.unpack(), h_prev = sh.unpack(), dh = g.contiguous();
                Tensor dgi = make_tensor({B, 3 * H}, act.dtype());
                Tensor dgh = want_gh ? make_tensor({B, 3 * H}, act.dtype()) : Tensor();
                Tensor dh_prev = want_h ? make_tensor({B, H}, act.dtype()) : Tensor();
                detail::visit_floating(act.dtype(), "gru_gates", [&](auto v) {
                    using T = decltype(v);
                    const T* pa = impl_of(act).data_as<T>();
                    const T* ph = impl_of(h_prev).data_as<T>();
                    const T* pd = impl_of(dh).data_as<T>();
                    T* pdi = impl_of(dgi).data_as<T>();
                    T* pdg = want_gh ? impl_of(dgh).data_as<T>() : nullptr;
                    T* pdh = want_h ? impl_of(dh_prev).data_as<T>() : nullptr;
                    for_each_gate_row(B, H, [&](std::int64_t b) {
                        const T *a = pa + b * 4 * H, *hp = ph + b * H, *d = pd + b * H;
                        T* di = pdi + b * 3 * H;
                        T* dg = pdg ? pdg + b * 3 * H : nullptr;
                        T* dhp = pdh ? pdh + b * H : nullptr;
                        if (dg && dhp) gru_gates_backward_row<T, true, true>(a, hp, d, di, dg, dhp, H);
                        else if (dg) gru_gates_backward_row<T, true, false>(a, hp, d, di, dg, nullptr, H);
                        else if (dhp) gru_gates_backward_row<T, false, true>(a, hp, d, di, nullptr, dhp, H);
                        else gru_gates_backward_row<T, false, false>(a, hp, d, di, nullptr, nullptr, H);
                    });
                });
                return {want_gi ? dgi : Tensor(), dgh, dh_prev};
            });
    }
    return out;
}

}  // namespace tg::nn::functional

namespace tg::detail {

struct StepWeightGrads {
    bool claimed = false;          // the first step's node has been recorded
    std::vector<Tensor> grads;     // (B, G) gate gradients of the steps run so far
    std::vector<Tensor> inputs;    // (B, K) inputs of those steps
};

std::shared_ptr<StepWeightGrads> make_step_weight_grads() { return std::make_shared<StepWeightGrads>(); }

Tensor step_gate_linear(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& add,
                        const std::shared_ptr<StepWeightGrads>& shared) {
    nn::functional::check_gate_linear(input, weight, bias, add);
    // The node recorded first is run last by the backward (see docs/design.md, "the RNN
    // weight-gradient collector"): it is the one that collects.
    const bool collector = needs_grad(input, weight, bias, add) && !shared->claimed;
    if (collector) shared->claimed = true;
    auto weight_grad = [collector, shared](const Tensor& g, const Tensor& x) -> Tensor {
        if (GradMode::is_enabled()) return mm(g.t(), x);  // create_graph: a differentiable gradient per step
        shared->grads.push_back(g);
        shared->inputs.push_back(x);
        if (!collector) return {};
        // Every later step has run (each feeds this one's input): one GEMM (G, S*B) x
        // (S*B, K) for all of them.
        const Tensor gs = stack(shared->grads, 0), xs = stack(shared->inputs, 0);
        const std::int64_t rows = gs.size(0) * gs.size(1);
        Tensor dw = mm(gs.view({rows, gs.size(2)}).t(), xs.view({rows, xs.size(2)}));
        shared->grads.clear();
        shared->inputs.clear();
        return dw;
    };
    return dense("gate_linear", input, weight, WeightLayout::OutIn, bias, add, 1.0, 1.0, std::move(weight_grad));
}

}  // namespace tg::detail
