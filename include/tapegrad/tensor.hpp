// tg::Tensor: a cheap-to-copy handle to shared storage plus a view (sizes, strides,
// offset) and, for tensors that take part in autograd, their tape metadata.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "tapegrad/dtype.hpp"
#include "tapegrad/shape.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

class TensorImpl;
class Node;

class Tensor {
public:
    Tensor() = default;  // an undefined tensor (like libtorch's): defined() is false
    explicit Tensor(std::shared_ptr<TensorImpl> impl);

    // ---- metadata -------------------------------------------------------------------
    bool defined() const { return impl_ != nullptr; }
    const Shape& sizes() const;
    const Shape& strides() const;
    std::int64_t size(std::int64_t dim) const;  // negative dims count from the end
    std::int64_t dim() const;
    std::int64_t numel() const;
    Dtype dtype() const;
    bool is_floating_point() const;
    bool is_contiguous() const;
    std::int64_t storage_offset() const;
    bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
    // True when both views read the same storage buffer.
    bool shares_storage(const Tensor& other) const;
    // The implementation behind the handle (for tapegrad's own code).
    TensorImpl* unsafe_impl() const { return impl_.get(); }
    const std::shared_ptr<TensorImpl>& unsafe_impl_ptr() const { return impl_; }

    // ---- element data ---------------------------------------------------------------
    // Pointer to the first element of this view; T must match dtype(). For contiguous
    // tensors the elements follow in row-major order; otherwise index with strides().
    template <class T> T* data_ptr();
    template <class T> const T* data_ptr() const;
    // The single element of a one-element tensor, converted to T.
    template <class T> T item() const;
    // All elements in row-major order, converted to T.
    template <class T> std::vector<T> to_vector() const;
    // One element by its full index, converted to double (for tests and printing).
    double at(const Shape& index) const;
    Tensor operator[](std::int64_t index) const;  // select(0, index)

    // ---- autograd ---------------------------------------------------------------------
    bool requires_grad() const;
    // Marks a leaf as a variable whose gradient backward() accumulates into grad().
    Tensor& requires_grad_(bool requires_grad = true);
    bool is_leaf() const;
    Tensor grad() const;  // undefined until a backward pass reached this tensor
    void set_grad(const Tensor& grad);
    void zero_grad(bool set_to_none = true);
    // Keep grad() for a non-leaf tensor too (libtorch's retain_grad).
    void retain_grad();
    std::shared_ptr<Node> grad_fn() const;  // the tape node that produced this tensor
    void backward(const Tensor& gradient = {}, bool retain_graph = false,
                  bool create_graph = false) const;
    // A tensor sharing the data but cut from the tape (= tf.stop_gradient).
    Tensor detach() const;
    Tensor& detach_();
    // Calls `hook(grad)` when the gradient of this tensor is computed; a defined return
    // value replaces the gradient that flows on.
    void register_hook(std::function<Tensor(const Tensor&)> hook);
    // Bumped by every in-place write to the storage; the tape checks it.
    std::uint64_t version() const;
    // A user-given name shown by debugging aids and error messages.
    Tensor& set_name(std::string name);
    std::string name() const;

    // ---- conversions and copies -------------------------------------------------------
    Tensor to(Dtype dtype) const;  // same tensor when already that dtype
    Tensor contiguous() const;     // same tensor when already contiguous
    Tensor clone() const;

    // ---- views and shape (see ops.hpp for the free functions) -------------------------
    Tensor reshape(const Shape& shape) const;
    Tensor view(const Shape& shape) const;
    Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
    Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
    Tensor t() const;  // transpose of a 2-D tensor
    Tensor permute(const Shape& dims) const;
    Tensor squeeze() const;
    Tensor squeeze(std::int64_t dim) const;
    Tensor unsqueeze(std::int64_t dim) const;
    Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
    Tensor select(std::int64_t dim, std::int64_t index) const;
    Tensor index_select(std::int64_t dim, const Tensor& index) const;
    Tensor expand(const Shape& sizes) const;
    Tensor scatter(std::int64_t dim, const Tensor& index, const Tensor& src) const;
    Tensor scatter(std::int64_t dim, const Tensor& index, double value) const;
    Tensor scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const;
    Tensor index_add(std::int64_t dim, const Tensor& index, const Tensor& source, double alpha = 1.0) const;
    Tensor index_copy(std::int64_t dim, const Tensor& index, const Tensor& source) const;
    Tensor index_put(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate = false) const;
    Tensor triu(std::int64_t diagonal = 0) const;
    Tensor tril(std::int64_t diagonal = 0) const;
    Tensor flip(const Shape& dims) const;
    Tensor roll(const Shape& shifts, const Shape& dims = {}) const;
    Tensor repeat(const Shape& repeats) const;
    // (values, indices), as tg::sort / tg::topk
    std::tuple<Tensor, Tensor> sort(std::int64_t dim = -1, bool descending = false) const;
    Tensor argsort(std::int64_t dim = -1, bool descending = false) const;
    std::tuple<Tensor, Tensor> topk(std::int64_t k, std::int64_t dim = -1, bool largest = true,
                                    bool sorted = true) const;

