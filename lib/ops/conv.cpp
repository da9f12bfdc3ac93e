// 2-D convolution and its transpose (im2col + the library GEMM, tensor/gemm.hpp).
//
// Convolution as one matrix product: im2col lays the input out as columns
// (C*kh*kw, N*OH*OW), one row per (channel, kernel cell), so that
//   out^T (O, N*OH*OW) = weight (O, C*kh*kw) @ columns.
// Folding the batch into the columns makes one large GEMM instead of N small ones (the
// batch is chunked when the columns would outgrow kColumnBudget). The backward is two
// more GEMMs: weight grad = grad^T @ columns^T, input grad = col2im(weight^T @ grad^T).
//
// Three recorded ops are adjoint to each other, so each one's backward is written with
// the others and double backward works:
//   conv_forward(x, w)       = conv(x, w)
//   conv_input_grad(g, w)    = d<conv(x, w), g>/dx
//   conv_weight_grad(x, g)   = d<conv(x, w), g>/dw
// conv_transpose2d(y, w) is conv_input_grad(y, w) with the geometry of the conv2d it is the
// adjoint of (weight (C_in, C_out / groups, kh, kw) is that conv2d's (O, C / groups, kh, kw)).
//
// Groups: im2col's rows are ordered (channel, kernel cell), so group k's columns are the
// contiguous block of rows [k * C/groups * kh * kw, (k + 1) * ...), and its weight rows and
// output rows are contiguous too: each of the three products is one GEMM per group on
// offsets into the same buffers, with no copies. unfold / fold (F::unfold, F::fold) are
// im2col / col2im themselves as a pair of adjoint recorded ops.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "autograd/record.hpp"
#include "ops/kernel_helpers.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/aligned_buffer.hpp"
#include "tensor/direct_conv.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/gemm.hpp"
#include "tensor/tensor_impl.hpp"
#include "tensor/trace.hpp"

