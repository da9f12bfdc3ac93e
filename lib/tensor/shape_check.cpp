#include "tensor/shape_check.hpp"

#include <cstdint>
#include <limits>

#include "tensor/check.hpp"

namespace tg::detail {

std::string shape_problem(const Shape& sizes, Dtype dtype) {
    const auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / element_size(dtype);
    std::uint64_t product = 1;
    for (std::size_t d = 0; d < sizes.size(); ++d) {
        if (sizes[d] < 0) return fmt::format("dim {} has negative size {}", d, sizes[d]);
        const auto size = static_cast<std::uint64_t>(sizes[d] > 0 ? sizes[d] : 1);
        if (product > limit / size)
            return fmt::format("shape {} is too large: its sizes multiply past what int64 strides and byte counts "
                               "of {} hold",
                               sizes, dtype_name(dtype));
        product *= size;
    }
    return {};
}

}  // namespace tg::detail
