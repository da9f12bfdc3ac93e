#include "tensor/check.hpp"

namespace tg::detail {

void fail(std::string_view op, const std::string& message) {
    throw Error(fmt::format("{}: {}", op, message));
}

namespace {

// dim wrapped into [0, positions); the message names the shape (the rank alone does not
// tell the user which tensor it was).
std::int64_t wrap_position(std::int64_t dim, std::int64_t positions, const Shape& sizes, std::string_view op) {
    TG_CHECK(dim >= -positions && dim < positions, op, "dim {} is out of range for a tensor of shape {} (expected {} to {})",
             dim, sizes, -positions, positions - 1);
    return dim < 0 ? dim + positions : dim;
}

}  // namespace

std::int64_t wrap_dim(std::int64_t dim, const Shape& sizes, std::string_view op) {
    const auto rank = static_cast<std::int64_t>(sizes.size());
    return wrap_position(dim, rank == 0 ? 1 : rank, sizes, op);
}

std::int64_t wrap_new_dim(std::int64_t dim, const Shape& sizes, std::string_view op) {
    return wrap_position(dim, static_cast<std::int64_t>(sizes.size()) + 1, sizes, op);
}

void check_defined(const Tensor& t, std::string_view op) {
    TG_CHECK(t.defined(), op, "got an undefined tensor");
}

void check_floating(const Tensor& t, std::string_view op) {
    check_defined(t, op);
    TG_CHECK(t.is_floating_point(), op, "expected a float32 or float64 tensor, got {} of shape {}",
             dtype_name(t.dtype()), t.sizes());
}

void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op) {
    TG_CHECK(a.dtype() == b.dtype(), op, "dtypes {} (shape {}) and {} (shape {}) differ; convert one with .to()",
             dtype_name(a.dtype()), a.sizes(), dtype_name(b.dtype()), b.sizes());
}

}  // namespace tg::detail
