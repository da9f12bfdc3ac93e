// TEMPORARY: weak placeholders (a real definition anywhere in the library overrides
// them at link time) for declared ops whose implementation has not landed yet.
// Each is deleted when its real definition lands; this file must be empty (and removed)
// before an issue is resolved.
#include "tapegrad/error.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/data/idx.hpp"

namespace tg {
[[gnu::weak]] Tensor pow(const Tensor& a, double exponent) { throw Error("pow: not implemented yet"); }
[[gnu::weak]] Tensor pow(const Tensor& a, const Tensor& exponent) { throw Error("pow: not implemented yet"); }
[[gnu::weak]] Tensor pow(double base, const Tensor& exponent) { throw Error("pow: not implemented yet"); }
[[gnu::weak]] Tensor sqrt(const Tensor& a) { throw Error("sqrt: not implemented yet"); }
[[gnu::weak]] Tensor abs(const Tensor& a) { throw Error("abs: not implemented yet"); }
[[gnu::weak]] Tensor sign(const Tensor& a) { throw Error("sign: not implemented yet"); }
[[gnu::weak]] Tensor square(const Tensor& a) { throw Error("square: not implemented yet"); }
[[gnu::weak]] Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max) { throw Error("clamp: not implemented yet"); }
[[gnu::weak]] Tensor maximum(const Tensor& a, const Tensor& b) { throw Error("maximum: not implemented yet"); }
[[gnu::weak]] Tensor minimum(const Tensor& a, const Tensor& b) { throw Error("minimum: not implemented yet"); }
[[gnu::weak]] Tensor eq(const Tensor& a, const Tensor& b) { throw Error("eq: not implemented yet"); }
[[gnu::weak]] Tensor ne(const Tensor& a, const Tensor& b) { throw Error("ne: not implemented yet"); }
[[gnu::weak]] Tensor lt(const Tensor& a, const Tensor& b) { throw Error("lt: not implemented yet"); }
[[gnu::weak]] Tensor le(const Tensor& a, const Tensor& b) { throw Error("le: not implemented yet"); }
[[gnu::weak]] Tensor gt(const Tensor& a, const Tensor& b) { throw Error("gt: not implemented yet"); }
[[gnu::weak]] Tensor ge(const Tensor& a, const Tensor& b) { throw Error("ge: not implemented yet"); }
[[gnu::weak]] Tensor operator==(const Tensor& a, const Tensor& b) { throw Error("operator==: not implemented yet"); }
[[gnu::weak]] Tensor operator!=(const Tensor& a, const Tensor& b) { throw Error("operator!=: not implemented yet"); }
[[gnu::weak]] Tensor operator<(const Tensor& a, const Tensor& b) { throw Error("operator<: not implemented yet"); }
[[gnu::weak]] Tensor operator<=(const Tensor& a, const Tensor& b) { throw Error("operator<=: not implemented yet"); }
[[gnu::weak]] Tensor operator>(const Tensor& a, const Tensor& b) { throw Error("operator>: not implemented yet"); }
[[gnu::weak]] Tensor operator>=(const Tensor& a, const Tensor& b) { throw Error("operator>=: not implemented yet"); }
[[gnu::weak]] Tensor operator==(const Tensor& a, double b) { throw Error("operator==: not implemented yet"); }
[[gnu::weak]] Tensor operator!=(const Tensor& a, double b) { throw Error("operator!=: not implemented yet"); }
[[gnu::weak]] Tensor operator<(const Tensor& a, double b) { throw Error("operator<: not implemented yet"); }
[[gnu::weak]] Tensor operator<=(const Tensor& a, double b) { throw Error("operator<=: not implemented yet"); }
[[gnu::weak]] Tensor operator>(const Tensor& a, double b) { throw Error("operator>: not implemented yet"); }
[[gnu::weak]] Tensor operator>=(const Tensor& a, double b) { throw Error("operator>=: not implemented yet"); }
[[gnu::weak]] Tensor logical_not(const Tensor& a) { throw Error("logical_not: not implemented yet"); }
[[gnu::weak]] Tensor logical_and(const Tensor& a, const Tensor& b) { throw Error("logical_and: not implemented yet"); }
[[gnu::weak]] Tensor logical_or(const Tensor& a, const Tensor& b) { throw Error("logical_or: not implemented yet"); }
[[gnu::weak]] Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) { throw Error("where: not implemented yet"); }
[[gnu::weak]] bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) { throw Error("allclose: not implemented yet"); }
[[gnu::weak]] bool equal(const Tensor& a, const Tensor& b) { throw Error("equal: not implemented yet"); }
[[gnu::weak]] Tensor max(const Tensor& a) { throw Error("max: not implemented yet"); }
[[gnu::weak]] Tensor max(const Tensor& a, std::int64_t dim, bool keepdim) { throw Error("max: not implemented yet"); }
[[gnu::weak]] Tensor min(const Tensor& a) { throw Error("min: not implemented yet"); }
[[gnu::weak]] Tensor min(const Tensor& a, std::int64_t dim, bool keepdim) { throw Error("min: not implemented yet"); }
[[gnu::weak]] Tensor argmax(const Tensor& a, std::int64_t dim, bool keepdim) { throw Error("argmax: not implemented yet"); }
[[gnu::weak]] Tensor argmin(const Tensor& a, std::int64_t dim, bool keepdim) { throw Error("argmin: not implemented yet"); }
[[gnu::weak]] Tensor argmax(const Tensor& a) { throw Error("argmax: not implemented yet"); }
[[gnu::weak]] Tensor argmin(const Tensor& a) { throw Error("argmin: not implemented yet"); }
[[gnu::weak]] Tensor var(const Tensor& a, const Shape& dims, bool unbiased, bool keepdim) { throw Error("var: not implemented yet"); }
[[gnu::weak]] Tensor std(const Tensor& a, const Shape& dims, bool unbiased, bool keepdim) { throw Error("std: not implemented yet"); }
[[gnu::weak]] Tensor logsumexp(const Tensor& a, std::int64_t dim, bool keepdim) { throw Error("logsumexp: not implemented yet"); }
[[gnu::weak]] Tensor index_select(const Tensor& a, std::int64_t dim, const Tensor& index) { throw Error("index_select: not implemented yet"); }
[[gnu::weak]] Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) { throw Error("cat: not implemented yet"); }
[[gnu::weak]] Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) { throw Error("stack: not implemented yet"); }
[[gnu::weak]] std::vector<Tensor> split(const Tensor& a, std::int64_t split_size, std::int64_t dim) { throw Error("split: not implemented yet"); }
[[gnu::weak]] std::vector<Tensor> chunk(const Tensor& a, std::int64_t chunks, std::int64_t dim) { throw Error("chunk: not implemented yet"); }
[[gnu::weak]] std::vector<Tensor> unbind(const Tensor& a, std::int64_t dim) { throw Error("unbind: not implemented yet"); }
[[gnu::weak]] Tensor masked_select(const Tensor& a, const Tensor& mask) { throw Error("masked_select: not implemented yet"); }
[[gnu::weak]] Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) { throw Error("masked_fill: not implemented yet"); }
[[gnu::weak]] Tensor gather(const Tensor& a, std::int64_t dim, const Tensor& index) { throw Error("gather: not implemented yet"); }
[[gnu::weak]] Tensor bmm(const Tensor& a, const Tensor& b) { throw Error("bmm: not implemented yet"); }
[[gnu::weak]] Tensor relu(const Tensor& a) { throw Error("relu: not implemented yet"); }
[[gnu::weak]] Tensor sigmoid(const Tensor& a) { throw Error("sigmoid: not implemented yet"); }
[[gnu::weak]] Tensor tanh(const Tensor& a) { throw Error("tanh: not implemented yet"); }
[[gnu::weak]] Tensor elu(const Tensor& a, double alpha) { throw Error("elu: not implemented yet"); }
[[gnu::weak]] Tensor leaky_relu(const Tensor& a, double negative_slope) { throw Error("leaky_relu: not implemented yet"); }
[[gnu::weak]] Tensor softplus(const Tensor& a) { throw Error("softplus: not implemented yet"); }
[[gnu::weak]] Tensor softmax(const Tensor& a, std::int64_t dim) { throw Error("softmax: not implemented yet"); }
[[gnu::weak]] Tensor log_softmax(const Tensor& a, std::int64_t dim) { throw Error("log_softmax: not implemented yet"); }
[[gnu::weak]] Tensor one_hot(const Tensor& indices, std::int64_t num_classes, Dtype dtype) { throw Error("one_hot: not implemented yet"); }
[[gnu::weak]] void set_num_threads(int threads) { throw Error("set_num_threads: not implemented yet"); }
[[gnu::weak]] int get_num_threads() { throw Error("get_num_threads: not implemented yet"); }
namespace data { [[gnu::weak]] Tensor load_idx(const std::string&, bool) { throw Error("load_idx: not implemented yet"); } }
namespace nn::functional {
[[gnu::weak]] Tensor softmax_cross_entropy_with_logits(const Tensor& logits, const Tensor& labels,
                                         Reduction reduction) { throw Error("softmax_cross_entropy_with_logits: not implemented yet"); }
[[gnu::weak]] Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     Reduction reduction) { throw Error("cross_entropy: not implemented yet"); }
[[gnu::weak]] Tensor nll_loss(const Tensor& log_probs, const Tensor& targets,
                Reduction reduction) { throw Error("nll_loss: not implemented yet"); }
}
}  // namespace tg
