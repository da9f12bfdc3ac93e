// 2-D max and average pooling over (N, C, H, W) (or (C, H, W)) inputs.
//
// Max pooling saves, per output cell, the flat index (h * W + w) of the winner in its
// plane; its backward scatters the gradient there, and the adjoint of that scatter is a
// gather at the same indices, so both are recorded ops (double backward works).
// Average pooling is linear: its backward is its adjoint (spread each gradient over the
// window), whose backward is the forward again. Adaptive average pooling and nearest
// upsampling (at the end of the file) are linear too and pair with their adjoints the same way.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "autograd/record.hpp"
#include "ops/kernel_helpers.hpp"
#include "ops/nearest.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/parallel.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::nn::functional {

using detail::GradList;
using detail::SavedTensor;
using detail::raw;
using detail::spatial_pair;

namespace {

struct PoolGeom {
    std::int64_t planes, H, W;  // planes = N * C
    std::int64_t kh, kw, sh, sw;
    std::int64_t dh = 1, dw = 1;  // dilation (max pooling only): window cell i reads row h0 + i * dh
    std::int64_t pt, pl;  // leading padding (trailing padding only shapes OH / OW)
    std::int64_t OH, OW;
    bool count_include_pad = true;
    std::int64_t padded_h, padded_w;  // H + pt + pb, W + pl + pr
    Shape in_shape, out_shape;        // of the 4-D view
};

// Output cells along one dim: floor or, in ceil_mode, ceil of (padded - kernel) / stride,
// plus one; ceil_mode drops a last window that would start past the input and the leading
// padding (libtorch's rule, so such a window never reads only trailing padding).
std::int64_t pool_out_size(std::int64_t in, std::int64_t lead_pad, std::int64_t padded, std::int64_t k, std::int64_t s,
                           bool ceil_mode) {
    std::int64_t out = (padded - k + (ceil_mode ? s - 1 : 0)) / s + 1;
    if (ceil_mode && (out - 1) * s >= in + lead_pad) --out;
    return out;
}

// Validates a 4-D input and builds the geometry. `pad` is top, bottom, left, right.
PoolGeom pool_geom(const Tensor& x, const Shape& kernel, const Shape& stride, const Padding2d& pad,
                   const char* op, bool ceil_mode = false, const Shape& dilation = {1, 1}) {
    detail::check_floating(x, op);
    const auto [kh, kw] = spatial_pair(kernel, "kernel size", op, 1);
    const auto [sh, sw] = spatial_pair(stride.empty() ? kernel : stride, "stride", op, 1);
    PoolGeom g{};
    g.planes = x.sizes()[0] * x.sizes()[1], g.H = x.sizes()[2], g.W = x.sizes()[3];
    const auto [dh, dw] = spatial_pair(dilation, "dilation", op, 1);
    g.kh = kh, g.kw = kw, g.sh = sh, g.sw = sw, g.dh = dh, g.dw = dw, g.pt = pad.top, g.pl = pad.left;
    g.padded_h = g.H + pad.top + pad.bottom, g.padded_w = g.W + pad.left + pad.right;
    const std::int64_t ext_h = dh * (kh - 1) + 1, ext_w = dw * (kw - 1) + 1;  // the dilated window
    TG_CHECK(ext_h <= g.padded_h && ext_w <= g.padded_w, op,
             "kernel {}x{} (dilated {}x{}) is larger than the padded input {}x{} (input shape {})", kh, kw, ext_h,
             ext_w, g.padded_h, g.padded_w, x.sizes());
    g.OH = pool_out_size(g.H, g.pt, g.padded_h, ext_h, sh, ceil_mode);
    g.OW = pool_out_size(g.W, g.pl, g.padded_w, ext_w, sw, ceil_mode);
    g.in_shape = x.sizes();
    g.out_shape = {x.sizes()[0], x.sizes()[1], g.OH, g.OW};
    return g;
}

// Runs `pool` on a 4-D view of a 3-D (C, H, W) or 4-D input.
template <class F>
Tensor on_4d(const Tensor& input, const char* op, F&& pool) {
    detail::check_defined(input, op);
    TG_CHECK(input.dim() == 3 || input.dim() == 4, op, "input must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {}",
             input.sizes());
    if (input.dim() == 3) return squeeze(pool(unsqueeze(input, 0)), 0);
    return pool(input);
}

// Calls body(p) for every plane p < planes, the planes shared among threads
// (tensor/parallel.hpp) in chunks of at least grain::cheap input elements. A plane's output
// is written by one thread only, so results are the same bits at any thread count.
template <class Body>
void for_each_plane(std::int64_t planes, std::int64_t plane_elements, Body&& body) {
    const std::int64_t per_chunk = std::max<std::int64_t>(1, detail::grain::cheap / std::max<std::int64_t>(1, plane_elements));
    detail::parallel_for(planes, per_chunk, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t p = begin; p < end; ++p) body(p);
    });
}

