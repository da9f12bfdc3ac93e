// Anomaly mode: NaN/Inf checks on the outputs of recorded ops and on the gradients their
// backward produces. What a backward error needs from the forward (the input shapes and
// user names) is kept in a side table keyed by node, only while the mode is on, so nodes
// carry nothing extra when it is off.
#include "autograd/anomaly.hpp"

#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "tapegrad/debug.hpp"
#include "tensor/check.hpp"
#include "tensor/parallel.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg {

namespace detail {

std::atomic<bool> anomaly_mode_flag{false};

namespace {

struct ForwardInfo {
    std::weak_ptr<const Node> node;  // expired => the entry is stale (address reused)
    std::vector<Shape> shapes;
    std::vector<std::string> names;
};

struct Table {
    std::mutex mutex;
    std::unordered_map<const Node*, ForwardInfo> entries;
    std::size_t prune_at = 1024;
};

Table& table() {
    static Table t;
    return t;
}

// Whether any |x| as raw bits lies above the infinity pattern (a NaN) or equals it (an
// Inf). Flags OR-ed over the elements as signed integers (the sign bit cleared, so the
// order is the unsigned one): a loop SSE2 vectorises, where the unsigned max it replaces
// needs SSE4.1 and ran scalar in the portable build. The optimizer scans every gradient
// before each step (6% of the CNN step), so it is cut into chunks like any reduction.
template <class T, class Bits>
const char* scan(const T* p, std::int64_t n) {
    static_assert(sizeof(T) == sizeof(Bits));
    using Signed = std::make_signed_t<Bits>;
    constexpr Signed magnitude_mask = std::numeric_limits<Signed>::max();
    constexpr Signed inf_bits = sizeof(T) == 4 ? Signed(0x7f800000) : Signed(0x7ff0000000000000ll);
    const auto* bits = reinterpret_cast<const Signed*>(p);
    constexpr int nan_seen = 2, inf_seen = 1;
    const int seen = parallel_reduce(
        n, grain::reduction, 0,
        [&](std::int64_t begin, std::int64_t end) {
            Signed nan = 0, inf = 0;
            for (std::int64_t i = begin; i < end; ++i) {
                const Signed magnitude = bits[i] & magnitude_mask;
                nan |= magnitude > inf_bits;
                inf |= magnitude == inf_bits;
            }
            return (nan ? nan_seen : 0) | (inf ? inf_seen : 0);
        },
        [](int a, int b) { return a | b; });
    return (seen & nan_seen) ? "NaN" : (seen & inf_seen) ? "Inf" : "";
}

std::string describe_inputs(const std::vector<Shape>& shapes, const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        if (i) out += ", ";
        out += fmt::format("{}", shapes[i]);
        if (i < names.size() && !names[i].empty()) out += " '" + names[i] + "'";
    }
    return out.empty() ? "none" : out;
}

std::string where(const Node& node) {
    return node.scope().empty() ? std::string("(no scope: called outside any module or scope)")
                                : "'" + node.scope() + "'";
}

}  // namespace

const char* nonfinite_kind(const Tensor& t) {
    if (!t.defined() || !t.is_floating_point()) return "";
    Tensor c = t.contiguous();
    if (c.dtype() == kFloat32) return scan<float, std::uint32_t>(impl_of(c).data_as<float>(), c.numel());
    return scan<double, std::uint64_t>(impl_of(c).data_as<double>(), c.numel());
}

void anomaly_check_forward(Node& node, const Tensor* inputs, std::size_t num_inputs,
                           const std::vector<Tensor*>& outputs) {
    ForwardInfo info;
    info.node = node.weak_from_this();
    for (std::size_t i = 0; i < num_inputs; ++i) {
        info.shapes.push_back(inputs[i].defined() ? inputs[i].sizes() : Shape{});
        info.names.push_back(inputs[i].defined() ? inputs[i].name() : std::string());
    }
    for (std::size_t k = 0; k < outputs.size(); ++k) {
        const char* kind = nonfinite_kind(*outputs[k]);
        if (*kind == '\0') continue;
        std::string already;
        for (std::size_t i = 0; i < num_inputs; ++i)
            if (*nonfinite_kind(inputs[i]) != '\0')
                already = fmt::format(" (input {} already held {}: it came from an op that was "
                                      "not recorded, or from data)",
                                      i, nonfinite_kind(inputs[i]));
        fail(node.name(),
             fmt::format("anomaly detected in the forward pass: output {} (shape {}, {}) holds {}; "
                         "input shapes: {}; scope: {}{}",
                         k, outputs[k]->sizes(), dtype_name(outputs[k]->dtype()), kind,
                         describe_inputs(info.shapes, info.names), where(node), already));
    }
    Table& t = table();
    std::lock_guard lock(t.mutex);
    if (t.entries.size() >= t.prune_at) {
        std::erase_if(t.entries, [](const auto& e) { return e.second.node.expired(); });
        t.prune_at = std::max<std::size_t>(1024, 2 * t.entries.size());
    }
    t.entries[&node] = std::move(info);
}

void anomaly_check_backward(const Node& node, const std::vector<Tensor>& input_grads) {
    for (std::size_t i = 0; i < input_grads.size(); ++i) {
        const char* kind = nonfinite_kind(input_grads[i]);
        if (*kind == '\0') continue;
        std::vector<Shape> shapes;
        std::vector<std::string> names;
        {
            Table& t = table();
            std::lock_guard lock(t.mutex);
            auto it = t.entries.find(&node);
            if (it != t.entries.end() && it->second.node.lock().get() == &node) {
                shapes = it->second.shapes;
                names = it->second.names;
            }
        }
        if (shapes.empty())  // recorded while anomaly mode was off: the gradients' shapes
            for (const Tensor& g : input_grads) shapes.push_back(g.defined() ? g.sizes() : Shape{});
        std::string input = fmt::format("input {}", i);
        if (i < names.size() && !names[i].empty()) input += " '" + names[i] + "'";
        fail(node.name(),
             fmt::format("anomaly detected in the backward pass: the gradient for {} (shape {}) "
                         "holds {}; input shapes: {}; scope: {}",
                         input, input_grads[i].sizes(), kind, describe_inputs(shapes, names),
                         where(node)));
    }
}

}  // namespace detail

namespace autograd {

bool AnomalyMode::is_enabled() { return detail::anomaly_enabled(); }

void AnomalyMode::set_enabled(bool enabled) {
    detail::anomaly_mode_flag.store(enabled, std::memory_order_relaxed);
    if (!enabled) {
        auto& t = detail::table();
        std::lock_guard lock(t.mutex);
        t.entries.clear();
    }
}

}  // namespace autograd
}  // namespace tg
