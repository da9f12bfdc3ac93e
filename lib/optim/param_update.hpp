// The typed start every optimizer's update shares, written once for lib/optim/<name>.cpp.
#pragma once

#include <string_view>

#include "tapegrad/tensor.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::detail {

// Calls update(p, g) with the parameter's and the gradient's data as T* and const T*, T being
// the parameter's floating type (float or double): the elementwise step goes in update.
template <class Update>
void visit_param_and_grad(std::string_view op, Tensor& param, const Tensor& grad, Update&& update) {
    visit_floating(param.dtype(), op, [&](auto v) {
        using T = decltype(v);
        update(impl_of(param).data_as<T>(), static_cast<const T*>(impl_of(grad).data_as<T>()));
    });
}

}  // namespace tg::detail