namespace tg::nn::functional {

using detail::GradList;
using detail::SavedTensor;
using detail::raw;
using detail::spatial_pair;
using detail::Transpose;

// ---- padding and geometry ----------------------------------------------------------------

namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {  // b > 0, any sign of a
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

// TF's "same" for one dim: out = ceil(in / stride), odd padding pixel after.
std::pair<std::int64_t, std::int64_t> tf_same_1d(std::int64_t in, std::int64_t k, std::int64_t s,
                                                 std::int64_t d) {
    const std::int64_t out = ceil_div(in, s);
    const std::int64_t total = std::max<std::int64_t>((out - 1) * s + (k - 1) * d + 1 - in, 0);
    return {total / 2, total - total / 2};
}

}  // namespace

Padding2d tf_padding(Padding mode, std::int64_t in_h, std::int64_t in_w, const Shape& kernel, const Shape& stride,
                     const Shape& dilation) {
    const auto [kh, kw] = spatial_pair(kernel, "kernel size", "tf_padding", 1);
    const auto [sh, sw] = spatial_pair(stride, "stride", "tf_padding", 1);
    const auto [dh, dw] = spatial_pair(dilation, "dilation", "tf_padding", 1);
    if (mode == Padding::Valid) return {};
    const auto [t, b] = tf_same_1d(in_h, kh, sh, dh);
    const auto [l, r] = tf_same_1d(in_w, kw, sw, dw);
    return {t, b, l, r};
}

namespace {

struct ConvGeom {
    std::int64_t N, C, H, W;     // input
    std::int64_t O, kh, kw;      // weight
    std::int64_t sh, sw, dh, dw;
    std::int64_t pt, pb, pl, pr;
    std::int64_t OH, OW;
    std::int64_t groups = 1;
    std::int64_t ck() const { return C * kh * kw; }              // im2col rows, all channels
    std::int64_t group_k() const { return ck() / groups; }       // one group's rows = a weight row's length
    std::int64_t group_o() const { return O / groups; }          // one group's output channels
    std::int64_t L() const { return OH * OW; }
    Shape input_shape() const { return {N, C, H, W}; }
    Shape weight_shape() const { return {O, C / groups, kh, kw}; }
    Shape output_shape() const { return {N, O, OH, OW}; }
};

// Columns are capped at this many elements per chunk of the batch (16 MB of float32): big
// enough for GEMMs of thousands of columns, small enough to stay a modest scratch.
constexpr std::int64_t kColumnBudget = std::int64_t{4} << 20;

// Per-thread scratch for the im2col columns and the (O, nb * L) rows around the GEMMs,
// kept between calls (tensor/aligned_buffer.hpp says why). Only the kernels below touch it,
// never a tapegrad op, so nested convolutions (double backward) cannot alias it while it
// is in use.
enum ScratchSlot { kColumns, kRows };

template <class T>
T* scratch(ScratchSlot slot, std::int64_t count) {
    thread_local detail::ScratchBuffer buffers[2];
    return static_cast<T*>(buffers[slot].get(static_cast<std::size_t>(std::max<std::int64_t>(count, 1)) * sizeof(T)));
}

std::int64_t batch_chunk(const ConvGeom& g) {
    const std::int64_t per_sample = std::max<std::int64_t>(g.ck() * g.L(), 1);
    return std::clamp<std::int64_t>(kColumnBudget / per_sample, 1, std::max<std::int64_t>(g.N, 1));
}

// The output columns [lo, hi) whose input column ow * sw - pl + kj * dw lies in [0, W).
std::pair<std::int64_t, std::int64_t> valid_range(std::int64_t offset, std::int64_t stride, std::int64_t in,
                                                  std::int64_t out) {
    const std::int64_t lo = std::clamp<std::int64_t>(ceil_div(-offset, stride), 0, out);
    const std::int64_t hi = std::clamp<std::int64_t>(ceil_div(in - offset, stride), lo, out);
    return {lo, hi};
}

// Visits every (column row, sample, output row) of samples [n0, n0 + nb) with the input
// row it reads (null when that row is padding) and the column segment it fills; `row`
// then handles the OW entries with the precomputed valid range, so the inner loop has no
// bounds checks or index arithmetic beyond a stride.
template <class T, class RowFn>
void for_each_column_row(const ConvGeom& g, T* input, T* cols, std::int64_t n0, std::int64_t nb, RowFn&& row) {
    const std::int64_t L = g.L(), plane = g.H * g.W;
    for (std::int64_t c = 0; c < g.C; ++c)
        for (std::int64_t ki = 0; ki < g.kh; ++ki)
            for (std::int64_t kj = 0; kj < g.kw; ++kj) {
                const std::int64_t r = (c * g.kh + ki) * g.kw + kj;
                const std::int64_t col_offset = kj * g.dw - g.pl;
                const auto [lo, hi] = valid_range(col_offset, g.sw, g.W, g.OW);
                for (std::int64_t n = 0; n < nb; ++n) {
                    T* dst = cols + r * nb * L + n * L;
                    T* src_plane = input + ((n0 + n) * g.C + c) * plane;
                    for (std::int64_t oh = 0; oh < g.OH; ++oh) {
                        const std::int64_t ih = oh * g.sh - g.pt + ki * g.dh;
                        T* src = ih >= 0 && ih < g.H ? src_plane + ih * g.W + col_offset : nullptr;
                        row(dst + oh * g.OW, src, lo, hi);
                    }
                }
            }
}

// cols (ck, nb * L) from input samples [n0, n0 + nb).
template <class T>
void im2col(const ConvGeom& g, const T* input, T* cols, std::int64_t n0, std::int64_t nb) {
    const std::int64_t sw = g.sw, OW = g.OW;
    for_each_column_row(g, const_cast<T*>(input), cols, n0, nb,
                        [&](T* dst, const T* src, std::int64_t lo, std::int64_t hi) {
                            if (!src) {
                                std::fill(dst, dst + OW, T(0));
                                return;
                            }
                            std::fill(dst, dst + lo, T(0));
                            if (sw == 1)
                                std::memcpy(dst + lo, src + lo, static_cast<std::size_t>(hi - lo) * sizeof(T));
                            else
                                for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * sw];
                            std::fill(dst + hi, dst + OW, T(0));
                        });
}

// input samples [n0, n0 + nb) += the columns scattered back (the adjoint of im2col).
template <class T>
void col2im(const ConvGeom& g, T* input, const T* cols, std::int64_t n0, std::int64_t nb) {
    const std::int64_t sw = g.sw;
    for_each_column_row(g, input, const_cast<T*>(cols), n0, nb,
                        [&](const T* col, T* dst, std::int64_t lo, std::int64_t hi) {
                            if (!dst) return;
                            if (sw == 1)
                                for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow] += col[ow];
                            else
                                for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow * sw] += col[ow];
                        });
}

