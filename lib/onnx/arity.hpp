// The inputs a saved graph's node of each tapegrad kind must have. The executor's kernels
// index their inputs directly, so load checks a file's nodes against this before running
// any; test_onnx_import checks that every traceable kind is listed (a new kind must be added
// here, or load refuses it). Internal to lib/onnx.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>

#include "tapegrad/export.hpp"

namespace tg::onnx::detail {

struct Arity {
    std::size_t min = 1, max = 1;      // max is SIZE_MAX for cat
    std::set<std::size_t> optional;    // positions that may be absent ("" in the file)
};

// False when `kind` is not listed. `layers` and `directions` size the recurrent kinds.
TG_API bool saved_arity(std::string_view kind, std::int64_t layers, std::int64_t directions, Arity& arity);

}  // namespace tg::onnx::detail
