// Anomaly mode's hooks into record() and the engine (see tapegrad/debug.hpp).
#pragma once

#include <atomic>
#include <string_view>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::detail {

extern std::atomic<bool> anomaly_mode_flag;
// The only cost anomaly mode has while off: one relaxed load per recorded op / run node.
inline bool anomaly_enabled() { return anomaly_mode_flag.load(std::memory_order_relaxed); }

// After record() attached `node` to `outputs`: throws when an output holds NaN/Inf, and
// remembers the inputs' shapes and names for a later backward check.
void anomaly_check_forward(Node& node, const Tensor* inputs, std::size_t num_inputs,
                           const std::vector<Tensor*>& outputs);
// After the engine ran `node`: throws when a gradient it produced holds NaN/Inf.
void anomaly_check_backward(const Node& node, const std::vector<Tensor>& input_grads);

// True when a floating tensor holds NaN (first) or Inf; "NaN", "Inf" or "" .
const char* nonfinite_kind(const Tensor& t);

}  // namespace tg::detail
