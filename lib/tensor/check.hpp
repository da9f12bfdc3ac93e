// Argument checks that throw tg::Error with the op name and shapes (fmt-formatted).
#pragma once

#include <cstdint>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "tapegrad/error.hpp"
#include "tapegrad/shape.hpp"
#include "tapegrad/tensor.hpp"

template <> struct fmt::formatter<tg::Shape> : fmt::formatter<std::string> {
    template <class Ctx> auto format(const tg::Shape& s, Ctx& ctx) const {
        return fmt::formatter<std::string>::format(s.str(), ctx);
    }
};

// TG_CHECK(cond, "matmul", "shapes {} and {}: inner dims differ", a.sizes(), b.sizes())
#define TG_CHECK(cond, op, ...)                                                  \
    do {                                                                         \
        if (!(cond)) ::tg::detail::fail(op, fmt::format(__VA_ARGS__));           \
    } while (0)

namespace tg::detail {

[[noreturn]] void fail(std::string_view op, const std::string& message);

// Wraps a possibly negative dim of a tensor of shape `sizes` into [0, rank); otherwise throws
// "op: dim 2 is out of range for a tensor of shape [2, 3] (expected -2 to 1)". A scalar
// accepts dim 0 and -1, as if it had one dim (libtorch's rule).
std::int64_t wrap_dim(std::int64_t dim, const Shape& sizes, std::string_view op);
// The same for the position of a new dim (unsqueeze, stack): [0, rank], so -1 is after the last.
std::int64_t wrap_new_dim(std::int64_t dim, const Shape& sizes, std::string_view op);
void check_defined(const Tensor& t, std::string_view op);
void check_floating(const Tensor& t, std::string_view op);
void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op);

}  // namespace tg::detail
