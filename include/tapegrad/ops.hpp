// Differentiable operations on tensors. Binary ops broadcast like NumPy; a shape they
// cannot broadcast throws tg::Error naming the op, both shapes and the failing dim.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

// ---- elementwise arithmetic (lib/ops/elementwise.cpp) --------------------------------------
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a - alpha * b
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor rsub(const Tensor& a, double b);  // b - a
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor rdiv(const Tensor& a, double b);  // b / a
Tensor neg(const Tensor& a);
Tensor pow(const Tensor& a, double exponent);
Tensor pow(const Tensor& a, const Tensor& exponent);
Tensor pow(double base, const Tensor& exponent);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor sign(const Tensor& a);  // no gradient flows (zero almost everywhere)
Tensor square(const Tensor& a);
Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// ---- unary math (lib/ops/elementwise.cpp): float32/float64 inputs only ----
Tensor sin(const Tensor& a);
Tensor cos(const Tensor& a);
Tensor rsqrt(const Tensor& a);       // 1 / sqrt(a)
Tensor reciprocal(const Tensor& a);  // 1 / a
Tensor expm1(const Tensor& a);       // e^a - 1, accurate for small a
Tensor log1p(const Tensor& a);       // log(1 + a), accurate for small a
Tensor erf(const Tensor& a);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);

// ---- comparisons and selection (lib/ops/compare.cpp): bool results, no gradient -----------
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor logical_not(const Tensor& a);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
// NaN / Inf tests (bool results, never recorded); integer and bool tensors are always
// finite. Use them instead of the `t != t` trick: tg::isnan(t).any().item<bool>().
Tensor isnan(const Tensor& a);
Tensor isinf(const Tensor& a);     // +Inf or -Inf
Tensor isfinite(const Tensor& a);  // neither NaN nor Inf
// Logical reductions (libtorch's any/all): true where some / every element is nonzero. Over
// all elements a 0-d bool; over `dim` a bool tensor without it (kept as size 1 with keepdim).
Tensor any(const Tensor& a);
Tensor any(const Tensor& a, std::int64_t dim, bool keepdim = false);
Tensor all(const Tensor& a);
Tensor all(const Tensor& a, std::int64_t dim, bool keepdim = false);
// NaN -> nan, +Inf -> posinf, -Inf -> neginf (by default the dtype's largest / lowest finite
// value, as libtorch and numpy); the gradient passes where the input was finite, zero where
// a value was replaced. Integer and bool tensors come back unchanged (a copy).
Tensor nan_to_num(const Tensor& a, double nan = 0.0, std::optional<double> posinf = std::nullopt,
                  std::optional<double> neginf = std::nullopt);
// condition ? a : b, elementwise with broadcasting; differentiable in a and b.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
bool equal(const Tensor& a, const Tensor& b);  // same shape and exactly equal values

// ---- reductions (lib/ops/reduce.cpp) ------------------------------------------------------
// `dims` may be negative; an empty `dims` list reduces over every dim.
Tensor sum(const Tensor& a);
Tensor sum(const Tensor& a, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& a);
Tensor mean(const Tensor& a, const Shape& dims, bool keepdim = false);
Tensor max(const Tensor& a);  // over all elements
Tensor max(const Tensor& a, std::int64_t dim, bool keepdim = false);
Tensor min(const Tensor& a);
Tensor min(const Tensor& a, std::int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& a, std::int64_t dim, bool keepdim = false);  // int64
Tensor argmin(const Tensor& a, std::int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& a);  // index into the flattened tensor
Tensor argmin(const Tensor& a);
// Population variance/std (unbiased=false divides by N, TF-1's tf.nn.moments).
Tensor var(const Tensor& a, const Shape& dims, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& a, const Shape& dims, bool unbiased = true, bool keepdim = false);
// log(sum(exp(a))) along dim, max-shifted (lib/ops/softmax.cpp, next to softmax).
Tensor logsumexp(const Tensor& a, std::int64_t dim, bool keepdim = false);
// Products and running sums/products (libtorch's prod, cumsum, cumprod). Their gradients
// are exact with zeros in the input (they never divide by it).
Tensor prod(const Tensor& a);  // over all elements
Tensor prod(const Tensor& a, std::int64_t dim, bool keepdim = false);
Tensor cumsum(const Tensor& a, std::int64_t dim);
Tensor cumprod(const Tensor& a, std::int64_t dim);
// log(cumsum(exp(a))) along dim, computed as running log-add-exps (no overflow); floating only.
Tensor logcumsumexp(const Tensor& a, std::int64_t dim);
// Vector p-norm over `dims` (empty: all elements): (sum |a|^p)^(1/p) for p > 0, and
// max |a| for p = INFINITY (tf.norm's ord). Floating inputs only.
Tensor norm(const Tensor& a, double p = 2.0, const Shape& dims = {}, bool keepdim = false);

