// Tensor's own methods: metadata, element access, autograd state. The math methods
// forward to the free functions in ops.hpp (defined with their backward in lib/ops/).
#include "tapegrad/tensor.hpp"

#include "autograd/engine.hpp"
#include "autograd/record.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/trace.hpp"
#include "tensor/check.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg {

Tensor::Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
    if (!impl) throw Error("tensor: this tensor is undefined (default-constructed or moved from)");
    return *impl;
}
}  // namespace

const Shape& Tensor::sizes() const { return checked(impl_).sizes(); }
const Shape& Tensor::strides() const { return checked(impl_).strides(); }
std::int64_t Tensor::size(std::int64_t d) const {
    return sizes()[static_cast<std::size_t>(detail::wrap_dim(d, sizes(), "size"))];
}
std::int64_t Tensor::dim() const { return static_cast<std::int64_t>(sizes().size()); }
std::int64_t Tensor::numel() const { return checked(impl_).numel(); }
Dtype Tensor::dtype() const { return checked(impl_).dtype(); }
bool Tensor::is_floating_point() const { return tg::is_floating_point(dtype()); }
bool Tensor::is_contiguous() const { return checked(impl_).is_contiguous(); }
std::int64_t Tensor::storage_offset() const { return checked(impl_).offset(); }
bool Tensor::shares_storage(const Tensor& other) const {
    return defined() && other.defined() && impl_->storage() == other.impl_->storage();
}

template <class T> T* Tensor::data_ptr() {
    TG_CHECK(dtype_of<T>::value == dtype(), "data_ptr", "asked for {} data of a {} tensor of shape {}",
             dtype_name(dtype_of<T>::value), dtype_name(dtype()), sizes());
    return impl_->data_as<T>();
}
template <class T> const T* Tensor::data_ptr() const {
    return const_cast<Tensor*>(this)->data_ptr<T>();
}

template <class T> T Tensor::item() const {
    TG_CHECK(numel() == 1, "item", "expected a one-element tensor, got shape {}", sizes());
    if (auto* tracer = detail::active_tracer()) tracer->untraceable("item", *this);
    return detail::visit_dtype(dtype(), [&](auto v) {
        using S = decltype(v);
        return static_cast<T>(*impl_->data_as<S>());
    });
}

template <class T> std::vector<T> Tensor::to_vector() const {
    Tensor c = contiguous();
    std::vector<T> out(static_cast<std::size_t>(numel()));
    detail::visit_dtype(dtype(), [&](auto v) {
        using S = decltype(v);
        const S* p = c.impl_->data_as<S>();
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
    });
    return out;
}

#define TG_INSTANTIATE_DATA(T)                            \
    template T* Tensor::data_ptr<T>();                    \
    template const T* Tensor::data_ptr<T>() const;        \
    template T Tensor::item<T>() const;                   \
    template std::vector<T> Tensor::to_vector<T>() const;
TG_INSTANTIATE_DATA(float)
TG_INSTANTIATE_DATA(double)
TG_INSTANTIATE_DATA(std::int64_t)
TG_INSTANTIATE_DATA(bool)
#undef TG_INSTANTIATE_DATA
template int Tensor::item<int>() const;
template std::vector<int> Tensor::to_vector<int>() const;

double Tensor::at(const Shape& index) const {
    TG_CHECK(static_cast<std::int64_t>(index.size()) == dim(), "at",
             "index {} has {} entries for a tensor of shape {}", index, index.size(), sizes());
    std::int64_t offset = 0;
    for (std::size_t d = 0; d < index.size(); ++d) {
        TG_CHECK(index[d] >= 0 && index[d] < sizes()[d], "at", "index {} is out of range for shape {}",
                 index, sizes());
        offset += index[d] * strides()[d];
    }
    return detail::visit_dtype(dtype(), [&](auto v) {
        using S = decltype(v);
        return static_cast<double>(impl_->data_as<S>()[offset]);
    });
}

Tensor Tensor::operator[](std::int64_t index) const { return tg::select(*this, 0, index); }

// ---- autograd -------------------------------------------------------------------------

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad(); }

Tensor& Tensor::requires_grad_(bool requires_grad) {
    checked(impl_);
    if (requires_grad)
        TG_CHECK(is_floating_point(), "requires_grad_",
                 "only float32/float64 tensors can require gradients, got {} of shape {}",
                 dtype_name(dtype()), sizes());
    TG_CHECK(is_leaf() || requires_grad, "requires_grad_",
             "cannot turn off requires_grad of a non-leaf tensor (shape {}); use detach()", sizes());
    if (requires_grad || impl_->autograd()) impl_->ensure_autograd().requires_grad = requires_grad;
    return *this;
}

bool Tensor::is_leaf() const {
    auto* meta = checked(impl_).autograd();
    return !meta || !meta->grad_fn;
}

Tensor Tensor::grad() const {
    auto* meta = checked(impl_).autograd();
    return meta ? meta->grad : Tensor();
}

void Tensor::set_grad(const Tensor& grad) {
    if (grad.defined())
        TG_CHECK(grad.sizes() == sizes(), "set_grad", "gradient of shape {} for a tensor of shape {}",
                 grad.sizes(), sizes());
    impl_->ensure_autograd().grad = grad;
}