// The loop shape every pooling kernel shares: calls cell(j, hs, he, ws, we, scale) for each
// output cell j = oh * OW + ow of one plane, with its window [hs, he) x [ws, we) clipped to
// the input and, for averaging, 1 / the count it is divided by.
template <class F>
void for_each_window(const PoolGeom& g, F&& cell) {
    for (std::int64_t oh = 0; oh < g.OH; ++oh) {
        const std::int64_t h0 = oh * g.sh - g.pt;
        const std::int64_t hs = std::max<std::int64_t>(h0, 0), he = std::min(h0 + g.kh, g.H);
        const std::int64_t ph = std::min(h0 + g.kh, g.padded_h - g.pt) - h0;  // rows inside the padded input
        for (std::int64_t ow = 0; ow < g.OW; ++ow) {
            const std::int64_t w0 = ow * g.sw - g.pl;
            const std::int64_t ws = std::max<std::int64_t>(w0, 0), we = std::min(w0 + g.kw, g.W);
            const std::int64_t pw = std::min(w0 + g.kw, g.padded_w - g.pl) - w0;
            const std::int64_t count = g.count_include_pad ? ph * pw : (he - hs) * (we - ws);
            cell(oh * g.OW + ow, hs, he, ws, we, count > 0 ? 1.0 / static_cast<double>(count) : 0.0);
        }
    }
}

// The (N * C) planes of a 4-D input and its output size: shared by adaptive pooling and nearest upsampling.
struct ResizeGeom {
    std::int64_t planes, H, W, OH, OW;
    Shape in_shape, out_shape;
};

ResizeGeom resize_geom(const Tensor& x, std::int64_t OH, std::int64_t OW) {
    return {x.sizes()[0] * x.sizes()[1], x.sizes()[2], x.sizes()[3], OH, OW, x.sizes(),
            {x.sizes()[0], x.sizes()[1], OH, OW}};
}

// libtorch's adaptive windows: output cell i covers [floor(i * in / out), ceil((i + 1) * in / out)).
std::int64_t window_start(std::int64_t i, std::int64_t in, std::int64_t out) { return i * in / out; }
std::int64_t window_end(std::int64_t i, std::int64_t in, std::int64_t out) { return ((i + 1) * in + out - 1) / out; }

// for_each_window for adaptive pooling: scale = 1 / window size.
template <class F>
void for_each_window(const ResizeGeom& g, F&& cell) {
    for (std::int64_t oh = 0; oh < g.OH; ++oh) {
        const std::int64_t hs = window_start(oh, g.H, g.OH), he = window_end(oh, g.H, g.OH);
        for (std::int64_t ow = 0; ow < g.OW; ++ow) {
            const std::int64_t ws = window_start(ow, g.W, g.OW), we = window_end(ow, g.W, g.OW);
            cell(oh * g.OW + ow, hs, he, ws, we, 1.0 / static_cast<double>((he - hs) * (we - ws)));
        }
    }
}

// ---- max pooling ------------------------------------------------------------------------

// A map from output cells to input cells, walked plane by plane as walk(p, fn): fn(in, at)
// for every output offset `at` of plane p that reads input offset `in` (of plane p too). Its two linear ops are the gather out[at] = x[in]
// (0 where nothing is read) and its adjoint, the scatter-add dx[in] += grad[at]; each records
// the other as its backward. Max pooling's winners and nearest upsampling's sources are such maps.
template <class Walk>
struct IndexMap {
    Walk walk;
    std::int64_t planes, in_plane;  // in_plane: input elements per plane (the grain)
    Shape in_shape, out_shape;
    const char* op;                           // for dtype errors
    const char *gather_node, *scatter_node;  // node names: string literals
};

