// Similarities and distances between vectors along a dim (libtorch's cosine_similarity and
// pairwise_distance), written with differentiable ops so every derivative order follows.
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/broadcast.hpp"
#include "tensor/check.hpp"

namespace tg {

namespace {

// Both floating, of one dtype, and broadcastable; returns the broadcast shape.
Shape check_vector_pair(const Tensor& x1, const Tensor& x2, std::string_view op) {
    detail::check_floating(x1, op);
    detail::check_floating(x2, op);
    detail::check_same_dtype(x1, x2, op);
    return detail::broadcast_shape(x1.sizes(), x2.sizes(), op);
}

}  // namespace

// libtorch's formula: sum(x1 * x2) / sqrt(max(|x1|^2 |x2|^2, eps^2)), so vectors of norm
// near 0 give a finite 0-ish value instead of a division by zero.
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, std::int64_t dim, double eps) {
    constexpr std::string_view op = "cosine_similarity";
    const Shape shape = check_vector_pair(x1, x2, op);
    detail::wrap_dim(dim, shape, op);
    TG_CHECK(eps >= 0.0, op, "eps must be non-negative, got {} (shapes {} and {})", eps, x1.sizes(), x2.sizes());
    const Tensor a = expand(x1, shape), b = expand(x2, shape);  // views; dim indexes the broadcast shape
    const Tensor w12 = sum(a * b, {dim});
    const Tensor w1 = sum(square(a), {dim}), w2 = sum(square(b), {dim});
    return w12 / sqrt(clamp(w1 * w2, eps * eps, std::nullopt));
}

// ||x1 - x2 + eps||_p over the last dim (libtorch adds eps before the norm, which also keeps
// the 2-norm's gradient finite for equal vectors).
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p, double eps, bool keepdim) {
    constexpr std::string_view op = "pairwise_distance";
    const Shape shape = check_vector_pair(x1, x2, op);
    TG_CHECK(!shape.empty(), op, "expected vectors (at least 1-D), got shapes {} and {}", x1.sizes(), x2.sizes());
    TG_CHECK(p > 0.0, op, "p must be positive, got {} (shapes {} and {})", p, x1.sizes(), x2.sizes());
    return norm(x1 - x2 + eps, p, {-1}, keepdim);
}

}  // namespace tg
