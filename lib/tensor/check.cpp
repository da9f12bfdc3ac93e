#include "tensor/check.hpp"

namespace tg::detail {

void fail(std::string_view op, const std::string& message) {
    throw Error(fmt::format("{}: {}", op, message));
}

std::int64_t wrap_dim(std::int64_t dim, std::int64_t rank, std::string_view op) {
    // A scalar accepts dim 0 / -1 like libtorch, as if it had one dim.
    const std::int64_t r = rank == 0 ? 1 : rank;
    TG_CHECK(dim >= -r && dim < r, op, "dim {} is out of range for a tensor of rank {} (expected {} to {})",
             dim, rank, -r, r - 1);
    return dim < 0 ? dim + r : dim;
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
