// Copies and conversions (to, contiguous, clone) and the in-place writes.
#include "autograd/record.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"

namespace tg {

using detail::GradList;

namespace {
// A new contiguous tensor of dtype `dtype` holding a's values.
Tensor copy_as(const Tensor& a, Dtype dtype) {
    Tensor out = make_tensor(a.sizes(), dtype);
    detail::visit_dtype(a.dtype(), [&](auto in) {
        using In = decltype(in);
        detail::visit_dtype(dtype, [&](auto o) {
            using Out = decltype(o);
            detail::unary_loop<Out, In>(a, out, [](In x) { return static_cast<Out>(x); });
        });
    });
    return out;
}
}  // namespace

Tensor Tensor::to(Dtype dtype) const {
    detail::check_defined(*this, "to");
    if (dtype == this->dtype()) return *this;
    Tensor out = copy_as(*this, dtype);
    if (tg::is_floating_point(dtype) && detail::needs_grad(*this)) {
        const Dtype from = this->dtype();
        detail::record("to", {*this}, out, [from](const Tensor& g) -> GradList { return {g.to(from)}; });
    }
    TG_TRACE("to", {*this}, out, {{"dtype", static_cast<std::int64_t>(dtype)}});
    return out;
}

Tensor Tensor::contiguous() const {
    detail::check_defined(*this, "contiguous");
    return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
    detail::check_defined(*this, "clone");
    Tensor out = copy_as(*this, dtype());
    if (detail::needs_grad(*this))
        detail::record("clone", {*this}, out, [](const Tensor& g) -> GradList { return {g}; });
    TG_TRACE("clone", {*this}, out);
    return out;
}

// ---- in-place writes: no tape; they bump the storage version ------------------------------
// While tracing, a write is recorded as its out-of-place op (`traced_form`), and the tracer
// is told that the target now holds that value: accumulating into a zeros() tensor, or
// scaling an activation in place, traces like the out-of-place code.

namespace {
// target[i] = f(target[i], other[i]) with other broadcast to target's shape.
template <class F, class TracedForm>
Tensor& inplace_binary(Tensor& target, const Tensor& other, std::string_view op, F&& f, TracedForm&& traced_form) {
    detail::check_inplace(target, op);
    detail::check_defined(other, op);
    const Shape shape = detail::broadcast_shape(target.sizes(), other.sizes(), op);
    TG_CHECK(shape == target.sizes(), op, "cannot write a result of shape {} into a tensor of shape {}",
             shape, target.sizes());
    Tensor traced;
    if (detail::active_tracer() != nullptr) {
        NoGradGuard no_grad;
        traced = traced_form(target, other);
    }
    const Tensor src = other.dtype() == target.dtype() ? other : other.to(target.dtype());
    detail::visit_dtype(target.dtype(), [&](auto v) {
        using T = decltype(v);
        detail::binary_loop<T, T, T>(target, src, target, [&](T x, T y) { return static_cast<T>(f(x, y)); });
    });
    detail::bump_version(target);
    if (traced.defined())
        if (detail::Tracer* tracer = detail::active_tracer()) tracer->assigned(target, traced);
    return target;
}

// The whole of target replaced by `value` (broadcast, in target's dtype): a where on a true
// scalar keeps target's shape without naming its sizes, so a dynamic batch stays dynamic.
Tensor replaced_by(const Tensor& target, const Tensor& value) {
    return where(scalar_tensor(1.0, kBool), value.to(target.dtype()), target);
}
}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
    auto traced = [alpha](const Tensor& t, const Tensor& o) { return add(t, o.to(t.dtype()), alpha); };
    if (alpha == 1.0) return inplace_binary(*this, other, "add_", [](auto x, auto y) { return x + y; }, traced);
    return inplace_binary(*this, other, "add_", [alpha](auto x, auto y) { return x + alpha * y; }, traced);
}
Tensor& Tensor::sub_(const Tensor& other) {
    return inplace_binary(*this, other, "sub_", [](auto x, auto y) { return x - y; },
                          [](const Tensor& t, const Tensor& o) { return sub(t, o.to(t.dtype())); });
}
Tensor& Tensor::mul_(const Tensor& other) {
    return inplace_binary(*this, other, "mul_", [](auto x, auto y) { return x * y; },
                          [](const Tensor& t, const Tensor& o) { return mul(t, o.to(t.dtype())); });
}
Tensor& Tensor::div_(const Tensor& other) {
    // div is true division (float result); writing it into an integer tensor would need
    // integer division, which crashes (SIGFPE) on a zero divisor. Refuse, as libtorch does.
    TG_CHECK(is_floating_point(), "div_",
             "true division cannot be written in place into a {} tensor of shape {}; use div() (float result)",
             dtype_name(dtype()), sizes());
    return inplace_binary(*this, other, "div_", [](auto x, auto y) { return x / y; },
                          [](const Tensor& t, const Tensor& o) { return div(t, o.to(t.dtype())); });
}
Tensor& Tensor::add_(double value) { return add_(scalar_tensor(value, dtype())); }
Tensor& Tensor::mul_(double value) { return mul_(scalar_tensor(value, dtype())); }
Tensor& Tensor::div_(double value) { return div_(scalar_tensor(value, dtype())); }
Tensor& Tensor::zero_() { return fill_(0.0); }
Tensor& Tensor::fill_(double value) {
    return inplace_binary(*this, scalar_tensor(value, dtype()), "fill_", [](auto, auto y) { return y; }, replaced_by);
}
Tensor& Tensor::copy_(const Tensor& src) {
    return inplace_binary(*this, src, "copy_", [](auto, auto y) { return y; }, replaced_by);
}
// The assigned tensor is computed out of place (index_put checks and writes nothing yet),
// then copied back: one code path for both forms.
Tensor& Tensor::index_put_(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
    detail::check_inplace(*this, "index_put_");
    return copy_(tg::index_put(detach(), indices, values.detach(), accumulate));
}

}  // namespace tg
