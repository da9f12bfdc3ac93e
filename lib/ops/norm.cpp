// Batch normalisation over (N, C, *) inputs: statistics per channel C, over the batch and
// every trailing (spatial) dim; layer normalisation (at the end of the file) per row of the
// trailing normalized_shape dims, with the same fused-kernel / create_graph split.
//
// Training runs one fused kernel forward (statistics accumulated in double) and, for an
// ordinary backward, one fused kernel back, with the textbook formula
//   dx = w * invstd * (g - mean(g) - xhat * mean(g * xhat)),  dw = sum(g * xhat),  db = sum(g)
// (means and sums per channel). When the backward itself is being recorded
// (create_graph), the same formula is written with tapegrad ops from the saved input, so
// the statistics are differentiated too. Eval mode is an affine map with constants from
// the running statistics, written with tapegrad ops.
#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/record.hpp"
#include "ops/kernel_helpers.hpp"
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

namespace {

// What a norm node's backward returns: x's gradient, then weight's when the node has a weight
// and bias's when it has a bias (the order it recorded its inputs in).
GradList norm_grads(Tensor dx, const Tensor& weight, Tensor dweight, bool has_bias, Tensor dbias) {
    GradList grads{std::move(dx)};
    if (weight.defined()) grads.push_back(std::move(dweight));
    if (has_bias) grads.push_back(std::move(dbias));
    return grads;
}

struct NormGeom {
    std::int64_t N, C, S;  // batch, channels, elements per (sample, channel)
    std::int64_t count() const { return N * S; }
    Shape reduce_dims;  // {0, 2, 3, ...}
    Shape stat_shape;   // {1, C, 1, 1, ...}: a per-channel tensor broadcast over the input
};

NormGeom norm_geom(const Tensor& x) {
    NormGeom g{};
    g.N = x.sizes()[0], g.C = x.sizes()[1], g.S = 1;
    g.reduce_dims = {0};
    g.stat_shape = {1, g.C};
    for (std::int64_t d = 2; d < x.dim(); ++d) {
        g.S *= x.sizes()[static_cast<std::size_t>(d)];
        g.reduce_dims.push_back(d);
        g.stat_shape.push_back(1);
    }
    return g;
}

// Channels (batch norm) or rows (layer norm) per parallel chunk: parallel.hpp's row grain.
std::int64_t rows_per_chunk(std::int64_t elements_per_row) {
    return std::max<std::int64_t>(1, detail::grain::row_elements / std::max<std::int64_t>(1, elements_per_row));
}

// The backward written with tapegrad ops (recorded: used under create_graph).
GradList batch_norm_backward_graph(const Tensor& grad, const Tensor& x, const Tensor& weight, bool has_bias,
                                   const NormGeom& g, double eps) {
    const double m = static_cast<double>(g.count());
    const Tensor mean_x = mean(x, g.reduce_dims, true);
    const Tensor centered = x - mean_x;
    const Tensor invstd = pow(mean(centered * centered, g.reduce_dims, true) + eps, -0.5);
    const Tensor xhat = centered * invstd;
    const Tensor sum_g = sum(grad, g.reduce_dims, true);
    const Tensor sum_gx = sum(grad * xhat, g.reduce_dims, true);
    const Tensor scale = weight.defined() ? reshape(weight, g.stat_shape) * invstd : invstd;
    return norm_grads(x.requires_grad() ? scale * (grad - sum_g / m - xhat * (sum_gx / m)) : Tensor(), weight,
                      weight.defined() && weight.requires_grad() ? reshape(sum_gx, {g.C}) : Tensor(), has_bias,
                      has_bias ? reshape(sum_g, {g.C}) : Tensor());
}

// Adds f(row[i]) for i < n into 8 running sums, element i into sum i % 8: independent
// chains the compiler turns into vector adds (one double sum is a chain of dependent adds,
// 4 cycles each: it made batch norm ~2 ns per element). Same order, same bits, every call.
template <class T, class F>
void add_to_lanes(const T* row, std::int64_t n, double (&lanes)[8], F&& f) {
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) lanes[l] += f(row[i + l], i + l);
    for (; i < n; ++i) lanes[i % 8] += f(row[i], i);
}