// ---- shape: views and layout copies (lib/ops/shape.cpp) -----------------------------------
// reshape/view accept one -1 dim. view never copies and requires compatible strides;
// reshape copies only when it must.
Tensor reshape(const Tensor& a, const Shape& shape);
Tensor view(const Tensor& a, const Shape& shape);
Tensor flatten(const Tensor& a, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
Tensor transpose(const Tensor& a, std::int64_t dim0, std::int64_t dim1);
Tensor permute(const Tensor& a, const Shape& dims);
Tensor squeeze(const Tensor& a);
Tensor squeeze(const Tensor& a, std::int64_t dim);
Tensor unsqueeze(const Tensor& a, std::int64_t dim);
Tensor expand(const Tensor& a, const Shape& sizes);  // -1 keeps a dim; a view, no copy
Tensor broadcast_to(const Tensor& a, const Shape& sizes);
Tensor narrow(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t length);
Tensor select(const Tensor& a, std::int64_t dim, std::int64_t index);

// ---- indexing, joining and splitting (lib/ops/index.cpp) ---------------------------------
Tensor index_select(const Tensor& a, std::int64_t dim, const Tensor& index);
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
// The splitting ops return views; each call is one tape node (backward: one cat).
std::vector<Tensor> split(const Tensor& a, std::int64_t split_size, std::int64_t dim = 0);
std::vector<Tensor> split_with_sizes(const Tensor& a, const std::vector<std::int64_t>& split_sizes,
                                     std::int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& a, std::int64_t chunks, std::int64_t dim = 0);
std::vector<Tensor> unbind(const Tensor& a, std::int64_t dim = 0);
// Elements where mask is true, as a 1-D tensor (mask broadcasts to a's shape).
Tensor masked_select(const Tensor& a, const Tensor& mask);
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);
// out[i][j] = a[i][index[i][j]] along `dim` (index has a's rank).
Tensor gather(const Tensor& a, std::int64_t dim, const Tensor& index);
// The writing forms (libtorch's semantics; each returns a new tensor, self is unchanged).
// scatter: out = self, then out[p with p_dim := index[p]] = src[p] for every position p of
// index (index has self's rank, fits in src everywhere and in self except along dim); the
// gradient reaches src at the written positions and self elsewhere. scatter_add adds instead.
Tensor scatter(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& self, std::int64_t dim, const Tensor& index, double value);
Tensor scatter_add(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src);
// out = self, then out.select(dim, index[j]) += alpha * source.select(dim, j) for each entry
// of the 1-D int64 index (repeated indices add up). index_copy assigns instead.
Tensor index_add(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& source, double alpha = 1.0);
Tensor index_copy(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& source);
// Advanced-index assignment (x[i, j] = v): the int64 index tensors address self's leading dims
// (they broadcast together; negative indices count from the end; a bool mask stands for its
// true positions), values broadcast to (index shape + remaining dims). accumulate adds.
Tensor index_put(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values,
                 bool accumulate = false);
// Layout copies (lib/ops/shape.cpp), libtorch's semantics; each backward is the same kind
// of op on the gradient. flip reverses the order along each of `dims` (tf.reverse).
Tensor flip(const Tensor& a, const Shape& dims);
// Shifts elements by shifts[i] along dims[i], wrapping around (tf.roll). Empty dims: the
// flattened tensor is rolled by the single shift and given back a's shape.
Tensor roll(const Tensor& a, const Shape& shifts, const Shape& dims = {});
// libtorch's Tensor::repeat (tf.tile): repeats.size() >= a.dim(); a gets leading 1-dims up
// to that rank and dim i is repeated repeats[i] times.
Tensor repeat(const Tensor& a, const Shape& repeats);
// torch.tile: repeat, with fewer reps than dims padded by leading 1s.
Tensor tile(const Tensor& a, const Shape& reps);

// ---- sorting (lib/ops/sort.cpp) -----------------------------------------------------------
// (values, indices int64) along `dim`. Stable: equal keys keep their input order. NaN sorts
// as larger than every number (last ascending, first descending), like libtorch. The values
// are a gather at the indices, so the gradient is scattered back to where each came from.
std::tuple<Tensor, Tensor> sort(const Tensor& a, std::int64_t dim = -1, bool descending = false);
Tensor argsort(const Tensor& a, std::int64_t dim = -1, bool descending = false);
// The k largest (or smallest) along `dim` (tf.nn.top_k); ties go to the lower index.
// sorted = false returns the k chosen elements in their input order.
std::tuple<Tensor, Tensor> topk(const Tensor& a, std::int64_t k, std::int64_t dim = -1, bool largest = true,
                                bool sorted = true);