template <bool Scatter, class Walk>
Tensor apply_index_map(const Tensor& t, const IndexMap<Walk>& m) {
    const Tensor ct = raw(t);
    Tensor result = make_tensor(Scatter ? m.in_shape : m.out_shape, t.dtype());  // zeroed plane by plane
    const std::int64_t result_plane = m.planes > 0 ? result.numel() / m.planes : 0;
    detail::visit_floating(t.dtype(), m.op, [&](auto v) {
        using T = decltype(v);
        const T* src = impl_of(ct).data_as<T>();
        T* dst = impl_of(result).data_as<T>();
        for_each_plane(m.planes, m.in_plane, [&](std::int64_t p) {
            std::fill_n(dst + p * result_plane, result_plane, T(0));  // cells no window reads stay 0
            if constexpr (Scatter)
                m.walk(p, [&](std::int64_t in, std::int64_t at) { dst[in] += src[at]; });
            else
                m.walk(p, [&](std::int64_t in, std::int64_t at) { dst[at] = src[in]; });
        });
    });
    if (detail::needs_grad(t))
        detail::record(Scatter ? m.scatter_node : m.gather_node, {t}, result, [m](const Tensor& h) -> GradList {
            return {apply_index_map<!Scatter>(h, m)};
        });
    return result;
}

// Max pooling's map: output cell j of plane p reads its window's winner, indices[p, j] (none
// where -1: a window wholly in the padding).
auto winners(const Tensor& indices, const PoolGeom& g) {
    auto walk = [indices, g](std::int64_t p, auto&& fn) {
        const auto* pi = impl_of(indices).data_as<std::int64_t>();
        const std::int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
        for (std::int64_t j = 0; j < out_plane; ++j) {
            const std::int64_t i = pi[p * out_plane + j];
            if (i >= 0) fn(p * in_plane + i, p * out_plane + j);
        }
    };
    return IndexMap<decltype(walk)>{walk, g.planes, g.H * g.W, g.in_shape, g.out_shape, "max_pool2d",
                                    "max_pool2d_gather", "max_pool2d_backward"};
}

// One plane's max pooling when every window lies inside the input (no padding: the usual
// case), by direct indexing; KH and KW are the window size when known at compile time (the
// 2x2 and 3x3 windows of most networks, whose loops then unroll) and 0 otherwise. Same
// winner as the general loop below: the first maximum, or the first NaN (NaN propagates,
// like libtorch).
template <class T, int KH, int KW>
void max_pool_plane_inside(const PoolGeom& g, const T* plane, T* po, std::int64_t* pi) {
    using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;  // a value's bits
    const std::int64_t kh = KH ? KH : g.kh, kw = KW ? KW : g.kw, W = g.W;
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
        for (std::int64_t ow = 0; ow < g.OW; ++ow) {
            const std::int64_t start = oh * g.sh * W + ow * g.sw;
            T best = plane[start];
            std::int64_t arg = start;
            for (std::int64_t i = 0; i < kh; ++i)
                for (std::int64_t j = 0; j < kw; ++j) {
                    const std::int64_t at = start + i * W + j;
                    const T val = plane[at];
                    // Selects, not a branch: on real activations which cell wins is a coin
                    // toss, and mispredicted branches made this loop 20% of a CNN's step.
                    const bool take = (val > best) | ((val != val) & (best == best));  // NaN wins and propagates
                    const std::int64_t mask = -static_cast<std::int64_t>(take);
                    arg = (at & mask) | (arg & ~mask);
                    const auto value_mask = static_cast<Bits>(mask);
                    best = std::bit_cast<T>((std::bit_cast<Bits>(val) & value_mask) |
                                            (std::bit_cast<Bits>(best) & ~value_mask));
                }
            po[oh * g.OW + ow] = best;
            pi[oh * g.OW + ow] = arg;
        }
}

