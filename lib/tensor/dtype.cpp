#include "tapegrad/dtype.hpp"

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

std::ostream& operator<<(std::ostream& os, Dtype dtype) { return os << dtype_name(dtype); }

}  // namespace tg