double lanes_total(const double (&lanes)[8]) {
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// Training forward: y = (x - mean) * invstd * w + b with batch statistics; fills
// `mean` / `var` (biased) per channel.
Tensor batch_norm_train(const Tensor& input, const Tensor& weight, const Tensor& bias, const NormGeom& g,
                        double eps, std::vector<double>& mean_c, std::vector<double>& var_c) {
    const Tensor cx = raw(input);
    const Tensor cw = weight.defined() ? raw(weight) : Tensor(), cb = bias.defined() ? raw(bias) : Tensor();
    Tensor out = make_tensor(input.sizes(), input.dtype());
    mean_c.assign(static_cast<std::size_t>(g.C), 0.0);
    var_c.assign(static_cast<std::size_t>(g.C), 0.0);
    detail::visit_floating(input.dtype(), "batch_norm", [&](auto v) {
        using T = decltype(v);
        const T* px = impl_of(cx).data_as<T>();
        T* po = impl_of(out).data_as<T>();
        const double m = static_cast<double>(g.count());
        // channels are independent: shared among threads, same bits at any thread count
        detail::parallel_for(g.C, rows_per_chunk(g.count()), [&](std::int64_t c_begin, std::int64_t c_end) {
            for (std::int64_t c = c_begin; c < c_end; ++c) {
                double s[8] = {};
                for (std::int64_t n = 0; n < g.N; ++n)
                    add_to_lanes(px + (n * g.C + c) * g.S, g.S, s, [](T v, std::int64_t) { return double(v); });
                const double mu = lanes_total(s) / m;
                double sq[8] = {};  // two passes: no cancellation for data far from zero
                for (std::int64_t n = 0; n < g.N; ++n)
                    add_to_lanes(px + (n * g.C + c) * g.S, g.S, sq, [mu](T v, std::int64_t) {
                        const double d = double(v) - mu;
                        return d * d;
                    });
                const double var = lanes_total(sq) / m;
                mean_c[static_cast<std::size_t>(c)] = mu;
                var_c[static_cast<std::size_t>(c)] = var;
                const double invstd = 1.0 / std::sqrt(var + eps);
                const double w = cw.defined() ? static_cast<double>(impl_of(cw).data_as<T>()[c]) : 1.0;
                const double b = cb.defined() ? static_cast<double>(impl_of(cb).data_as<T>()[c]) : 0.0;
                const T scale = static_cast<T>(w * invstd), shift = static_cast<T>(b - mu * w * invstd);
                for (std::int64_t n = 0; n < g.N; ++n) {
                    const T* row = px + (n * g.C + c) * g.S;
                    T* orow = po + (n * g.C + c) * g.S;
                    for (std::int64_t i = 0; i < g.S; ++i) orow[i] = row[i] * scale + shift;
                }
            }
        });
    });
    return out;
}

// The fused training backward: one pass for the two channel sums, one for dx.
GradList batch_norm_backward_fused(const Tensor& grad, const Tensor& x, const Tensor& weight, bool has_bias,
                                   const NormGeom& g, const std::vector<double>& mean_c,
                                   const std::vector<double>& invstd_c) {
    const Tensor cg = raw(grad), cx = raw(x), cw = weight.defined() ? raw(weight) : Tensor();
    const bool want_x = x.requires_grad(), want_w = weight.defined() && weight.requires_grad();
    Tensor dx = want_x ? make_tensor(x.sizes(), x.dtype()) : Tensor();
    Tensor dw = want_w ? make_tensor({g.C}, x.dtype()) : Tensor();
    Tensor db = has_bias ? make_tensor({g.C}, x.dtype()) : Tensor();
    detail::visit_floating(x.dtype(), "batch_norm", [&](auto v) {
        using T = decltype(v);
        const T* pg = impl_of(cg).data_as<T>();
        const T* px = impl_of(cx).data_as<T>();
        const double m = static_cast<double>(g.count());
        detail::parallel_for(g.C, rows_per_chunk(g.count()), [&](std::int64_t c_begin, std::int64_t c_end) {
            for (std::int64_t c = c_begin; c < c_end; ++c) {
                const double mu = mean_c[static_cast<std::size_t>(c)], invstd = invstd_c[static_cast<std::size_t>(c)];
                double lanes_g[8] = {}, lanes_gc[8] = {};  // sum(g), sum(g * (x - mean))
                for (std::int64_t n = 0; n < g.N; ++n) {
                    const std::int64_t off = (n * g.C + c) * g.S;
                    const T* xr = px + off;
                    add_to_lanes(pg + off, g.S, lanes_g, [](T v, std::int64_t) { return double(v); });
                    add_to_lanes(pg + off, g.S, lanes_gc,
                                 [xr, mu](T v, std::int64_t i) { return double(v) * (double(xr[i]) - mu); });
                }
                const double sum_g = lanes_total(lanes_g), sum_gc = lanes_total(lanes_gc);
                if (want_w) impl_of(dw).data_as<T>()[c] = static_cast<T>(sum_gc * invstd);
                if (has_bias) impl_of(db).data_as<T>()[c] = static_cast<T>(sum_g);
                if (!want_x) continue;
                const double w = cw.defined() ? static_cast<double>(impl_of(cw).data_as<T>()[c]) : 1.0;
                // dx = k * (g - sum_g / m - (x - mean) * invstd^2 * sum_gc / m), k = w * invstd
                const T k = static_cast<T>(w * invstd);
                const T a = static_cast<T>(invstd * invstd * sum_gc / m);
                const T b = static_cast<T>(sum_g / m - mu * invstd * invstd * sum_gc / m);
                T* pd = impl_of(dx).data_as<T>();
                for (std::int64_t n = 0; n < g.N; ++n) {
                    const std::int64_t off = (n * g.C + c) * g.S;
                    for (std::int64_t i = 0; i < g.S; ++i) pd[off + i] = k * (pg[off + i] - px[off + i] * a - b);
                }
            }
        });
    });
    return norm_grads(dx, weight, dw, has_bias, db);
}

void check_channel_tensor(const Tensor& t, const char* what, const Tensor& input) {
    if (!t.defined()) return;
    TG_CHECK(t.dim() == 1 && t.sizes()[0] == input.sizes()[1], "batch_norm",
             "{} must have shape [{}] (the channels of input shape {}), got shape {}", what, input.sizes()[1],
             input.sizes(), t.sizes());
    TG_CHECK(t.dtype() == input.dtype(), "batch_norm", "{} has dtype {} but the input has dtype {}", what,
             dtype_name(t.dtype()), dtype_name(input.dtype()));
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
    detail::check_defined(input, "batch_norm");
    TG_CHECK(input.dim() >= 2, "batch_norm", "input must be (N, C) or (N, C, H, W), got shape {}", input.sizes());
    detail::check_floating(input, "batch_norm");
    check_channel_tensor(running_mean, "running_mean", input);
    check_channel_tensor(running_var, "running_var", input);
    check_channel_tensor(weight, "weight", input);
    check_channel_tensor(bias, "bias", input);
    TG_CHECK(running_mean.defined() == running_var.defined(), "batch_norm",
             "running_mean and running_var must both be given or both be undefined");
    TG_CHECK(eps > 0, "batch_norm", "eps must be positive, got {}", eps);
    const NormGeom g = norm_geom(input);
    const bool has_running = running_mean.defined();

    if (!training && has_running) {
        // y = x * scale + shift with scale = w / sqrt(running_var + eps), shift = b - running_mean * scale
        Tensor invstd = make_tensor({g.C}, input.dtype());
        const Tensor rv = raw(running_var);
        detail::visit_floating(input.dtype(), "batch_norm", [&](auto v) {
            using T = decltype(v);
            for (std::int64_t c = 0; c < g.C; ++c)
                impl_of(invstd).data_as<T>()[c] =
                    static_cast<T>(1.0 / std::sqrt(static_cast<double>(impl_of(rv).data_as<T>()[c]) + eps));
        });
        const Tensor scale = weight.defined() ? weight * invstd : invstd;
        Tensor shift = neg(running_mean.detach() * scale);
        if (bias.defined()) shift = shift + bias;
        Tensor out = input * reshape(scale, g.stat_shape) + reshape(shift, g.stat_shape);
        TG_TRACE("batch_norm", {input, running_mean, running_var, weight, bias}, out,
                 {{"training", training}, {"momentum", momentum}, {"eps", eps}});
        return out;
    }

    TG_CHECK(g.count() > 1, "batch_norm",
             "training needs more than 1 value per channel to compute statistics, got input shape {}", input.sizes());
    std::vector<double> mean_c, var_c;
    Tensor out = batch_norm_train(input, weight, bias, g, eps, mean_c, var_c);

    if (training && has_running) {
        NoGradGuard no_grad;
        detail::UntracedScope untraced;  // the node's kernel updates the statistics at run time
        Tensor batch_mean = make_tensor({g.C}, input.dtype()), batch_var = make_tensor({g.C}, input.dtype());
        const double unbias = static_cast<double>(g.count()) / static_cast<double>(g.count() - 1);
        detail::visit_floating(input.dtype(), "batch_norm", [&](auto v) {
            using T = decltype(v);
            for (std::int64_t c = 0; c < g.C; ++c) {
                impl_of(batch_mean).data_as<T>()[c] = static_cast<T>(mean_c[static_cast<std::size_t>(c)]);
                impl_of(batch_var).data_as<T>()[c] = static_cast<T>(var_c[static_cast<std::size_t>(c)] * unbias);
            }
        });
        Tensor rm = running_mean, rv = running_var;
        rm.mul_(1.0 - momentum).add_(batch_mean, momentum);
        rv.mul_(1.0 - momentum).add_(batch_var, momentum);
    }

    const bool has_weight = weight.defined(), has_bias = bias.defined();
    std::vector<Tensor> inputs{input};
    if (has_weight) inputs.push_back(weight);
    if (has_bias) inputs.push_back(bias);
    if (detail::needs_grad(inputs)) {
        std::vector<double> invstd_c(var_c.size());
        for (std::size_t c = 0; c < var_c.size(); ++c) invstd_c[c] = 1.0 / std::sqrt(var_c[c] + eps);
        detail::record("batch_norm", inputs, out,
                       [sx = SavedTensor(input), sw = SavedTensor(has_weight ? weight : Tensor()),
                        has_bias, g, eps, mean_c = std::move(mean_c),
                        invstd_c = std::move(invstd_c)](const Tensor& grad) -> GradList {
                           const Tensor x = sx.unpack(), w = sw.unpack();
                           if (GradMode::is_enabled())  // create_graph: differentiate the statistics too
                               return batch_norm_backward_graph(grad, x, w, has_bias, g, eps);
                           return batch_norm_backward_fused(grad, x, w, has_bias, g, mean_c, invstd_c);
                       });
    }
    TG_TRACE("batch_norm", {input, running_mean, running_var, weight, bias}, out,
             {{"training", training}, {"momentum", momentum}, {"eps", eps}});
    return out;
}

}  // namespace tg::nn::functional

