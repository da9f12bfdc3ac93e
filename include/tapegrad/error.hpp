// tg::Error: the one exception type tapegrad throws for bad input.
#pragma once

#include <stdexcept>
#include <string>

#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

// Every message names the operation, the shapes involved and what was expected,
// e.g. "add: shapes [32, 10] and [32, 5] cannot broadcast (dim 1: 10 vs 5)".
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace tg

TG_PUBLIC_END
