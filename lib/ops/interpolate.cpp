// F::interpolate: libtorch's resize entry point. Nearest goes to upsample_nearest2d (pool.cpp);
// bilinear is separable, so it is two 1-D linear resizes, each one pair of index_select
// (the two neighbouring rows or columns) blended by per-position weights. Its gradient is
// that of index_select and mul (a scatter-add of the weighted gradient), written once there.
#include <cmath>

#include "tapegrad/creation.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tensor/check.hpp"

namespace tg::nn::functional {

namespace {

constexpr std::string_view kOp = "interpolate";

// The two source positions and weights of every output position along one dim, by
// libtorch's area_pixel_compute_source_index: with align_corners the corner pixels' centres
// map onto each other (src = o * (in - 1) / (out - 1)); without, pixel areas do
// (src = (o + 0.5) * scale - 0.5, clamped at 0), where scale is 1 / scale_factor when a
// factor was given and in / out otherwise.
struct LinearTaps {
    Tensor lo, hi;          // int64 (out): the neighbours below and above src
    Tensor w_lo, w_hi;      // (out) in the input's dtype: 1 - frac and frac
};

LinearTaps linear_taps(std::int64_t in, std::int64_t out, bool align_corners, std::optional<double> factor,
                       Dtype dtype) {
    std::vector<std::int64_t> lo(static_cast<std::size_t>(out)), hi(lo.size());
    std::vector<double> w_lo(lo.size()), w_hi(lo.size());
    const double scale = align_corners ? (out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0)
                                       : (factor ? 1.0 / *factor : static_cast<double>(in) / static_cast<double>(out));
    for (std::int64_t o = 0; o < out; ++o) {
        const double src = align_corners ? scale * static_cast<double>(o)
                                         : std::max(scale * (static_cast<double>(o) + 0.5) - 0.5, 0.0);
        const auto i0 = std::min(static_cast<std::int64_t>(src), in - 1);
        const auto k = static_cast<std::size_t>(o);
        lo[k] = i0;
        hi[k] = i0 < in - 1 ? i0 + 1 : i0;
        w_hi[k] = std::min(src - static_cast<double>(i0), 1.0);
        w_lo[k] = 1.0 - w_hi[k];
    }
    return {from_vector(lo, {out}), from_vector(hi, {out}), from_vector(w_lo, {out}).to(dtype),
            from_vector(w_hi, {out}).to(dtype)};
}

// x resized along `dim` (2: rows, 3: columns of NCHW) by linear interpolation.
Tensor linear_resize(const Tensor& x, std::int64_t dim, const LinearTaps& t) {
    const Shape weight_shape = dim == 2 ? Shape{-1, 1} : Shape{-1};  // broadcast over the dims after
    return index_select(x, dim, t.lo) * reshape(t.w_lo, weight_shape) +
           index_select(x, dim, t.hi) * reshape(t.w_hi, weight_shape);
}

}  // namespace

Tensor interpolate(const Tensor& input, const InterpolateFuncOptions& options) {
    detail::check_floating(input, kOp);
    const bool bilinear = options.mode() == InterpolateMode::Bilinear;
    TG_CHECK(input.dim() == 4, kOp,
             "expected a 4-D (N, C, H, W) input for mode {}, got shape {} (1-D and 3-D resizing are not supported)",
             bilinear ? "bilinear" : "nearest", input.sizes());
    TG_CHECK(options.size().has_value() != options.scale_factor().has_value(), kOp,
             "give exactly one of size and scale_factor (input shape {})", input.sizes());
    TG_CHECK(bilinear || !options.align_corners().has_value(), kOp,
             "align_corners can only be set with mode bilinear, not nearest (input shape {})", input.sizes());
    const std::int64_t H = input.size(2), W = input.size(3);
    std::int64_t OH = 0, OW = 0;
    std::optional<double> fh, fw;
    if (options.size()) {
        const Shape& s = *options.size();
        TG_CHECK(s.size() == 1 || s.size() == 2, kOp, "size takes 1 or 2 values, got {} (input shape {})", s,
                 input.sizes());
        OH = s[0];
        OW = s[s.size() - 1];
        TG_CHECK(OH > 0 && OW > 0, kOp, "size {} must be positive (input shape {})", s, input.sizes());
    } else {
        const std::vector<double>& f = *options.scale_factor();
        TG_CHECK((f.size() == 1 || f.size() == 2) && f.front() > 0 && f.back() > 0 && std::isfinite(f.front()) &&
                     std::isfinite(f.back()),
                 kOp, "scale_factor takes 1 or 2 positive values, got {} value(s) (input shape {})", f.size(),
                 input.sizes());
        fh = f.front();
        fw = f.back();
        OH = static_cast<std::int64_t>(std::floor(static_cast<double>(H) * *fh));
        OW = static_cast<std::int64_t>(std::floor(static_cast<double>(W) * *fw));
        TG_CHECK(OH > 0 && OW > 0, kOp, "scale_factor {} x {} gives an empty output for input shape {}", *fh, *fw,
                 input.sizes());
    }
    if (!bilinear) return fh ? upsample_nearest2d(input, *fh, *fw) : upsample_nearest2d(input, Shape{OH, OW});
    TG_CHECK(H > 0 && W > 0, kOp, "input shape {} has an empty plane", input.sizes());
    const bool corners = options.align_corners().value_or(false);
    const Tensor rows = linear_resize(input, 2, linear_taps(H, OH, corners, fh, input.dtype()));
    return linear_resize(rows, 3, linear_taps(W, OW, corners, fw, input.dtype()));
}

}  // namespace tg::nn::functional