// (N, O, L) samples [n0, n0 + nb) <-> (O, nb * L): the layout change around the GEMMs.
template <class T>
void batch_to_rows(const T* nol, T* rows, std::int64_t n0, std::int64_t nb, std::int64_t O, std::int64_t L) {
    for (std::int64_t n = 0; n < nb; ++n)
        for (std::int64_t o = 0; o < O; ++o)
            std::memcpy(rows + o * nb * L + n * L, nol + ((n0 + n) * O + o) * L, static_cast<std::size_t>(L) * sizeof(T));
}

// Walks the batch in chunks of batch_chunk(g) samples, calling fn(n0, nb, grad_rows, cols)
// with the output gradient of samples [n0, n0 + nb) laid out as (O, nb * L) rows (the
// layout the GEMMs want) and a scratch buffer for nb samples' im2col columns. Shared by
// both backward products.
template <class T, class ChunkFn>
void for_each_grad_chunk(const ConvGeom& g, const T* grad, ChunkFn&& fn) {
    const std::int64_t L = g.L(), chunk = batch_chunk(g);
    T* cols = scratch<T>(kColumns, g.ck() * chunk * L);
    T* rows = chunk == 1 ? nullptr : scratch<T>(kRows, g.O * chunk * L);
    for (std::int64_t n0 = 0; n0 < g.N; n0 += chunk) {
        const std::int64_t nb = std::min(chunk, g.N - n0);
        const T* src = grad + n0 * g.O * L;
        if (nb > 1) {
            batch_to_rows(grad, rows, n0, nb, g.O, L);
            src = rows;
        }
        fn(n0, nb, src, cols);
    }
}

// The geometry as the direct (oneDNN) kernels take it.
detail::ConvGeometry direct(const ConvGeom& g) {
    return {g.N, g.C, g.H, g.W, g.O, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, g.OH, g.OW, g.groups};
}

Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeom& g);
// `op` names the recorded node: conv_transpose2d is this op called on its own.
Tensor conv_input_grad(const Tensor& grad, const Tensor& w, const ConvGeom& g, const char* op = "conv2d_input_grad");
Tensor conv_weight_grad(const Tensor& x, const Tensor& grad, const ConvGeom& g);

Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeom& g) {
    const Tensor cx = raw(x), cw = raw(w), cb = bias.defined() ? raw(bias) : Tensor();
    Tensor out = make_tensor(g.output_shape(), x.dtype());
    detail::visit_floating(x.dtype(), "conv2d", [&](auto v) {
        using T = decltype(v);
        const std::int64_t ck = g.ck(), L = g.L(), chunk = batch_chunk(g);
        const T* px = impl_of(cx).data_as<T>();
        const T* pw = impl_of(cw).data_as<T>();
        const T* pb = cb.defined() ? impl_of(cb).data_as<T>() : nullptr;
        T* po = impl_of(out).data_as<T>();
        if constexpr (std::is_same_v<T, float>)
            if (detail::direct_conv_forward(direct(g), px, pw, pb, po)) return;
        T* pc = scratch<T>(kColumns, ck * chunk * L);
        T* rows = chunk == 1 ? nullptr : scratch<T>(kRows, g.O * chunk * L);
        for (std::int64_t n0 = 0; n0 < g.N; n0 += chunk) {
            const std::int64_t nb = std::min(chunk, g.N - n0);
            im2col(g, px, pc, n0, nb);
            // One sample writes its (O, L) block in place; several go through `rows`.
            T* dst = nb == 1 ? po + n0 * g.O * L : rows;
            const std::int64_t gk = g.group_k(), go = g.group_o(), cols = nb * L;
            for (std::int64_t k = 0; k < g.groups; ++k)
                detail::gemm<T>(Transpose::No, Transpose::No, go, cols, gk, T(1), pw + k * go * gk, gk, pc + k * gk * cols,
                                cols, T(0), dst + k * go * cols, cols);
            if (nb == 1 && !pb) continue;  // already in place, nothing to add
            for (std::int64_t n = 0; n < nb; ++n)
                for (std::int64_t o = 0; o < g.O; ++o) {
                    T* out_row = po + ((n0 + n) * g.O + o) * L;
                    const T* src = nb == 1 ? out_row : dst + o * nb * L + n * L;
                    const T b = pb ? pb[o] : T(0);
                    for (std::int64_t l = 0; l < L; ++l) out_row[l] = src[l] + b;
                }
        }
    });
    const bool has_bias = bias.defined();
    if (detail::needs_grad(x, w) || (has_bias && detail::needs_grad(bias))) {
        const bool rx = x.requires_grad(), rw = w.requires_grad(), rb = has_bias && bias.requires_grad();
        // The bias is an input (and gets a gradient slot) only when there is one.
        std::vector<Tensor> inputs{x, w};
        if (has_bias) inputs.push_back(bias);
        detail::record("conv2d", inputs, out,
                       [sx = SavedTensor(rw ? x : Tensor()), sw = SavedTensor(rx ? w : Tensor()), rx, rw, rb, has_bias,
                        g](const Tensor& grad) -> GradList {
                           GradList grads{rx ? conv_input_grad(grad, sw.unpack(), g) : Tensor(),
                                          rw ? conv_weight_grad(sx.unpack(), grad, g) : Tensor()};
                           if (has_bias) grads.push_back(rb ? sum(grad, {0, 2, 3}) : Tensor());
                           return grads;
                       });
    }
    return out;
}

