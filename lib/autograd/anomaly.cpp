// Anomaly mode: NaN/Inf checks on the outputs of recorded ops and on the gradients their
// backward produces. What a backward error needs from the forward (the input shapes and
// user names) is kept in a side table keyed by node, only while the mode is on, so nodes
// carry nothing extra when it is off.
#include "autograd/anomaly.hpp"

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tapegrad/debug.hpp"
#include "tensor/check.hpp"
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

// The largest |x| as raw bits: above the infinity pattern means a NaN, equal means an
// Inf. An unsigned max reduction, which the compiler vectorises (std::isnan per element
// does not).
template <class T, class Bits>
const char* scan(const T* p, std::int64_t n) {
    static_assert(sizeof(T) == sizeof(Bits));
    constexpr Bits sign = Bits(1) << (8 * sizeof(Bits) - 1);
    constexpr Bits inf_bits = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
    const auto* bits = reinterpret_cast<const Bits*>(p);
    Bits largest = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const Bits magnitude = bits[i] & ~sign;
        largest = magnitude > largest ? magnitude : largest;
    }
    return largest > inf_bits ? "NaN" : largest == inf_bits ? "Inf" : "";
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