// ---- layer normalisation -------------------------------------------------------------------
//
// libtorch's layer_norm: statistics per row of the (M, D) view of the input, D the number of
// elements of normalized_shape (its trailing dims). One fused kernel forward saves each row's
// mean and rstd = 1 / sqrt(var + eps); the fused backward is
//   dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)),  gw = g * weight,
//   dweight = sum over rows of g * xhat,  dbias = sum over rows of g.
// Under create_graph the same formula is written with tapegrad ops from the saved input.

namespace tg::nn::functional {

namespace {

struct LayerNormGeom {
    std::int64_t M = 0, D = 1;  // rows, elements normalised together
    Shape norm_dims;            // the trailing dims, as non-negative indices
    Shape lead_dims;            // the leading dims (summed for the weight and bias gradients)
    Shape normalized_shape;     // the shape of weight and bias
};

// sum over `dims`, or the tensor itself when there are none (tg::sum({}) would reduce all).
Tensor sum_over(const Tensor& t, const Shape& dims) { return dims.empty() ? t : sum(t, dims); }

GradList layer_norm_backward_graph(const Tensor& grad, const Tensor& x, const Tensor& weight, bool want_x,
                                   bool want_w, bool has_bias, const LayerNormGeom& g, double eps) {
    const Tensor mu = mean(x, g.norm_dims, true);
    const Tensor centered = x - mu;
    const Tensor rstd = pow(mean(centered * centered, g.norm_dims, true) + eps, -0.5);
    const Tensor xhat = centered * rstd;
    const Tensor gw = weight.defined() ? grad * weight : grad;
    return norm_grads(want_x ? rstd * (gw - mean(gw, g.norm_dims, true) - xhat * mean(gw * xhat, g.norm_dims, true))
                             : Tensor(),
                      weight, weight.defined() && want_w ? sum_over(grad * xhat, g.lead_dims) : Tensor(), has_bias,
                      has_bias ? sum_over(grad, g.lead_dims) : Tensor());
}

Tensor layer_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, const LayerNormGeom& g,
                          double eps, std::vector<double>& mean_r, std::vector<double>& rstd_r) {
    const Tensor cx = raw(input);
    const Tensor cw = weight.defined() ? raw(weight) : Tensor(), cb = bias.defined() ? raw(bias) : Tensor();
    Tensor out = make_tensor(input.sizes(), input.dtype());
    mean_r.assign(static_cast<std::size_t>(g.M), 0.0);
    rstd_r.assign(static_cast<std::size_t>(g.M), 0.0);
    detail::visit_floating(input.dtype(), "layer_norm", [&](auto v) {
        using T = decltype(v);
        const T* pw = cw.defined() ? impl_of(cw).data_as<T>() : nullptr;
        const T* pb = cb.defined() ? impl_of(cb).data_as<T>() : nullptr;
        const double d = static_cast<double>(g.D);
        // rows are independent: shared among threads, same bits at any thread count
        detail::parallel_for(g.M, rows_per_chunk(g.D), [&](std::int64_t m_begin, std::int64_t m_end) {
            for (std::int64_t m = m_begin; m < m_end; ++m) {
                const T* row = impl_of(cx).data_as<T>() + m * g.D;
                T* orow = impl_of(out).data_as<T>() + m * g.D;
                double s = 0;
                for (std::int64_t i = 0; i < g.D; ++i) s += row[i];
                const double mu = s / d;
                double sq = 0;  // two passes: no cancellation for rows far from zero
                for (std::int64_t i = 0; i < g.D; ++i) sq += (row[i] - mu) * (row[i] - mu);
                const double rstd = 1.0 / std::sqrt(sq / d + eps);
                mean_r[static_cast<std::size_t>(m)] = mu;
                rstd_r[static_cast<std::size_t>(m)] = rstd;
                for (std::int64_t i = 0; i < g.D; ++i) {
                    const double xhat = (row[i] - mu) * rstd;
                    orow[i] = static_cast<T>(xhat * (pw ? double(pw[i]) : 1.0) + (pb ? double(pb[i]) : 0.0));
                }
            }
        });
    });
    return out;
}

GradList layer_norm_backward_fused(const Tensor& grad, const Tensor& x, const Tensor& weight, bool want_x,
                                   bool want_w, bool has_bias, const LayerNormGeom& g,
                                   const std::vector<double>& mean_r, const std::vector<double>& rstd_r) {
    const Tensor cg = raw(grad), cx = raw(x), cw = weight.defined() ? raw(weight) : Tensor();
    Tensor dx = want_x ? make_tensor(x.sizes(), x.dtype()) : Tensor();
    // dw/db sum over rows: each fixed chunk of rows (parallel.hpp) keeps its own partial
    // sums, added in chunk order, so a thread count always gives the same bits.
    const std::int64_t chunks = detail::chunk_count(g.M, rows_per_chunk(g.D));
    const auto chunk_rows = static_cast<std::size_t>(chunks);
    std::vector<double> dw_parts(want_w ? chunk_rows * static_cast<std::size_t>(g.D) : 0, 0.0);
    std::vector<double> db_parts(has_bias ? chunk_rows * static_cast<std::size_t>(g.D) : 0, 0.0);
    Tensor dweight, dbias;
    detail::visit_floating(x.dtype(), "layer_norm", [&](auto v) {
        using T = decltype(v);
        const T* pw = cw.defined() ? impl_of(cw).data_as<T>() : nullptr;
        const double d = static_cast<double>(g.D);
        detail::run_chunks(chunks, [&](std::int64_t c) {
            double* dw = want_w ? dw_parts.data() + c * g.D : nullptr;
            double* db = has_bias ? db_parts.data() + c * g.D : nullptr;
            const std::int64_t m_end = detail::chunk_begin(g.M, chunks, c + 1, 1, 0);
            for (std::int64_t m = detail::chunk_begin(g.M, chunks, c, 1, 0); m < m_end; ++m) {
                const T* gr = impl_of(cg).data_as<T>() + m * g.D;
                const T* xr = impl_of(cx).data_as<T>() + m * g.D;
                const double mu = mean_r[static_cast<std::size_t>(m)], rstd = rstd_r[static_cast<std::size_t>(m)];
                double sum_gw = 0, sum_gwx = 0;  // sum(gw), sum(gw * xhat)
                for (std::int64_t i = 0; i < g.D; ++i) {
                    const double xhat = (xr[i] - mu) * rstd, gi = gr[i];
                    const double gw = gi * (pw ? double(pw[i]) : 1.0);
                    sum_gw += gw;
                    sum_gwx += gw * xhat;
                    if (want_w) dw[i] += gi * xhat;
                    if (has_bias) db[i] += gi;
                }
                if (!want_x) continue;
                T* dr = impl_of(dx).data_as<T>() + m * g.D;
                const double mean_gw = sum_gw / d, mean_gwx = sum_gwx / d;
                for (std::int64_t i = 0; i < g.D; ++i) {
                    const double xhat = (xr[i] - mu) * rstd;
                    const double gw = gr[i] * (pw ? double(pw[i]) : 1.0);
                    dr[i] = static_cast<T>(rstd * (gw - mean_gw - xhat * mean_gwx));
                }
            }
        });
        auto to_tensor = [&](const std::vector<double>& parts) {
            Tensor t = make_tensor(g.normalized_shape, x.dtype());
            T* pt = impl_of(t).data_as<T>();
            for (std::int64_t i = 0; i < g.D; ++i) {
                double acc = 0;
                for (std::int64_t c = 0; c < chunks; ++c) acc += parts[static_cast<std::size_t>(c * g.D + i)];
                pt[i] = static_cast<T>(acc);
            }
            return t;
        };
        if (want_w) dweight = to_tensor(dw_parts);
        if (has_bias) dbias = to_tensor(db_parts);
    });
    return norm_grads(dx, weight, dweight, has_bias, dbias);
}

}  // namespace

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
    detail::check_defined(input, "layer_norm");
    detail::check_floating(input, "layer_norm");
    const auto k = static_cast<std::int64_t>(normalized_shape.size());
    TG_CHECK(k >= 1, "layer_norm", "normalized_shape must have at least 1 dim, got {} (input shape {})",
             normalized_shape, input.sizes());
    bool trailing = k <= input.dim();
    for (std::int64_t i = 0; trailing && i < k; ++i)
        trailing = input.size(input.dim() - k + i) == normalized_shape[static_cast<std::size_t>(i)];
    TG_CHECK(trailing, "layer_norm", "input shape {} does not end with normalized_shape {}", input.sizes(),
             normalized_shape);
    for (const auto& [t, what] : {std::pair{weight, "weight"}, std::pair{bias, "bias"}}) {
        if (!t.defined()) continue;
        TG_CHECK(t.sizes() == normalized_shape, "layer_norm", "{} must have normalized_shape {}, got shape {}",
                 what, normalized_shape, t.sizes());
        TG_CHECK(t.dtype() == input.dtype(), "layer_norm", "{} has dtype {} but the input has dtype {}", what,
                 dtype_name(t.dtype()), dtype_name(input.dtype()));
    }
    TG_CHECK(eps >= 0, "layer_norm", "eps must be non-negative, got {}", eps);
    LayerNormGeom g;
    g.normalized_shape = normalized_shape;
    g.D = normalized_shape.numel();
    TG_CHECK(g.D > 0, "layer_norm", "normalized_shape {} has no elements to normalise", normalized_shape);
    g.M = input.numel() / g.D;
    for (std::int64_t d = 0; d < input.dim(); ++d) (d < input.dim() - k ? g.lead_dims : g.norm_dims).push_back(d);

    std::vector<double> mean_r, rstd_r;
    Tensor out = layer_norm_forward(input, weight, bias, g, eps, mean_r, rstd_r);
    const bool has_weight = weight.defined(), has_bias = bias.defined();
    std::vector<Tensor> inputs{input};
    if (has_weight) inputs.push_back(weight);
    if (has_bias) inputs.push_back(bias);
    if (detail::needs_grad(inputs)) {
        const bool want_x = input.requires_grad(), want_w = has_weight && weight.requires_grad();
        detail::record("layer_norm", inputs, out,
                       [sx = SavedTensor(input), sw = SavedTensor(has_weight ? weight : Tensor()), want_x, want_w,
                        has_bias, g, eps, mean_r = std::move(mean_r),
                        rstd_r = std::move(rstd_r)](const Tensor& grad) -> GradList {
                           const Tensor x = sx.unpack(), w = sw.unpack();
                           if (GradMode::is_enabled())  // create_graph: differentiate the statistics too
                               return layer_norm_backward_graph(grad, x, w, want_x, want_w, has_bias, g, eps);
                           return layer_norm_backward_fused(grad, x, w, want_x, want_w, has_bias, g, mean_r,
                                                            rstd_r);
                       });
    }
    TG_TRACE("layer_norm", {input, weight, bias}, out, {{"normalized_shape", normalized_shape}, {"eps", eps}});
    return out;
}

}  // namespace tg::nn::functional

