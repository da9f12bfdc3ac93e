// operator<<: values (abbreviated when large), then shape, dtype and grad info.
#include <ostream>

#include <fmt/format.h>

#include "tapegrad/autograd.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg {

namespace {

constexpr std::int64_t kEdgeItems = 3;    // shown at each end of a long dim
constexpr std::int64_t kSummarize = 1000; // more elements than this are abbreviated

std::string format_value(double v, Dtype dtype) {
    if (dtype == kBool) return v != 0 ? "true" : "false";
    if (dtype == kInt64) return fmt::format("{}", static_cast<std::int64_t>(v));
    return fmt::format("{:.4g}", v);
}

void print_dim(std::ostream& os, const Tensor& t, Shape& index, std::size_t d, bool summarize, int indent) {
    const std::int64_t n = t.sizes()[d];
    os << '[';
    for (std::int64_t i = 0; i < n; ++i) {
        if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
            os << "...";
            i = n - kEdgeItems - 1;
            if (d + 1 < t.sizes().size()) os << ",\n" << std::string(static_cast<std::size_t>(indent + 1), ' ');
            else os << ", ";
            continue;
        }
        index[d] = i;
        if (d + 1 == t.sizes().size())
            os << format_value(t.at(index), t.dtype());
        else
            print_dim(os, t, index, d + 1, summarize, indent + 1);
        if (i + 1 < n) {
            if (d + 1 < t.sizes().size()) os << ",\n" << std::string(static_cast<std::size_t>(indent + 1), ' ');
            else os << ", ";
        }
    }
    os << ']';
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
    if (!t.defined()) return os << "[ undefined tensor ]";
    if (t.dim() == 0) {
        os << format_value(t.at({}), t.dtype());
    } else {
        Shape index(t.sizes().size(), 0);
        print_dim(os, t, index, 0, t.numel() > kSummarize, 0);
    }
    os << "\n[ " << dtype_name(t.dtype()) << ' ' << t.sizes();
    if (auto fn = t.grad_fn()) os << ", grad_fn=" << fn->name();
    else if (t.requires_grad()) os << ", requires_grad";
    return os << " ]";
}

}  // namespace tg