// The 2x2 window with stride 2 (most CNNs' pooling), one output row at a time over the two
// input rows it reads. Written without data-dependent branches (the winner of a window
// is a coin toss on real activations, and mispredicted branches made max pooling 20% of a
// CNN step): the maximum by selects, then its first position by arithmetic on equality
// tests. A window holding a NaN (rare) is redone by the general rule, so the result is the
// same as max_pool_plane_inside's: the first maximum in row-major order, or the first NaN.
template <class T>
void max_pool_plane_2x2(const PoolGeom& g, const T* plane, T* po, std::int64_t* pi) {
    const std::int64_t W = g.W, OW = g.OW, OH = g.OH;
    for (std::int64_t oh = 0; oh < OH; ++oh) {
        const T* r0 = plane + 2 * oh * W;
        const T* r1 = r0 + W;
        T* out = po + oh * OW;
        std::int64_t* idx = pi + oh * OW;
        const std::int64_t base = 2 * oh * W;
        bool saw_nan = false;
        for (std::int64_t ow = 0; ow < OW; ++ow) {
            const T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
            // Strict comparisons keep the earlier cell on ties: the first maximum wins.
            const std::int64_t right_top = b > a, right_bottom = d > c;
            const T top = b > a ? b : a, bottom = d > c ? d : c;
            const std::int64_t lower = bottom > top;
            out[ow] = bottom > top ? bottom : top;
            idx[ow] = base + 2 * ow + lower * (W + right_bottom) + (1 - lower) * right_top;
            saw_nan |= (a != a) | (b != b) | (c != c) | (d != d);
        }
        if (!saw_nan) continue;
        for (std::int64_t ow = 0; ow < OW; ++ow) {
            const std::int64_t cells[4] = {base + 2 * ow, base + 2 * ow + 1, base + W + 2 * ow, base + W + 2 * ow + 1};
            for (std::int64_t at : cells)
                if (plane[at] != plane[at]) {
                    out[ow] = plane[at];
                    idx[ow] = at;
                    break;
                }
        }
    }
}

// One plane, any geometry: windows clipped to the input; a window entirely in the padding
// gives 0 with index -1.
template <class T>
void max_pool_plane(const PoolGeom& g, const T* plane, T* po, std::int64_t* pi) {
    for_each_window(g, [&](std::int64_t j, std::int64_t hs, std::int64_t he, std::int64_t ws, std::int64_t we, double) {
        T best = -std::numeric_limits<T>::infinity();
        std::int64_t arg = -1;
        for (std::int64_t h = hs; h < he; ++h)
            for (std::int64_t w = ws; w < we; ++w) {
                const T val = plane[h * g.W + w];
                if (arg < 0 || val > best || (val != val && best == best)) {
                    best = val;
                    arg = h * g.W + w;
                }
            }
        po[j] = arg >= 0 ? best : T(0);
        pi[j] = arg;
    });
}

// One plane with a dilated window: cell (i, j) of the window at (oh, ow) reads input
// (oh * sh - pt + i * dh, ow * sw - pl + j * dw); cells in the padding are skipped. The same
// winner rule as above (first maximum, or the first NaN).
template <class T>
void max_pool_plane_dilated(const PoolGeom& g, const T* plane, T* po, std::int64_t* pi) {
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
        for (std::int64_t ow = 0; ow < g.OW; ++ow) {
            T best = -std::numeric_limits<T>::infinity();
            std::int64_t arg = -1;
            for (std::int64_t i = 0; i < g.kh; ++i) {
                const std::int64_t h = oh * g.sh - g.pt + i * g.dh;
                if (h < 0 || h >= g.H) continue;
                for (std::int64_t j = 0; j < g.kw; ++j) {
                    const std::int64_t w = ow * g.sw - g.pl + j * g.dw;
                    if (w < 0 || w >= g.W) continue;
                    const T val = plane[h * g.W + w];
                    if (arg < 0 || val > best || (val != val && best == best)) {
                        best = val;
                        arg = h * g.W + w;
                    }
                }
            }
            po[oh * g.OW + ow] = arg >= 0 ? best : T(0);
            pi[oh * g.OW + ow] = arg;
        }
}

