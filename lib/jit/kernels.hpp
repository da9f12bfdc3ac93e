// The executor's table: for each traced kind, how to run it again by calling the same
// public op with the node's attributes. No op math lives here.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "tapegrad/jit.hpp"

namespace tg::jit::detail {

using Kernel = std::function<std::vector<Tensor>(const Node& node, const std::vector<Tensor>& inputs)>;

// Null when `kind` has no kernel.
const Kernel* find_kernel(std::string_view kind);
std::vector<std::string> kernel_kinds();

}  // namespace tg::jit::detail