void Tensor::zero_grad(bool set_to_none) {
    auto* meta = checked(impl_).autograd();
    if (!meta || !meta->grad.defined()) return;
    if (set_to_none) {
        meta->grad = Tensor();
    } else {
        NoGradGuard no_grad;
        meta->grad = meta->grad.detach();
        meta->grad.zero_();
    }
}

void Tensor::retain_grad() {
    TG_CHECK(requires_grad(), "retain_grad", "tensor of shape {} does not require grad", sizes());
    if (is_leaf()) return;  // leaves keep their gradient anyway
    auto& meta = impl_->ensure_autograd();
    if (meta.retains_grad) return;
    meta.retains_grad = true;
    std::weak_ptr<TensorImpl> weak = impl_;
    meta.grad_fn->add_output_hook(meta.output_nr, [weak](const Tensor& g) {
        if (auto impl = weak.lock()) {
            Tensor& grad = impl->ensure_autograd().grad;
            grad = grad.defined() ? grad + g.detach() : g.detach().clone();
        }
        return Tensor();
    });
}

std::shared_ptr<Node> Tensor::grad_fn() const {
    auto* meta = checked(impl_).autograd();
    return meta ? meta->grad_fn : nullptr;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
    detail::backward_one(*this, gradient, retain_graph, create_graph);
}

Tensor Tensor::detach() const {
    const auto& impl = checked(impl_);
    return make_view(*this, impl.sizes(), impl.strides(), impl.offset());
}

Tensor& Tensor::detach_() {
    auto* meta = checked(impl_).autograd();
    if (meta) {
        meta->grad_fn.reset();
        meta->requires_grad = false;
    }
    return *this;
}

void Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) {
    TG_CHECK(requires_grad(), "register_hook", "tensor of shape {} does not require grad", sizes());
    auto& meta = impl_->ensure_autograd();
    if (meta.grad_fn)
        meta.grad_fn->add_output_hook(meta.output_nr, std::move(hook));
    else
        meta.leaf_hooks.push_back(std::move(hook));
}

std::uint64_t Tensor::version() const { return checked(impl_).storage()->version; }

Tensor& Tensor::set_name(std::string name) {
    checked(impl_);
    impl_->ensure_autograd().name = std::move(name);
    return *this;
}

std::string Tensor::name() const {
    auto* meta = checked(impl_).autograd();
    return meta ? meta->name : std::string();
}

// ---- method forms of the free ops --------------------------------------------------------

Tensor Tensor::reshape(const Shape& shape) const { return tg::reshape(*this, shape); }
Tensor Tensor::view(const Shape& shape) const { return tg::view(*this, shape); }
Tensor Tensor::flatten(std::int64_t s, std::int64_t e) const { return tg::flatten(*this, s, e); }
Tensor Tensor::transpose(std::int64_t d0, std::int64_t d1) const { return tg::transpose(*this, d0, d1); }
Tensor Tensor::t() const {
    TG_CHECK(dim() <= 2, "t", "expected a tensor of at most 2 dims, got shape {}", sizes());
    return dim() < 2 ? *this : tg::transpose(*this, 0, 1);
}
Tensor Tensor::permute(const Shape& dims) const { return tg::permute(*this, dims); }
Tensor Tensor::flip(const Shape& dims) const { return tg::flip(*this, dims); }
Tensor Tensor::roll(const Shape& shifts, const Shape& dims) const { return tg::roll(*this, shifts, dims); }
Tensor Tensor::repeat(const Shape& repeats) const { return tg::repeat(*this, repeats); }
std::tuple<Tensor, Tensor> Tensor::sort(std::int64_t dim, bool descending) const {
    return tg::sort(*this, dim, descending);
}
Tensor Tensor::argsort(std::int64_t dim, bool descending) const { return tg::argsort(*this, dim, descending); }
std::tuple<Tensor, Tensor> Tensor::topk(std::int64_t k, std::int64_t dim, bool largest, bool sorted) const {
    return tg::topk(*this, k, dim, largest, sorted);
}
Tensor Tensor::squeeze() const { return tg::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t d) const { return tg::squeeze(*this, d); }
Tensor Tensor::unsqueeze(std::int64_t d) const { return tg::unsqueeze(*this, d); }
Tensor Tensor::narrow(std::int64_t d, std::int64_t s, std::int64_t l) const { return tg::narrow(*this, d, s, l); }
Tensor Tensor::select(std::int64_t d, std::int64_t i) const { return tg::select(*this, d, i); }
Tensor Tensor::index_select(std::int64_t d, const Tensor& i) const { return tg::index_select(*this, d, i); }
Tensor Tensor::expand(const Shape& s) const { return tg::expand(*this, s); }

