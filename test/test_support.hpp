// Shared test helpers: gradcheck wrappers and exception-message matchers.
#pragma once

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tapegrad/tapegrad.hpp"

namespace tgtest {

// A float64 leaf tensor of `shape` with values in [lo, hi), requiring grad.
inline tg::Tensor leaf(const tg::Shape& shape, double lo = -1.0, double hi = 1.0) {
    return tg::uniform(shape, lo, hi, tg::kFloat64).requires_grad_();
}

// REQUIRE that fn's gradients match finite differences; prints where they differ.
#define REQUIRE_GRADCHECK(fn, inputs)                                   \
    do {                                                                \
        std::string gradcheck_report;                                   \
        bool gradcheck_ok = tg::autograd::gradcheck(fn, inputs, {}, &gradcheck_report); \
        INFO(gradcheck_report);                                         \
        REQUIRE(gradcheck_ok);                                          \
    } while (0)

// REQUIRE that `expr` throws tg::Error whose message contains every fragment.
#define REQUIRE_TG_ERROR(expr, ...)                                     \
    do {                                                                \
        bool threw = false;                                             \
        try {                                                           \
            (void)(expr);                                               \
        } catch (const tg::Error& e) {                                  \
            threw = true;                                               \
            const std::string what = e.what();                          \
            for (const std::string& fragment : std::vector<std::string>{__VA_ARGS__}) { \
                INFO("message: " << what);                              \
                CHECK(what.find(fragment) != std::string::npos);        \
            }                                                           \
        }                                                               \
        REQUIRE(threw);                                                 \
    } while (0)

inline std::vector<double> values(const tg::Tensor& t) { return t.to_vector<double>(); }

}  // namespace tgtest