Tensor max_pool_forward(const Tensor& x, const PoolGeom& g) {
    const Tensor cx = raw(x);
    Tensor out = make_tensor(g.out_shape, x.dtype());
    Tensor indices = make_tensor(g.out_shape, kInt64);
    const bool inside = g.pt == 0 && g.pl == 0 && (g.OH - 1) * g.sh + g.kh <= g.H && (g.OW - 1) * g.sw + g.kw <= g.W;
    detail::visit_floating(x.dtype(), "max_pool2d", [&](auto v) {
        using T = decltype(v);
        auto plane_kernel = g.dh != 1 || g.dw != 1     ? &max_pool_plane_dilated<T>
                            : !inside                   ? &max_pool_plane<T>
                            : g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 ? &max_pool_plane_2x2<T>
                            : g.kh == 2 && g.kw == 2 ? &max_pool_plane_inside<T, 2, 2>
                            : g.kh == 3 && g.kw == 3 ? &max_pool_plane_inside<T, 3, 3>
                                                     : &max_pool_plane_inside<T, 0, 0>;
        const T* px = impl_of(cx).data_as<T>();
        T* po = impl_of(out).data_as<T>();
        auto* pi = impl_of(indices).data_as<std::int64_t>();
        const std::int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
        for_each_plane(g.planes, in_plane,
                       [&](std::int64_t p) { plane_kernel(g, px + p * in_plane, po + p * out_plane, pi + p * out_plane); });
    });
    if (detail::needs_grad(x))
        detail::record("max_pool2d", {x}, out, [m = winners(indices, g)](const Tensor& grad) -> GradList {
            return {apply_index_map<true>(grad, m)};
        });
    return out;
}

// ---- average pooling --------------------------------------------------------------------

// Window means, for avg_pool2d (PoolGeom: fixed windows) and adaptive_avg_pool2d
// (ResizeGeom: libtorch's adaptive windows), and their adjoints: each is the other's backward.
struct WindowMeanOp {
    const char* forward;   // node names: string literals
    const char* backward;
};
constexpr WindowMeanOp kAvgPool{"avg_pool2d", "avg_pool2d_backward"};
constexpr WindowMeanOp kAdaptiveAvgPool{"adaptive_avg_pool2d", "adaptive_avg_pool2d_backward"};

// The window mean (Adjoint false: out[j] = scale[j] * sum of x over window j) and its adjoint
// (Adjoint true: dx[window j] += scale[j] * grad[j]) walk the same windows; each records the
// other as its backward.
template <bool Adjoint, class Geom>
Tensor window_mean_pass(const Tensor& t, const Geom& g, const WindowMeanOp& op) {
    const Tensor ct = raw(t);
    // The adjoint accumulates window by window, from zero; the mean writes every cell once.
    Tensor out = Adjoint ? zeros(g.in_shape, t.dtype()) : make_tensor(g.out_shape, t.dtype());
    const std::int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
    detail::visit_floating(t.dtype(), op.forward, [&](auto v) {
        using T = decltype(v);
        for_each_plane(g.planes, in_plane, [&](std::int64_t p) {
            const T* src = impl_of(ct).data_as<T>() + p * (Adjoint ? out_plane : in_plane);
            T* dst = impl_of(out).data_as<T>() + p * (Adjoint ? in_plane : out_plane);
            for_each_window(g, [&](std::int64_t j, std::int64_t hs, std::int64_t he, std::int64_t ws,
                                   std::int64_t we, double scale) {
                if constexpr (Adjoint) {
                    const T share = static_cast<T>(src[j] * scale);
                    for (std::int64_t h = hs; h < he; ++h)
                        for (std::int64_t w = ws; w < we; ++w) dst[h * g.W + w] += share;
                } else {
                    double sum = 0;
                    for (std::int64_t h = hs; h < he; ++h)
                        for (std::int64_t w = ws; w < we; ++w) sum += src[h * g.W + w];
                    dst[j] = static_cast<T>(sum * scale);
                }
            });
        });
    });
    if (detail::needs_grad(t))
        detail::record(Adjoint ? op.backward : op.forward, {t}, out, [g, op](const Tensor& h) -> GradList {
            return {window_mean_pass<!Adjoint>(h, g, op)};
        });
    return out;
}

template <class Geom>
Tensor window_mean(const Tensor& x, const Geom& g, const WindowMeanOp& op) {
    return window_mean_pass<false>(x, g, op);
}

Padding2d symmetric(const Shape& padding, const char* op) {
    const auto [ph, pw] = spatial_pair(padding, "padding", op, 0);
    return {ph, ph, pw, pw};
}

// Explicit pooling padding: symmetric, and at most half the kernel (libtorch's rule).
Padding2d pool_padding(const Shape& padding, const Shape& kernel, const char* op) {
    const Padding2d pad = symmetric(padding, op);
    const auto [kh, kw] = spatial_pair(kernel, "kernel size", op, 1);
    TG_CHECK(2 * pad.top <= kh && 2 * pad.left <= kw, op, "padding {} must be at most half the kernel size {}",
             padding, kernel);
    return pad;
}