// d<conv(x, w), grad>/dx = col2im(w^T @ grad^T)
Tensor conv_input_grad(const Tensor& grad, const Tensor& w, const ConvGeom& g, const char* op) {
    const Tensor cg = raw(grad), cw = raw(w);
    // The direct kernel overwrites dx; col2im accumulates into it, so it starts at zero there.
    Tensor dx = make_tensor(g.input_shape(), grad.dtype());
    detail::visit_floating(grad.dtype(), "conv2d", [&](auto v) {
        using T = decltype(v);
        const std::int64_t L = g.L();
        const T* pw = impl_of(cw).data_as<T>();
        if constexpr (std::is_same_v<T, float>)
            if (detail::direct_conv_backward_data(direct(g), impl_of(cg).data_as<T>(), pw, impl_of(dx).data_as<T>()))
                return;
        std::fill_n(impl_of(dx).data_as<T>(), dx.numel(), T(0));
        for_each_grad_chunk<T>(g, impl_of(cg).data_as<T>(),
                               [&](std::int64_t n0, std::int64_t nb, const T* src, T* pc) {
                                   const std::int64_t gk = g.group_k(), go = g.group_o(), cols = nb * L;
                                   for (std::int64_t k = 0; k < g.groups; ++k)
                                       detail::gemm<T>(Transpose::Yes, Transpose::No, gk, cols, go, T(1), pw + k * go * gk,
                                                       gk, src + k * go * cols, cols, T(0), pc + k * gk * cols, cols);
                                   col2im(g, impl_of(dx).data_as<T>(), pc, n0, nb);
                               });
    });
    if (detail::needs_grad(grad, w))
        detail::record(op, {grad, w}, dx,
                       [sg = SavedTensor(w.requires_grad() ? grad : Tensor()),
                        sw = SavedTensor(grad.requires_grad() ? w : Tensor()), rg = grad.requires_grad(),
                        rw = w.requires_grad(), g](const Tensor& h) -> GradList {
                           return {rg ? conv_forward(h, sw.unpack(), Tensor(), g) : Tensor(),
                                   rw ? conv_weight_grad(h, sg.unpack(), g) : Tensor()};
                       });
    return dx;
}

