// Shared test helpers: gradcheck wrappers, exception-message matchers, value comparisons
// and scratch files.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
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

// CHECKs got against expected element by element: |got - expected| <= tol * (1 + |expected|)
// (tol relative for large values, absolute near zero); equal infinities match.
inline void check_close(const std::vector<double>& got, const std::vector<double>& expected, double tol = 1e-12) {
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("element " << i << ": got " << got[i] << ", expected " << expected[i] << " (tol " << tol << ")");
        CHECK((got[i] == expected[i] || std::abs(got[i] - expected[i]) <= tol * (1 + std::abs(expected[i]))));
    }
}
inline void check_close(const tg::Tensor& got, const std::vector<double>& expected, double tol = 1e-12) {
    check_close(values(got), expected, tol);
}
// The same shape, then the same values as above.
inline void check_close(const tg::Tensor& got, const tg::Tensor& expected, double tol = 1e-12) {
    REQUIRE(got.sizes() == expected.sizes());
    check_close(values(got), values(expected), tol);
}

// Same dtype, shape and bytes (bitwise: -0.0 differs from 0.0, NaN equals the same NaN).
template <class T>
bool same_bytes(const tg::Tensor& a, const tg::Tensor& b) {
    const std::vector<T> x = a.to_vector<T>(), y = b.to_vector<T>();
    return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0);
}
inline bool same_bits(const tg::Tensor& a, const tg::Tensor& b) {
    if (a.dtype() != b.dtype() || a.sizes() != b.sizes()) return false;
    switch (a.dtype()) {
        case tg::kFloat32: return same_bytes<float>(a, b);
        case tg::kFloat64: return same_bytes<double>(a, b);
        default: return same_bytes<std::int64_t>(a, b);  // int64 and bool (as 0/1)
    }
}

// A fresh directory under /tmp (unique, so test programs may run in parallel), removed with
// everything in it at scope end; file("name") is a path in it.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/tapegrad_test_XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path / name).string(); }
};

// The lines of a printed text (tape printouts, progress output), without the newlines.
inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

inline std::vector<unsigned char> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
inline void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace tgtest