// ---- group and instance normalisation: the two kernels above on regrouped views ------------
namespace tg::nn::functional {

namespace {

// weight/bias of shape (C) broadcast over input (N, C, *): y * weight + bias per channel.
Tensor channel_affine(const Tensor& y, const Tensor& weight, const Tensor& bias) {
    Shape per_channel(static_cast<std::size_t>(y.dim()), 1);
    per_channel[1] = y.size(1);
    Tensor out = weight.defined() ? y * reshape(weight, per_channel) : y;
    return bias.defined() ? out + reshape(bias, per_channel) : out;
}

// input (N, C, *) floating, and weight/bias (C) of its dtype when given.
void check_channel_input(const Tensor& input, const Tensor& weight, const Tensor& bias, std::string_view op) {
    detail::check_floating(input, op);
    TG_CHECK(input.dim() >= 2, op, "expected an input of shape (N, C, *), got {}", input.sizes());
    for (const auto& [t, what] : {std::pair{weight, "weight"}, std::pair{bias, "bias"}}) {
        if (!t.defined()) continue;
        TG_CHECK(t.sizes() == Shape{input.size(1)}, op, "{} of shape {} does not match the {} channels of input of shape {}",
                 what, t.sizes(), input.size(1), input.sizes());
        detail::check_same_dtype(input, t, op);
    }
}

// instance_norm's result reported as one node: its inner batch_norm on a (1, N * C, ...) view
// and the running-statistics averaging have no single graph form of their own.
Tensor traced_instance_norm(const Tensor& out, const Tensor& input, const Tensor& running_mean,
                            const Tensor& running_var, const Tensor& weight, const Tensor& bias, bool use_input_stats,
                            double momentum, double eps) {
    TG_TRACE("instance_norm", {input, running_mean, running_var, weight, bias}, out,
             {{"use_input_stats", use_input_stats}, {"momentum", momentum}, {"eps", eps}});
    return out;
}

}  // namespace

// Each sample's channels split into num_groups groups, each normalised over its channels and
// spatial positions: layer_norm over the last dim of input viewed as (N, num_groups, rest).
Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
    constexpr std::string_view op = "group_norm";
    check_channel_input(input, weight, bias, op);
    const std::int64_t n = input.size(0), c = input.size(1);
    TG_CHECK(num_groups > 0 && c % num_groups == 0, op, "num_groups {} must divide the {} channels of input of shape {}",
             num_groups, c, input.sizes());
    TG_CHECK(eps >= 0, op, "eps must be non-negative, got {} (input shape {})", eps, input.sizes());
    const std::int64_t per_group = n * num_groups == 0 ? 0 : input.numel() / (n * num_groups);
    TG_CHECK(per_group > 0, op, "input of shape {} has no elements per group to normalise", input.sizes());
    const Tensor grouped = reshape(input, {n, num_groups, per_group});
    Tensor out = channel_affine(reshape(layer_norm(grouped, {per_group}, {}, {}, eps), input.sizes()), weight, bias);
    // One node: the (N, groups, rest) reshape holds the traced batch, which a graph must not.
    TG_TRACE("group_norm", {input, weight, bias}, out, {{"num_groups", num_groups}, {"eps", eps}});
    return out;
}

