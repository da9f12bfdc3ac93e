// Optional bridge to xtensor for programs that use it themselves. Not included by
// tapegrad.hpp: the core headers stay free of xtensor so they parse fast (REPL, JIT).
#pragma once

#include <cstdint>
#include <vector>

#include <xtensor/xarray.hpp>

#include "tapegrad/creation.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

// A copy of `t` as an xt::xarray<T> (values converted to T).
template <class T>
xt::xarray<T> to_xarray(const Tensor& t) {
    std::vector<std::size_t> shape(t.sizes().begin(), t.sizes().end());
    xt::xarray<T> out(shape);
    const std::vector<T> values = t.template to_vector<T>();
    std::copy(values.begin(), values.end(), out.begin());
    return out;
}

// A new tensor holding a copy of `a` (dtype from T: float, double, std::int64_t, bool).
template <class E>
Tensor from_xarray(const xt::xexpression<E>& expression) {
    using T = typename E::value_type;
    const auto& a = expression.derived_cast();
    Shape shape;
    for (auto s : a.shape()) shape.push_back(static_cast<std::int64_t>(s));
    xt::xarray<T> evaluated = a;  // row-major copy whatever the expression's layout
    std::vector<T> values(evaluated.begin(), evaluated.end());
    return from_vector(values, shape.empty() ? Shape{} : shape).reshape(shape);
}

}  // namespace tg

TG_PUBLIC_END