// ---- linear algebra (lib/ops/linalg.cpp), through the library GEMM (lib/tensor/gemm.hpp) --
// matmul: 1-D·1-D (dot), 2-D·2-D, 1-D/2-D mixes, and batched 3-D (batch dims broadcast).
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);   // 2-D only
Tensor bmm(const Tensor& a, const Tensor& b);  // 3-D only, equal batch
Tensor dot(const Tensor& a, const Tensor& b);  // 1-D only
// beta * input + alpha * (a @ b): the fused dense-layer product.
Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta = 1.0,
             double alpha = 1.0);
// beta * input + alpha * bmm(batch1, batch2); input broadcasts to (B, n, m), ignored when beta == 0.
Tensor baddbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta = 1.0,
               double alpha = 1.0);
Tensor outer(const Tensor& a, const Tensor& b);  // 1-D a (n), b (m) -> (n, m)
// The upper (triu: column - row >= diagonal) or lower (tril: <=) triangle of the last two
// dims, zeros elsewhere (tf.linalg.band_part).
Tensor triu(const Tensor& a, std::int64_t diagonal = 0);
Tensor tril(const Tensor& a, std::int64_t diagonal = 0);
// Einstein summation, e.g. einsum("bij,bjk->bik", {a, b}), with "..." for broadcast dims and
// the implicit output (letters that occur once, alphabetically) when "->" is left out. Any
// number of operands; each pair is contracted with one bmm, so gradients are those of
// permute/reshape/sum/bmm. A label repeated within one operand (diagonals, traces) throws.
Tensor einsum(std::string_view equation, const std::vector<Tensor>& tensors);

// ---- similarities and distances (lib/ops/distance.cpp) ------------------------------------
// sum(x1 * x2) / sqrt(max(|x1|^2 |x2|^2, eps^2)) along dim; x1 and x2 broadcast.
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, std::int64_t dim = 1, double eps = 1e-8);
// ||x1 - x2 + eps||_p over the last dim.
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p = 2.0, double eps = 1e-6,
                         bool keepdim = false);

// ---- activations (lib/ops/activation.cpp) -------------------------------------------------
Tensor relu(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor elu(const Tensor& a, double alpha = 1.0);
Tensor leaky_relu(const Tensor& a, double negative_slope = 0.01);
// log(1 + e^(beta x)) / beta, and x where beta x > threshold (libtorch's arguments).
Tensor softplus(const Tensor& a, double beta = 1.0, double threshold = 20.0);
Tensor logsigmoid(const Tensor& a);  // log(sigmoid(x)) = -softplus(-x), stable
Tensor hardswish(const Tensor& a);   // x * relu6(x + 3) / 6
Tensor mish(const Tensor& a);        // x * tanh(softplus(x))
// libtorch's gelu: x * Phi(x) with the exact erf form (approximate = "none"), or
// approximate = "tanh": 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
Tensor gelu(const Tensor& a, std::string_view approximate = "none");
Tensor silu(const Tensor& a);  // x * sigmoid(x) (swish)
Tensor relu6(const Tensor& a);  // min(max(x, 0), 6)
Tensor hardtanh(const Tensor& a, double min_val = -1.0, double max_val = 1.0);
Tensor selu(const Tensor& a);  // scale * elu(x, alpha), libtorch's constants
Tensor softsign(const Tensor& a);  // x / (1 + |x|)
Tensor hardsigmoid(const Tensor& a);  // relu6(x + 3) / 6

// ---- softmax (lib/ops/softmax.cpp) -------------------------------------------------------
// Numerically stable: subtracts the max along `dim` first.
Tensor softmax(const Tensor& a, std::int64_t dim);
Tensor log_softmax(const Tensor& a, std::int64_t dim);
// (N) int64 class indices -> (N, num_classes); float32 unless asked otherwise
// (lib/ops/index.cpp; no gradient).
Tensor one_hot(const Tensor& indices, std::int64_t num_classes, Dtype dtype = kFloat32);

// ---- threads (lib/ops/threads.cpp) -------------------------------------------------------
// tapegrad owns one pool: OpenBLAS's. Sets how many threads matrix products use.
void set_num_threads(int threads);
int get_num_threads();

}  // namespace tg

TG_PUBLIC_END