// The windows of TF's padding modes; an empty stride is the kernel (TF's pooling default).
PoolGeom tf_pool_geom(const Tensor& x, const Shape& kernel, const Shape& stride, Padding padding, const char* op) {
    const Shape& s = stride.empty() ? kernel : stride;
    return pool_geom(x, kernel, s, tf_padding(padding, x.sizes()[2], x.sizes()[3], kernel, s), op);
}

// The trace attributes of a pooling op with TF's padding: the mode and the pads it comes to.
detail::TraceAttrs tf_pool_attrs(const Tensor& input, const Shape& kernel, const Shape& stride, Padding padding) {
    const Padding2d pads = tf_padding(padding, input.size(-2), input.size(-1), kernel, stride.empty() ? kernel : stride);
    return {{"kernel", kernel},
            {"stride", stride},
            {"padding_mode", padding == Padding::Same ? "same" : "valid"},
            {"pads", Shape{pads.top, pads.left, pads.bottom, pads.right}}};
}

// A pooling op with TF's padding: pool(x, windows) pools one 4-D input; the trace records the
// mode and the pads it comes to.
template <class Pool>
Tensor tf_pool(const Tensor& input, const Shape& kernel, const Shape& stride, Padding padding, const char* op,
               Pool pool) {
    Tensor out = on_4d(input, op, [&](const Tensor& x) { return pool(x, tf_pool_geom(x, kernel, stride, padding, op)); });
    TG_TRACE(op, {input}, out, tf_pool_attrs(input, kernel, stride, padding));
    return out;
}

}  // namespace

Tensor max_pool2d(const Tensor& input, const Shape& kernel, const Shape& stride, const Shape& padding,
                  const Shape& dilation, bool ceil_mode) {
    Tensor out = on_4d(input, "max_pool2d", [&](const Tensor& x) {
        const Padding2d pad = pool_padding(padding, kernel, "max_pool2d");
        return max_pool_forward(x, pool_geom(x, kernel, stride, pad, "max_pool2d", ceil_mode, dilation));
    });
    TG_TRACE("max_pool2d", {input}, out,
             {{"kernel", kernel}, {"stride", stride}, {"padding", padding}, {"dilation", dilation},
              {"ceil_mode", ceil_mode}});
    return out;
}

Tensor max_pool2d(const Tensor& input, const Shape& kernel, const Shape& stride, Padding padding) {
    return tf_pool(input, kernel, stride, padding, "max_pool2d",
                   [](const Tensor& x, const PoolGeom& g) { return max_pool_forward(x, g); });
}

Tensor avg_pool2d(const Tensor& input, const Shape& kernel, const Shape& stride, const Shape& padding,
                  bool ceil_mode, bool count_include_pad) {
    Tensor out = on_4d(input, "avg_pool2d", [&](const Tensor& x) {
        const Padding2d pad = pool_padding(padding, kernel, "avg_pool2d");
        PoolGeom g = pool_geom(x, kernel, stride, pad, "avg_pool2d", ceil_mode);
        g.count_include_pad = count_include_pad;
        return window_mean(x, g, kAvgPool);
    });
    TG_TRACE("avg_pool2d", {input}, out,
             {{"kernel", kernel}, {"stride", stride}, {"padding", padding}, {"ceil_mode", ceil_mode},
              {"count_include_pad", count_include_pad}});
    return out;
}

Tensor avg_pool2d(const Tensor& input, const Shape& kernel, const Shape& stride, Padding padding) {
    return tf_pool(input, kernel, stride, padding, "avg_pool2d", [](const Tensor& x, PoolGeom g) {
        g.count_include_pad = false;  // TF averages over the cells inside the input
        return window_mean(x, g, kAvgPool);
    });
}

// ---- adaptive average pooling and nearest upsampling --------------------------------------

