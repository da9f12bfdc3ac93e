// nn::functional::pad (libtorch's F::pad, tf.pad). Every mode is one picture: along each dim,
// output position j reads input position map[j] (or the fill value where map[j] = -1), and
// the output is the product of those per-dim maps. The backward is the adjoint of that read:
// a scatter-add of the gradient through the same maps (repeated sources sum, as the edge
// cells of Replicate do), itself recorded with the read as its backward.
#include <memory>

#include "autograd/record.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tensor/elementwise.hpp"

namespace tg::nn::functional {

using detail::GradList;

namespace {

// One map per dim of the input: output position -> input position, -1 for the fill value.
using PadMaps = std::vector<std::vector<std::int64_t>>;

const char* mode_name(PadMode mode) {
    switch (mode) {
        case PadMode::Constant: return "constant";
        case PadMode::Reflect: return "reflect";
        case PadMode::Replicate: return "replicate";
        case PadMode::Circular: return "circular";
        case PadMode::Symmetric: return "symmetric";
    }
    return "?";
}

// Where each of the n + before + after output positions of one dim reads from.
std::vector<std::int64_t> source_map(std::int64_t n, std::int64_t before, std::int64_t after, PadMode mode) {
    std::vector<std::int64_t> map(static_cast<std::size_t>(n + before + after));
    for (std::size_t j = 0; j < map.size(); ++j) {
        std::int64_t i = static_cast<std::int64_t>(j) - before;  // the position in the input's coordinates
        if (i < 0 || i >= n) {
            switch (mode) {
                case PadMode::Constant: i = -1; break;
                case PadMode::Reflect: i = i < 0 ? -i : 2 * (n - 1) - i; break;  // edge not repeated
                case PadMode::Symmetric: i = i < 0 ? -i - 1 : 2 * n - 1 - i; break;  // edge repeated
                case PadMode::Replicate: i = i < 0 ? 0 : n - 1; break;
                case PadMode::Circular: i = ((i % n) + n) % n; break;
            }
        }
        map[j] = i;
    }
    return map;
}

// Visits every output position: row(out_index, in_offset) with in_offset = -1 where any dim
// reads the fill value. `out` is contiguous; `in_strides` address the input.
template <class F>
void for_each_source(const PadMaps& maps, const Shape& in_strides, F&& visit) {
    std::int64_t out_index = 0;
    if (maps.empty()) {  // a scalar
        visit(out_index, 0);
        return;
    }
    const std::size_t last = maps.size() - 1;
    auto walk = [&](auto&& self, std::size_t d, std::int64_t in_offset) -> void {
        const std::int64_t stride = in_strides[d];
        if (d == last) {  // the innermost dim: one plain loop
            for (const std::int64_t i : maps[d]) visit(out_index++, in_offset < 0 || i < 0 ? -1 : in_offset + i * stride);
            return;
        }
        for (const std::int64_t i : maps[d]) self(self, d + 1, in_offset < 0 || i < 0 ? -1 : in_offset + i * stride);
    };
    walk(walk, 0, 0);
}

Tensor pad_scatter(const Tensor& g, const std::shared_ptr<const PadMaps>& maps, const Shape& in_shape);

// out = the padded read of x through `maps`, `fill` where a map says -1.
Tensor pad_read(const Tensor& x, const std::shared_ptr<const PadMaps>& maps, double fill) {
    Shape out_sizes;
    for (const auto& m : *maps) out_sizes.push_back(static_cast<std::int64_t>(m.size()));
    Tensor out = make_tensor(out_sizes, x.dtype());
    if (out.numel() > 0) {
        detail::visit_dtype(x.dtype(), [&](auto v) {
            using T = decltype(v);
            const T* px = impl_of(x).data_as<T>();
            T* po = impl_of(out).data_as<T>();
            const T value = static_cast<T>(fill);
            for_each_source(*maps, x.strides(), [&](std::int64_t j, std::int64_t i) { po[j] = i < 0 ? value : px[i]; });
        });
    }
    if (detail::needs_grad(x))
        detail::record("pad", {x}, out, [maps, in_shape = x.sizes()](const Tensor& g) -> GradList {
            return {pad_scatter(g, maps, in_shape)};
        });
    return out;
}

// The adjoint of pad_read: zeros(in_shape) += g at every position the maps read from.
Tensor pad_scatter(const Tensor& g, const std::shared_ptr<const PadMaps>& maps, const Shape& in_shape) {
    Tensor out = zeros(in_shape, g.dtype());
    const Tensor gc = g.contiguous();
    if (gc.numel() > 0) {
        detail::visit_dtype(g.dtype(), [&](auto v) {
            using T = decltype(v);
            const T* pg = impl_of(gc).data_as<T>();
            T* po = impl_of(out).data_as<T>();
            for_each_source(*maps, out.strides(), [&](std::int64_t j, std::int64_t i) {
                if (i >= 0) po[i] = static_cast<T>(po[i] + pg[j]);
            });
        });
    }
    if (detail::needs_grad(g))
        detail::record("pad_backward", {g}, out, [maps](const Tensor& gg) -> GradList {
            return {pad_read(gg, maps, 0.0)};  // the fill is a constant: no gradient there
        });
    return out;
}

}  // namespace

Tensor pad(const Tensor& input, const Shape& pads, PadMode mode, double value) {
    detail::check_defined(input, "pad");
    const auto rank = static_cast<std::size_t>(input.dim());
    TG_CHECK(pads.size() % 2 == 0, "pad", "the padding list {} has odd length {}: it needs (before, after) pairs",
             pads, pads.size());
    TG_CHECK(pads.size() / 2 <= rank, "pad",
             "the padding list {} pads {} dims but the input of shape {} has only {}", pads, pads.size() / 2,
             input.sizes(), rank);
    auto maps = std::make_shared<PadMaps>(rank);
    for (std::size_t d = 0; d < rank; ++d) {
        const std::int64_t n = input.sizes()[d];
        // pads[0], pads[1] are the last dim's (before, after), pads[2], pads[3] the one before, ...
        const std::size_t k = 2 * (rank - 1 - d);
        const std::int64_t before = k < pads.size() ? pads[k] : 0;
        const std::int64_t after = k < pads.size() ? pads[k + 1] : 0;
        TG_CHECK(n + before + after >= 0, "pad",
                 "padding ({}, {}) of dim {} of size {} leaves a negative size (input {}, padding {})", before, after,
                 d, n, input.sizes(), pads);
        if (mode != PadMode::Constant && n + before + after > 0 && (before > 0 || after > 0)) {
            const std::int64_t limit = mode == PadMode::Reflect ? n - 1 : mode == PadMode::Replicate ? 0 : n;
            if (mode == PadMode::Replicate)
                TG_CHECK(n > 0, "pad", "replicate padding of dim {} needs a non-empty dim (input {}, padding {})", d,
                         input.sizes(), pads);
            else
                TG_CHECK(before <= limit && after <= limit, "pad",
                         "{} padding ({}, {}) of dim {} must be {} the dim size {} (input {}, padding {})",
                         mode_name(mode), before, after, d, mode == PadMode::Reflect ? "less than" : "at most", n,
                         input.sizes(), pads);
        }
        (*maps)[d] = source_map(n, before, after, mode);
    }
    Tensor out = pad_read(input, maps, mode == PadMode::Constant ? value : 0.0);
    TG_TRACE("pad", {input}, out, {{"pads", pads}, {"mode", mode_name(mode)}, {"value", value}});
    return out;
}

}  // namespace tg::nn::functional