// Each (sample, channel) normalised over its spatial positions. As in libtorch, this is
// batch_norm on input viewed as (1, N * C, spatial, 1), whose running statistics (one per
// sample and channel) are then averaged over the batch into running_mean / running_var.
Tensor instance_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                     const Tensor& bias, bool use_input_stats, double momentum, double eps) {
    constexpr std::string_view op = "instance_norm";
    check_channel_input(input, weight, bias, op);
    TG_CHECK(input.dim() >= 3, op, "expected an input of shape (N, C, L) or (N, C, H, W), got {}", input.sizes());
    const std::int64_t n = input.size(0), c = input.size(1), spatial = input.numel() / std::max<std::int64_t>(n * c, 1);
    TG_CHECK(running_mean.defined() == running_var.defined(), op,
             "give both running_mean and running_var or neither (input shape {})", input.sizes());
    for (const auto& [t, what] : {std::pair{running_mean, "running_mean"}, std::pair{running_var, "running_var"}}) {
        if (!t.defined()) continue;
        TG_CHECK(t.sizes() == Shape{c}, op, "{} of shape {} does not match the {} channels of input of shape {}", what,
                 t.sizes(), c, input.sizes());
    }
    TG_CHECK(use_input_stats || running_mean.defined(), op,
             "use_input_stats = false needs running_mean and running_var (input shape {})", input.sizes());
    if (!use_input_stats) {  // eval with tracked statistics: batch_norm's eval, per channel
        const Tensor y = batch_norm(reshape(input, {n, c, spatial, 1}), running_mean, running_var, {}, {}, false,
                                    momentum, eps);
        return traced_instance_norm(channel_affine(reshape(y, input.sizes()), weight, bias), input, running_mean,
                                    running_var, weight, bias, use_input_stats, momentum, eps);
    }
    TG_CHECK(spatial > 1 || !running_mean.defined(), op,
             "expected more than 1 spatial element per channel to track statistics, got input shape {}", input.sizes());
    Tensor mean_rep, var_rep;
    if (running_mean.defined()) {
        mean_rep = repeat(running_mean.detach(), {n});
        var_rep = repeat(running_var.detach(), {n});
    }
    const Tensor y = batch_norm(reshape(input, {1, n * c, spatial, 1}), mean_rep, var_rep, {}, {}, true, momentum, eps);
    if (running_mean.defined()) {
        NoGradGuard no_grad;
        detail::UntracedScope untraced;  // as batch_norm's: the node's kernel repeats the update
        Tensor(running_mean).copy_(mean(reshape(mean_rep, {n, c}), {0}));  // a handle to the same storage
        Tensor(running_var).copy_(mean(reshape(var_rep, {n, c}), {0}));
    }
    return traced_instance_norm(channel_affine(reshape(y, input.sizes()), weight, bias), input, running_mean,
                                running_var, weight, bias, use_input_stats, momentum, eps);
}

}  // namespace tg::nn::functional