namespace {

// Nearest upsampling reads input row src_h[oh] and column src_w[ow] for output cell (oh, ow).
struct NearestGeom {
    ResizeGeom size;
    std::vector<std::int64_t> src_h, src_w;
};

// Nearest upsampling's map: output cell (oh, ow) of plane p reads (src_h[oh], src_w[ow]).
auto sources(const std::shared_ptr<const NearestGeom>& g) {
    auto walk = [g](std::int64_t p, auto&& fn) {
        const ResizeGeom& r = g->size;
        for (std::int64_t oh = 0; oh < r.OH; ++oh) {
            const std::int64_t row = p * r.H * r.W + g->src_h[static_cast<std::size_t>(oh)] * r.W;
            const std::int64_t out_row = (p * r.OH + oh) * r.OW;
            for (std::int64_t ow = 0; ow < r.OW; ++ow) fn(row + g->src_w[static_cast<std::size_t>(ow)], out_row + ow);
        }
    };
    return IndexMap<decltype(walk)>{walk, g->size.planes, g->size.H * g->size.W, g->size.in_shape,
                                    g->size.out_shape, "upsample_nearest2d", "upsample_nearest2d",
                                    "upsample_nearest2d_backward"};
}

Tensor upsample_nearest(const Tensor& input, std::int64_t OH, std::int64_t OW, std::optional<double> fh,
                        std::optional<double> fw) {
    Tensor out = on_4d(input, "upsample_nearest2d", [&](const Tensor& x) {
        detail::check_floating(x, "upsample_nearest2d");
        TG_CHECK(OH > 0 && OW > 0, "upsample_nearest2d", "output size {}x{} of input shape {} must be positive", OH,
                 OW, input.sizes());
        TG_CHECK(x.sizes()[2] > 0 && x.sizes()[3] > 0, "upsample_nearest2d", "input shape {} has an empty plane",
                 input.sizes());
        auto g = std::make_shared<NearestGeom>();
        g->size = resize_geom(x, OH, OW);
        g->src_h = detail::nearest_sources(g->size.H, OH, fh);
        g->src_w = detail::nearest_sources(g->size.W, OW, fw);
        return apply_index_map<false>(x, sources(g));
    });
    // A size-given resize records scale 0 (none): the kernel then takes the output size.
    TG_TRACE("upsample_nearest2d", {input}, out,
             {{"output_size", Shape{OH, OW}}, {"scale_h", fh.value_or(0.0)}, {"scale_w", fw.value_or(0.0)}});
    return out;
}

}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& input, const Shape& output_size) {
    Tensor out = on_4d(input, "adaptive_avg_pool2d", [&](const Tensor& x) {
        detail::check_floating(x, "adaptive_avg_pool2d");
        const auto [oh, ow] = spatial_pair(output_size, "output_size", "adaptive_avg_pool2d", 1);
        TG_CHECK(x.sizes()[2] > 0 && x.sizes()[3] > 0, "adaptive_avg_pool2d", "input shape {} has an empty plane",
                 input.sizes());
        return window_mean(x, resize_geom(x, oh, ow), kAdaptiveAvgPool);
    });
    TG_TRACE("adaptive_avg_pool2d", {input}, out, {{"output_size", output_size}});
    return out;
}

Tensor upsample_nearest2d(const Tensor& input, const Shape& output_size) {
    const auto [oh, ow] = spatial_pair(output_size, "output_size", "upsample_nearest2d", 1);
    return upsample_nearest(input, oh, ow, std::nullopt, std::nullopt);
}

Tensor upsample_nearest2d(const Tensor& input, double scale_h, double scale_w) {
    detail::check_defined(input, "upsample_nearest2d");
    TG_CHECK(scale_h > 0 && scale_w > 0 && std::isfinite(scale_h) && std::isfinite(scale_w), "upsample_nearest2d",
             "scale factors must be positive, got {} and {} (input shape {})", scale_h, scale_w, input.sizes());
    TG_CHECK(input.dim() == 3 || input.dim() == 4, "upsample_nearest2d",
             "input must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {}", input.sizes());
    const std::int64_t H = input.size(-2), W = input.size(-1);
    const auto oh = static_cast<std::int64_t>(std::floor(static_cast<double>(H) * scale_h));
    const auto ow = static_cast<std::int64_t>(std::floor(static_cast<double>(W) * scale_w));
    return upsample_nearest(input, oh, ow, scale_h, scale_w);
}

}  // namespace tg::nn::functional

namespace tg::detail {

std::vector<std::int64_t> nearest_sources(std::int64_t in, std::int64_t out, std::optional<double> factor) {
    std::vector<std::int64_t> src(static_cast<std::size_t>(out));
    for (std::int64_t o = 0; o < out; ++o) {
        const std::int64_t i = factor ? static_cast<std::int64_t>(std::floor(static_cast<double>(o) / *factor))
                                      : o * in / out;
        src[static_cast<std::size_t>(o)] = std::min(i, in - 1);
    }
    return src;
}

}  // namespace tg::detail