// d<conv(x, w), grad>/dw = grad^T @ im2col(x)^T
Tensor conv_weight_grad(const Tensor& x, const Tensor& grad, const ConvGeom& g) {
    const Tensor cx = raw(x), cg = raw(grad);
    // The direct kernel overwrites dw; the GEMMs accumulate chunk by chunk, from zero.
    Tensor dw = make_tensor(g.weight_shape(), x.dtype());
    detail::visit_floating(x.dtype(), "conv2d", [&](auto v) {
        using T = decltype(v);
        const std::int64_t L = g.L();
        const T* px = impl_of(cx).data_as<T>();
        if constexpr (std::is_same_v<T, float>)
            if (detail::direct_conv_backward_weights(direct(g), px, impl_of(cg).data_as<T>(), impl_of(dw).data_as<T>()))
                return;
        std::fill_n(impl_of(dw).data_as<T>(), dw.numel(), T(0));
        for_each_grad_chunk<T>(g, impl_of(cg).data_as<T>(),
                               [&](std::int64_t n0, std::int64_t nb, const T* src, T* pc) {
                                   im2col(g, px, pc, n0, nb);
                                   const std::int64_t gk = g.group_k(), go = g.group_o(), cols = nb * L;
                                   T* pdw = impl_of(dw).data_as<T>();
                                   for (std::int64_t k = 0; k < g.groups; ++k)
                                       detail::gemm<T>(Transpose::No, Transpose::Yes, go, gk, cols, T(1), src + k * go * cols,
                                                       cols, pc + k * gk * cols, cols, T(1), pdw + k * go * gk, gk);
                               });
    });
    if (detail::needs_grad(x, grad))
        detail::record("conv2d_weight_grad", {x, grad}, dw,
                       [sx = SavedTensor(grad.requires_grad() ? x : Tensor()),
                        sg = SavedTensor(x.requires_grad() ? grad : Tensor()), rx = x.requires_grad(),
                        rg = grad.requires_grad(), g](const Tensor& h) -> GradList {
                           return {rx ? conv_input_grad(sg.unpack(), h, g) : Tensor(),
                                   rg ? conv_forward(sx.unpack(), h, Tensor(), g) : Tensor()};
                       });
    return dw;
}

