#include "tapegrad/dtype.hpp"

#include <algorithm>
#include <ostream>

namespace tg {

std::string_view dtype_name(Dtype dtype) {
    switch (dtype) {
        case Dtype::Bool: return "bool";
        case Dtype::Int64: return "int64";
        case Dtype::Float32: return "float32";
        case Dtype::Float64: return "float64";
    }
    return "unknown";
}

std::size_t element_size(Dtype dtype) {
    switch (dtype) {
        case Dtype::Bool: return sizeof(bool);
        case Dtype::Int64: return sizeof(std::int64_t);
        case Dtype::Float32: return sizeof(float);
        case Dtype::Float64: return sizeof(double);
    }
    return 0;
}

bool is_floating_point(Dtype dtype) { return dtype == Dtype::Float32 || dtype == Dtype::Float64; }

// The enum is declared in promotion order, so the wider type is the larger value.
Dtype promote_types(Dtype a, Dtype b) { return std::max(a, b); }

std::ostream& operator<<(std::ostream& os, Dtype dtype) { return os << dtype_name(dtype); }

}  // namespace tg