    // ---- math (see ops.hpp) -----------------------------------------------------------
    Tensor sum() const;
    Tensor sum(const Shape& dims, bool keepdim = false) const;
    Tensor mean() const;
    Tensor mean(const Shape& dims, bool keepdim = false) const;
    Tensor max() const;
    Tensor max(std::int64_t dim, bool keepdim = false) const;
    Tensor min() const;
    Tensor min(std::int64_t dim, bool keepdim = false) const;
    Tensor argmax(std::int64_t dim, bool keepdim = false) const;
    Tensor argmin(std::int64_t dim, bool keepdim = false) const;
    Tensor matmul(const Tensor& other) const;
    Tensor mm(const Tensor& other) const;
    Tensor outer(const Tensor& other) const;
    Tensor baddbmm(const Tensor& batch1, const Tensor& batch2, double beta = 1.0, double alpha = 1.0) const;
    Tensor pow(double exponent) const;
    Tensor pow(const Tensor& exponent) const;
    Tensor exp() const;
    Tensor log() const;
    Tensor sqrt() const;
    Tensor sin() const;
    Tensor cos() const;
    Tensor rsqrt() const;
    Tensor reciprocal() const;
    Tensor expm1() const;
    Tensor log1p() const;
    Tensor erf() const;
    Tensor prod() const;
    Tensor prod(std::int64_t dim, bool keepdim = false) const;
    Tensor cumsum(std::int64_t dim) const;
    Tensor cumprod(std::int64_t dim) const;
    Tensor logcumsumexp(std::int64_t dim) const;
    Tensor norm(double p = 2.0, const Shape& dims = {}, bool keepdim = false) const;
    Tensor abs() const;
    Tensor isnan() const;
    Tensor isinf() const;
    Tensor isfinite() const;
    Tensor any() const;
    Tensor any(std::int64_t dim, bool keepdim = false) const;
    Tensor all() const;
    Tensor all(std::int64_t dim, bool keepdim = false) const;
    Tensor nan_to_num(double nan = 0.0, std::optional<double> posinf = std::nullopt,
                      std::optional<double> neginf = std::nullopt) const;
    Tensor neg() const;
    Tensor clamp(double min, double max) const;
    Tensor relu() const;
    Tensor sigmoid() const;
    Tensor tanh() const;
    Tensor softmax(std::int64_t dim) const;
    Tensor log_softmax(std::int64_t dim) const;

    // ---- in-place writes ----------------------------------------------------------------
    // Allowed on tensors that do not require grad, and on leaves under NoGradGuard (what
    // optimizers do). They bump version() so a tape that saved this tensor notices.
    Tensor& add_(const Tensor& other, double alpha = 1.0);
    Tensor& add_(double value);
    Tensor& sub_(const Tensor& other);
    Tensor& mul_(const Tensor& other);
    Tensor& mul_(double value);
    Tensor& div_(const Tensor& other);
    Tensor& div_(double value);
    Tensor& zero_();
    Tensor& fill_(double value);
    Tensor& copy_(const Tensor& src);  // broadcasts src to this shape, converts dtype
    // x.index_put_({i, j}, v): advanced-index assignment in place (tg::index_put, copied back).
    Tensor& index_put_(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate = false);

private:
    std::shared_ptr<TensorImpl> impl_;
};

// Values (abbreviated when large), then shape and dtype.
std::ostream& operator<<(std::ostream& os, const Tensor& tensor);

}  // namespace tg

TG_PUBLIC_END