Tensor conv2d_impl(const Tensor& input, const Tensor& weight, const Tensor& bias, const Shape& stride,
                   const Padding2d& pad, const Shape& dilation, std::int64_t groups) {
    detail::check_defined(input, "conv2d");
    detail::check_defined(weight, "conv2d");
    TG_CHECK(input.dim() == 4, "conv2d", "input must be 4-D (N, C, H, W), got shape {}", input.sizes());
    TG_CHECK(weight.dim() == 4, "conv2d", "weight must be 4-D (out_channels, in_channels, kh, kw), got shape {}",
             weight.sizes());
    detail::check_floating(input, "conv2d");
    detail::check_same_dtype(input, weight, "conv2d");
    TG_CHECK(groups > 0, "conv2d", "groups must be positive, got {} (input shape {}, weight shape {})", groups,
             input.sizes(), weight.sizes());
    TG_CHECK(input.sizes()[1] == weight.sizes()[1] * groups, "conv2d",
             "input shape {} has {} channels but weight shape {} with groups = {} expects {} input channels "
             "(weight dim 1 times groups)",
             input.sizes(), input.sizes()[1], weight.sizes(), groups, weight.sizes()[1] * groups);
    TG_CHECK(weight.sizes()[0] % groups == 0, "conv2d",
             "weight shape {} has {} output channels, not divisible by groups = {} (input shape {})", weight.sizes(),
             weight.sizes()[0], groups, input.sizes());
    if (bias.defined()) {
        detail::check_same_dtype(input, bias, "conv2d");
        TG_CHECK(bias.dim() == 1 && bias.sizes()[0] == weight.sizes()[0], "conv2d",
                 "bias shape {} does not match weight shape {} (expected [{}])", bias.sizes(), weight.sizes(),
                 weight.sizes()[0]);
    }
    const auto [sh, sw] = spatial_pair(stride, "stride", "conv2d", 1);
    const auto [dh, dw] = spatial_pair(dilation, "dilation", "conv2d", 1);
    TG_CHECK(pad.top >= 0 && pad.bottom >= 0 && pad.left >= 0 && pad.right >= 0, "conv2d",
             "padding must be non-negative, got top {} bottom {} left {} right {}", pad.top, pad.bottom, pad.left,
             pad.right);
    ConvGeom g{};
    g.N = input.sizes()[0], g.C = input.sizes()[1], g.H = input.sizes()[2], g.W = input.sizes()[3];
    g.O = weight.sizes()[0], g.kh = weight.sizes()[2], g.kw = weight.sizes()[3];
    g.sh = sh, g.sw = sw, g.dh = dh, g.dw = dw;
    g.groups = groups;
    g.pt = pad.top, g.pb = pad.bottom, g.pl = pad.left, g.pr = pad.right;
    const std::int64_t ext_h = (g.kh - 1) * dh + 1, ext_w = (g.kw - 1) * dw + 1;
    const std::int64_t padded_h = g.H + g.pt + g.pb, padded_w = g.W + g.pl + g.pr;
    TG_CHECK(ext_h <= padded_h && ext_w <= padded_w, "conv2d",
             "kernel {}x{} (dilated {}x{}) is larger than the padded input {}x{} (input shape {}, weight shape {})",
             g.kh, g.kw, ext_h, ext_w, padded_h, padded_w, input.sizes(), weight.sizes());
    g.OH = (padded_h - ext_h) / sh + 1;
    g.OW = (padded_w - ext_w) / sw + 1;
    return conv_forward(input, weight, bias, g);
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Shape& stride,
              const Shape& padding, const Shape& dilation, std::int64_t groups) {
    const auto [ph, pw] = spatial_pair(padding, "padding", "conv2d", 0);
    Tensor out = conv2d_impl(input, weight, bias, stride, Padding2d{ph, ph, pw, pw}, dilation, groups);
    TG_TRACE("conv2d", {input, weight, bias}, out,
             {{"stride", stride}, {"padding", Shape{ph, pw}}, {"dilation", dilation}, {"pads", Shape{ph, pw, ph, pw}},
              {"groups", groups}});
    return out;
}

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Shape& stride,
              Padding padding, const Shape& dilation, std::int64_t groups) {
    detail::check_defined(input, "conv2d");
    detail::check_defined(weight, "conv2d");
    TG_CHECK(input.dim() == 4 && weight.dim() == 4, "conv2d",
             "expected a 4-D input and weight, got shapes {} and {}", input.sizes(), weight.sizes());
    const Padding2d pad = tf_padding(padding, input.sizes()[2], input.sizes()[3],
                                     {weight.sizes()[2], weight.sizes()[3]}, stride, dilation);
    Tensor out = conv2d_impl(input, weight, bias, stride, pad, dilation, groups);
    TG_TRACE("conv2d", {input, weight, bias}, out,
             {{"stride", stride}, {"padding_mode", padding == Padding::Same ? "same" : "valid"}, {"dilation", dilation},
              {"pads", Shape{pad.top, pad.left, pad.bottom, pad.right}}, {"groups", groups}});
    return out;
}

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Shape& stride,
                        const Shape& padding, const Shape& output_padding, std::int64_t groups,
                        const Shape& dilation) {
    constexpr const char* op = "conv_transpose2d";
    detail::check_defined(input, op);
    detail::check_defined(weight, op);
    TG_CHECK(input.dim() == 4, op, "input must be 4-D (N, C_in, H, W), got shape {}", input.sizes());
    TG_CHECK(weight.dim() == 4, op, "weight must be 4-D (in_channels, out_channels, kh, kw), got shape {}",
             weight.sizes());
    detail::check_floating(input, op);
    detail::check_same_dtype(input, weight, op);
    TG_CHECK(input.sizes()[1] == weight.sizes()[0], op,
             "input shape {} has {} channels but weight shape {} expects {} input channels (its dim 0)",
             input.sizes(), input.sizes()[1], weight.sizes(), weight.sizes()[0]);
    TG_CHECK(groups > 0 && weight.sizes()[0] % groups == 0, op,
             "groups = {} must be positive and divide the {} input channels (input shape {}, weight shape {})", groups,
             weight.sizes()[0], input.sizes(), weight.sizes());
    const std::int64_t out_channels = weight.sizes()[1] * groups;
    if (bias.defined()) {
        detail::check_same_dtype(input, bias, op);
        TG_CHECK(bias.dim() == 1 && bias.sizes()[0] == out_channels, op,
                 "bias shape {} does not match weight shape {} with groups = {} (expected [{}], the out_channels)",
                 bias.sizes(), weight.sizes(), groups, out_channels);
    }
    const auto [sh, sw] = spatial_pair(stride, "stride", op, 1);
    const auto [ph, pw] = spatial_pair(padding, "padding", op, 0);
    const auto [oph, opw] = spatial_pair(output_padding, "output_padding", op, 0);
    const auto [dh, dw] = spatial_pair(dilation, "dilation", op, 1);
    // output_padding < stride keeps this conv2d geometry the exact adjoint (the extra rows
    // are the ones conv2d's floor division drops).
    TG_CHECK(oph < sh && opw < sw, op, "output_padding {} must be smaller than stride {}", output_padding, stride);
    ConvGeom g{};
    g.N = input.sizes()[0], g.O = input.sizes()[1], g.OH = input.sizes()[2], g.OW = input.sizes()[3];
    g.C = out_channels, g.kh = weight.sizes()[2], g.kw = weight.sizes()[3];
    g.sh = sh, g.sw = sw, g.dh = dh, g.dw = dw;
    g.groups = groups;
    g.pt = g.pb = ph, g.pl = g.pr = pw;
    g.H = (g.OH - 1) * sh - 2 * ph + dh * (g.kh - 1) + oph + 1;
    g.W = (g.OW - 1) * sw - 2 * pw + dw * (g.kw - 1) + opw + 1;
    TG_CHECK(g.OH > 0 && g.OW > 0 && g.H > 0 && g.W > 0, op,
             "output size {}x{} is not positive (input shape {}, weight shape {}, stride {}, padding {})", g.H, g.W,
             input.sizes(), weight.sizes(), stride, padding);
    Tensor out = conv_input_grad(input, weight, g, op);
    if (bias.defined()) out = out + reshape(bias, {1, g.C, 1, 1});
    TG_TRACE(op, {input, weight, bias}, out,
             {{"stride", stride}, {"padding", padding}, {"output_padding", output_padding}, {"groups", groups},
              {"dilation", dilation}});
    return out;
}