Tensor Tensor::sum() const { return tg::sum(*this); }
Tensor Tensor::sum(const Shape& dims, bool keepdim) const { return tg::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return tg::mean(*this); }
Tensor Tensor::mean(const Shape& dims, bool keepdim) const { return tg::mean(*this, dims, keepdim); }
Tensor Tensor::max() const { return tg::max(*this); }
Tensor Tensor::max(std::int64_t d, bool keepdim) const { return tg::max(*this, d, keepdim); }
Tensor Tensor::min() const { return tg::min(*this); }
Tensor Tensor::min(std::int64_t d, bool keepdim) const { return tg::min(*this, d, keepdim); }
Tensor Tensor::argmax(std::int64_t d, bool keepdim) const { return tg::argmax(*this, d, keepdim); }
Tensor Tensor::argmin(std::int64_t d, bool keepdim) const { return tg::argmin(*this, d, keepdim); }
Tensor Tensor::matmul(const Tensor& o) const { return tg::matmul(*this, o); }
Tensor Tensor::mm(const Tensor& o) const { return tg::mm(*this, o); }
Tensor Tensor::pow(double e) const { return tg::pow(*this, e); }
Tensor Tensor::pow(const Tensor& e) const { return tg::pow(*this, e); }
Tensor Tensor::exp() const { return tg::exp(*this); }
Tensor Tensor::log() const { return tg::log(*this); }
Tensor Tensor::sqrt() const { return tg::sqrt(*this); }
Tensor Tensor::sin() const { return tg::sin(*this); }
Tensor Tensor::isnan() const { return tg::isnan(*this); }
Tensor Tensor::isinf() const { return tg::isinf(*this); }
Tensor Tensor::isfinite() const { return tg::isfinite(*this); }
Tensor Tensor::any() const { return tg::any(*this); }
Tensor Tensor::any(std::int64_t dim, bool keepdim) const { return tg::any(*this, dim, keepdim); }
Tensor Tensor::all() const { return tg::all(*this); }
Tensor Tensor::all(std::int64_t dim, bool keepdim) const { return tg::all(*this, dim, keepdim); }
Tensor Tensor::nan_to_num(double nan, std::optional<double> posinf, std::optional<double> neginf) const {
    return tg::nan_to_num(*this, nan, posinf, neginf);
}
Tensor Tensor::cos() const { return tg::cos(*this); }
Tensor Tensor::rsqrt() const { return tg::rsqrt(*this); }
Tensor Tensor::reciprocal() const { return tg::reciprocal(*this); }
Tensor Tensor::expm1() const { return tg::expm1(*this); }
Tensor Tensor::log1p() const { return tg::log1p(*this); }
Tensor Tensor::erf() const { return tg::erf(*this); }
Tensor Tensor::prod() const { return tg::prod(*this); }
Tensor Tensor::prod(std::int64_t d, bool keepdim) const { return tg::prod(*this, d, keepdim); }
Tensor Tensor::cumsum(std::int64_t d) const { return tg::cumsum(*this, d); }
Tensor Tensor::logcumsumexp(std::int64_t d) const { return tg::logcumsumexp(*this, d); }
Tensor Tensor::scatter(std::int64_t d, const Tensor& index, const Tensor& src) const { return tg::scatter(*this, d, index, src); }
Tensor Tensor::scatter(std::int64_t d, const Tensor& index, double value) const { return tg::scatter(*this, d, index, value); }
Tensor Tensor::scatter_add(std::int64_t d, const Tensor& index, const Tensor& src) const {
    return tg::scatter_add(*this, d, index, src);
}
Tensor Tensor::index_add(std::int64_t d, const Tensor& index, const Tensor& source, double alpha) const {
    return tg::index_add(*this, d, index, source, alpha);
}
Tensor Tensor::index_copy(std::int64_t d, const Tensor& index, const Tensor& source) const {
    return tg::index_copy(*this, d, index, source);
}
Tensor Tensor::index_put(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) const {
    return tg::index_put(*this, indices, values, accumulate);
}
Tensor Tensor::triu(std::int64_t diagonal) const { return tg::triu(*this, diagonal); }
Tensor Tensor::tril(std::int64_t diagonal) const { return tg::tril(*this, diagonal); }
Tensor Tensor::outer(const Tensor& other) const { return tg::outer(*this, other); }
Tensor Tensor::baddbmm(const Tensor& batch1, const Tensor& batch2, double beta, double alpha) const {
    return tg::baddbmm(*this, batch1, batch2, beta, alpha);
}
Tensor Tensor::cumprod(std::int64_t d) const { return tg::cumprod(*this, d); }
Tensor Tensor::norm(double p, const Shape& dims, bool keepdim) const { return tg::norm(*this, p, dims, keepdim); }
Tensor Tensor::abs() const { return tg::abs(*this); }
Tensor Tensor::neg() const { return tg::neg(*this); }
Tensor Tensor::clamp(double lo, double hi) const { return tg::clamp(*this, lo, hi); }
Tensor Tensor::relu() const { return tg::relu(*this); }
Tensor Tensor::sigmoid() const { return tg::sigmoid(*this); }
Tensor Tensor::tanh() const { return tg::tanh(*this); }
Tensor Tensor::softmax(std::int64_t d) const { return tg::softmax(*this, d); }
Tensor Tensor::log_softmax(std::int64_t d) const { return tg::log_softmax(*this, d); }

}  // namespace tg
