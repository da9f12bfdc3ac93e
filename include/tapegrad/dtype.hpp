// Runtime element types of a tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>

#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

enum class Dtype : std::uint8_t { Bool, Int64, Float32, Float64 };

// libtorch spellings, so `tg::kFloat32` reads like `torch::kFloat32`.
inline constexpr Dtype kBool = Dtype::Bool;
inline constexpr Dtype kInt64 = Dtype::Int64;
inline constexpr Dtype kLong = Dtype::Int64;
inline constexpr Dtype kFloat32 = Dtype::Float32;
inline constexpr Dtype kFloat = Dtype::Float32;
inline constexpr Dtype kFloat64 = Dtype::Float64;
inline constexpr Dtype kDouble = Dtype::Float64;

std::string_view dtype_name(Dtype dtype);  // "float32", "int64", ...
// Inline: every op asks these of its operands (per-op overhead, issue 15).
inline constexpr std::size_t element_size(Dtype dtype) {
    switch (dtype) {
        case Dtype::Bool: return sizeof(bool);
        case Dtype::Int64: return sizeof(std::int64_t);
        case Dtype::Float32: return sizeof(float);
        case Dtype::Float64: return sizeof(double);
    }
    return 0;
}
inline constexpr bool is_floating_point(Dtype dtype) { return dtype == Dtype::Float32 || dtype == Dtype::Float64; }
// The dtype both operands of an arithmetic op are converted to: the wider of the two in
// the order bool < int64 < float32 < float64 (as libtorch promotes). The enum is declared
// in that order, so the wider type is the larger value.
inline constexpr Dtype promote_types(Dtype a, Dtype b) { return a < b ? b : a; }
std::ostream& operator<<(std::ostream& os, Dtype dtype);

// Maps a C++ element type to its Dtype.
template <class T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr Dtype value = kBool; };
template <> struct dtype_of<std::int64_t> { static constexpr Dtype value = kInt64; };
template <> struct dtype_of<float> { static constexpr Dtype value = kFloat32; };
template <> struct dtype_of<double> { static constexpr Dtype value = kFloat64; };

}  // namespace tg

TG_PUBLIC_END