// ---- unfold / fold: im2col and col2im as ops ----------------------------------------------

namespace {

// The (N, C * kh * kw, L) columns of one batch <-> its (N, C, H, W) images; each one's
// backward is the other.
Tensor fold_columns(const Tensor& cols, const ConvGeom& g);

Tensor unfold_columns(const Tensor& x, const ConvGeom& g) {
    const Tensor cx = raw(x);
    const std::int64_t ck = g.ck(), L = g.L();
    Tensor out = make_tensor({g.N, ck, L}, x.dtype());
    detail::visit_floating(x.dtype(), "unfold", [&](auto v) {
        using T = decltype(v);
        for (std::int64_t n = 0; n < g.N; ++n)
            im2col(g, impl_of(cx).data_as<T>(), impl_of(out).data_as<T>() + n * ck * L, n, 1);
    });
    if (detail::needs_grad(x))
        detail::record("unfold", {x}, out, [g](const Tensor& grad) -> GradList { return {fold_columns(grad, g)}; });
    return out;
}

Tensor fold_columns(const Tensor& cols, const ConvGeom& g) {
    const Tensor cc = raw(cols);
    const std::int64_t ck = g.ck(), L = g.L();
    Tensor out = zeros(g.input_shape(), cols.dtype());
    detail::visit_floating(cols.dtype(), "fold", [&](auto v) {
        using T = decltype(v);
        for (std::int64_t n = 0; n < g.N; ++n)
            col2im(g, impl_of(out).data_as<T>(), impl_of(cc).data_as<T>() + n * ck * L, n, 1);
    });
    if (detail::needs_grad(cols))
        detail::record("fold", {cols}, out, [g](const Tensor& grad) -> GradList { return {unfold_columns(grad, g)}; });
    return out;
}

// The sliding-window geometry of unfold / fold over an (N, C, H, W) image.
ConvGeom window_geom(std::int64_t N, std::int64_t C, std::int64_t H, std::int64_t W, const Shape& kernel_size,
                     const Shape& dilation, const Shape& padding, const Shape& stride, const char* op,
                     const Shape& input_shape) {
    const auto [kh, kw] = spatial_pair(kernel_size, "kernel_size", op, 1);
    const auto [dh, dw] = spatial_pair(dilation, "dilation", op, 1);
    const auto [ph, pw] = spatial_pair(padding, "padding", op, 0);
    const auto [sh, sw] = spatial_pair(stride, "stride", op, 1);
    ConvGeom g{};
    g.N = N, g.C = C, g.H = H, g.W = W, g.O = 0, g.kh = kh, g.kw = kw;
    g.sh = sh, g.sw = sw, g.dh = dh, g.dw = dw;
    g.pt = g.pb = ph, g.pl = g.pr = pw;
    g.OH = (H + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
    g.OW = (W + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    TG_CHECK(H + 2 * ph >= dh * (kh - 1) + 1 && W + 2 * pw >= dw * (kw - 1) + 1, op,
             "kernel {} (dilation {}) does not fit the padded {}x{} image (input shape {}, padding {})", kernel_size,
             dilation, H + 2 * ph, W + 2 * pw, input_shape, padding);
    return g;
}

}  // namespace

Tensor unfold(const Tensor& input, const Shape& kernel_size, const Shape& dilation, const Shape& padding,
              const Shape& stride) {
    constexpr const char* op = "unfold";
    detail::check_defined(input, op);
    TG_CHECK(input.dim() == 3 || input.dim() == 4, op, "input must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {}",
             input.sizes());
    detail::check_floating(input, op);
    const Tensor x = input.dim() == 3 ? unsqueeze(input, 0) : input;
    const ConvGeom g = window_geom(x.size(0), x.size(1), x.size(2), x.size(3), kernel_size, dilation, padding, stride,
                                   op, input.sizes());
    Tensor out = unfold_columns(x, g);
    if (input.dim() == 3) out = squeeze(out, 0);
    TG_TRACE("unfold", {input}, out,
             {{"kernel_size", kernel_size}, {"dilation", dilation}, {"padding", padding}, {"stride", stride}});
    return out;
}

Tensor fold(const Tensor& input, const Shape& output_size, const Shape& kernel_size, const Shape& dilation,
            const Shape& padding, const Shape& stride) {
    constexpr const char* op = "fold";
    detail::check_defined(input, op);
    TG_CHECK(input.dim() == 2 || input.dim() == 3, op,
             "input must be 2-D (C * kh * kw, L) or 3-D (N, C * kh * kw, L), got shape {}", input.sizes());
    detail::check_floating(input, op);
    const Tensor cols = input.dim() == 2 ? unsqueeze(input, 0) : input;
    const auto [kh, kw] = spatial_pair(kernel_size, "kernel_size", op, 1);
    const auto [H, W] = spatial_pair(output_size, "output_size", op, 1);
    TG_CHECK(cols.size(1) % (kh * kw) == 0, op,
             "input shape {} has {} rows in dim {}, not a multiple of the kernel's {} x {} cells", input.sizes(),
             cols.size(1), input.dim() - 2, kh, kw);
    const ConvGeom g = window_geom(cols.size(0), cols.size(1) / (kh * kw), H, W, kernel_size, dilation, padding,
                                   stride, op, input.sizes());
    TG_CHECK(cols.size(2) == g.L(), op,
             "input shape {} has {} columns but output_size {} with kernel {} gives {} x {} = {} windows",
             input.sizes(), cols.size(2), output_size, kernel_size, g.OH, g.OW, g.L());
    Tensor out = fold_columns(cols, g);
    if (input.dim() == 2) out = squeeze(out, 0);
    TG_TRACE("fold", {input}, out,
             {{"output_size", output_size}, {"kernel_size", kernel_size}, {"dilation", dilation},
              {"padding", padding}, {"stride", stride}});
    return out;
}

}  // namespace tg::nn::functional
