// The optimizers' "must be >= 0" option checks, written once as a table each optimizer fills.
#pragma once

#include <initializer_list>
#include <string_view>
#include <utility>

#include "tensor/check.hpp"

namespace tg::detail {

// Throws "<optimizer>: invalid <name> <value> (expected >= 0)" for the first value that is
// negative or NaN.
inline void check_non_negative(std::string_view optimizer,
                               std::initializer_list<std::pair<const char*, double>> values) {
    for (const auto& [name, value] : values)
        TG_CHECK(value >= 0, optimizer, "invalid {} {} (expected >= 0)", name, value);
}

}  // namespace tg::detail
