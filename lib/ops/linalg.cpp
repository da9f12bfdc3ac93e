// Matrix products: mm, addmm, bmm, matmul, dot, and the dense op behind addmm, linear and
// gate_linear (see dense.hpp). Every product is one call of the library's GEMM
// (tensor/gemm.hpp): never a hand-written loop.
#include <algorithm>
#include <cstring>

#include "autograd/record.hpp"
#include "ops/dense.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/broadcast.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/elementwise.hpp"
#include "tensor/gemm.hpp"

namespace tg {

using detail::GradList;
using detail::SavedTensor;

namespace {

// How the GEMM should read a 2-D operand: row-major as is, or as the transpose of a
// row-major matrix (so a.t() costs no copy). Anything else is made contiguous first.
struct BlasOperand {
    Tensor data;
    detail::Transpose trans;
    std::int64_t ld;
};

BlasOperand blas_operand(const Tensor& m) {
    const auto& st = m.strides();
    const std::int64_t rows = m.sizes()[0], cols = m.sizes()[1];
    if ((st[1] == 1 || cols == 1) && st[0] >= std::max<std::int64_t>(cols, 1))
        return {m, detail::Transpose::No, st[0]};
    if ((st[0] == 1 || rows == 1) && st[1] >= std::max<std::int64_t>(rows, 1))
        return {m, detail::Transpose::Yes, st[1]};
    Tensor c = m.detach().contiguous();
    return {c, detail::Transpose::No, std::max<std::int64_t>(cols, 1)};
}

// out (m x n, contiguous) = alpha * a @ b + beta * out
void gemm_into(const Tensor& a, const Tensor& b, Tensor& out, double alpha, double beta) {
    const BlasOperand A = blas_operand(a), B = blas_operand(b);
    const std::int64_t m = a.sizes()[0], k = a.sizes()[1], n = b.sizes()[1];
    detail::visit_floating(out.dtype(), "gemm", [&](auto v) {
        using T = decltype(v);
        detail::gemm<T>(A.trans, B.trans, m, n, k, static_cast<T>(alpha), impl_of(A.data).data_as<T>(), A.ld,
                        impl_of(B.data).data_as<T>(), B.ld, static_cast<T>(beta), impl_of(out).data_as<T>(),
                        std::max<std::int64_t>(n, 1));
    });
}

void check_mm(const Tensor& a, const Tensor& b, std::string_view op) {
    detail::check_floating(a, op);
    detail::check_floating(b, op);
    detail::check_same_dtype(a, b, op);
    TG_CHECK(a.dim() == 2 && b.dim() == 2, op, "expected 2-D matrices, got shapes {} and {}", a.sizes(), b.sizes());
    TG_CHECK(a.sizes()[1] == b.sizes()[0], op,
             "shapes {} and {} cannot be multiplied (inner dims {} vs {})", a.sizes(), b.sizes(), a.sizes()[1],
             b.sizes()[0]);
}

// out = t broadcast to out's shape (a bias row or a full (N, G) block: one memcpy each).
void write_broadcast(Tensor& out, const Tensor& t) {
    const std::int64_t N = out.sizes()[0], G = out.sizes()[1];
    const bool row = t.sizes() == Shape{G}, full = t.sizes() == out.sizes();
    if (!(row || full) || !t.is_contiguous()) {
        out.copy_(expand(t.detach(), out.sizes()));
        return;
    }
    detail::visit_floating(out.dtype(), "dense", [&](auto v) {
        using T = decltype(v);
        T* po = impl_of(out).data_as<T>();
        const T* pt = impl_of(t).data_as<T>();
        const auto row_bytes = static_cast<std::size_t>(G) * sizeof(T);
        if (N * G == 0) return;
        if (full)
            std::memcpy(po, pt, static_cast<std::size_t>(N) * row_bytes);
        else
            for (std::int64_t n = 0; n < N; ++n) std::memcpy(po + n * G, pt, row_bytes);
    });
}

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
    check_mm(a, b, "mm");
    // beta = 0 makes the GEMM write every element, so the output needs no zero fill unless
    // the inner dimension is empty (then nothing is written).
    const Shape out_shape{a.sizes()[0], b.sizes()[1]};
    Tensor out = a.sizes()[1] == 0 ? zeros(out_shape, a.dtype()) : make_tensor(out_shape, a.dtype());
    gemm_into(a, b, out, 1.0, 0.0);
    if (detail::needs_grad(a, b))
        detail::record("mm", {a, b}, out,
                       [sa = SavedTensor(b.requires_grad() ? a : Tensor()), sb = SavedTensor(a.requires_grad() ? b : Tensor()),
                        ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) -> GradList {
                           return {ra ? mm(g, sb.unpack().t()) : Tensor(), rb ? mm(sa.unpack().t(), g) : Tensor()};
                       });
    TG_TRACE("mm", {a, b}, out);
    return out;
}

namespace detail {

Tensor dense(std::string_view op, const Tensor& x, const Tensor& weight, WeightLayout layout, const Tensor& bias,
             const Tensor& add, double beta, double alpha, WeightGradFn weight_grad) {
    const bool out_in = layout == WeightLayout::OutIn;
    const Tensor w = out_in ? weight.detach().t() : weight;  // (K, G) as the GEMM reads it
    const Shape out_shape{x.sizes()[0], w.sizes()[1]};
    const bool has_addend = bias.defined() || add.defined();
    Tensor out = !has_addend && x.sizes()[1] == 0 ? zeros(out_shape, x.dtype()) : make_tensor(out_shape, x.dtype());
    if (has_addend) {
        write_broadcast(out, add.defined() ? add : bias);
        if (add.defined() && bias.defined()) out.add_(bias.detach());
    }
    gemm_into(x, w, out, alpha, has_addend ? beta : 0.0);

    std::vector<Tensor> inputs;
    if (out_in)
        inputs = {x, weight, bias, add};
    else
        inputs = {bias, x, weight};
    std::erase_if(inputs, [](const Tensor& t) { return !t.defined(); });
    if (!needs_grad(inputs)) return out;
    const bool rx = x.requires_grad(), rw = weight.requires_grad();
    // One backward for every form: two products and the addends' (broadcast-reduced) sums.
    auto backward = [sx = SavedTensor(rw ? x : Tensor()), sw = SavedTensor(rx ? weight : Tensor()), rx, rw, out_in,
                     has_bias = bias.defined(), has_add = add.defined(), bias_info = InputInfo(bias.defined() ? bias : x),
                     add_info = InputInfo(add.defined() ? add : x), alpha, beta,
                     weight_grad = std::move(weight_grad)](const Tensor& g) -> GradList {
        const auto scaled = [](Tensor t, double s) { return s == 1.0 ? t : t * s; };
        Tensor dx, dw;
        if (rx) dx = scaled(out_in ? mm(g, sw.unpack()) : mm(g, sw.unpack().t()), alpha);
        if (rw) {
            const Tensor xs = sx.unpack();
            dw = scaled(weight_grad ? weight_grad(g, xs) : out_in ? mm(g.t(), xs) : mm(xs.t(), g), alpha);
        }
        const Tensor g_addend = scaled(g, beta);
        const Tensor db = has_bias ? bias_info.reduce(g_addend) : Tensor();
        const Tensor da = has_add ? add_info.reduce(g_addend) : Tensor();
        GradList grads;
        if (out_in) {
            grads = {dx, dw};
            if (has_bias) grads.push_back(db);
            if (has_add) grads.push_back(da);
        } else {
            if (has_bias) grads.push_back(db);
            grads.push_back(dx);
            grads.push_back(dw);
        }
        return grads;
    };
    record(op, inputs, out, std::move(backward));
    return out;
}

}  // namespace detail

Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta, double alpha) {
    check_mm(a, b, "addmm");
    detail::check_same_dtype(input, a, "addmm");
    const Shape out_shape{a.sizes()[0], b.sizes()[1]};
    detail::check_defined(input, "addmm");
    const Shape& in = input.sizes();
    TG_CHECK(in.size() <= 2 && (in.size() < 1 || in[in.size() - 1] == 1 || in[in.size() - 1] == out_shape[1]) &&
                 (in.size() < 2 || in[0] == 1 || in[0] == out_shape[0]),
             "addmm", "input of shape {} does not broadcast to the product's shape {} ({} @ {})", in,
             out_shape, a.sizes(), b.sizes());
    Tensor out = detail::dense("addmm", a, b, detail::WeightLayout::InOut, input, {}, beta, alpha);
    TG_TRACE("addmm", {input, a, b}, out, {{"beta", beta}, {"alpha", alpha}});
    return out;
}

namespace nn::functional {

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
    detail::check_defined(input, "linear");
    detail::check_defined(weight, "linear");
    TG_CHECK(weight.dim() == 2, "linear", "weight must be 2-D (out_features, in_features), got shape {}",
             weight.sizes());
    TG_CHECK(input.dim() >= 1, "linear", "input must have at least 1 dim, got shape {}", input.sizes());
    TG_CHECK(input.size(-1) == weight.sizes()[1], "linear",
             "input shape {} has {} features in its last dim but weight shape {} expects {}", input.sizes(),
             input.size(-1), weight.sizes(), weight.sizes()[1]);
    if (bias.defined())
        TG_CHECK(bias.dim() == 1 && bias.sizes()[0] == weight.sizes()[0], "linear",
                 "bias shape {} does not match weight shape {} (expected [{}])", bias.sizes(), weight.sizes(),
                 weight.sizes()[0]);
    detail::check_floating(input, "linear");
    detail::check_same_dtype(input, weight, "linear");
    if (bias.defined()) detail::check_same_dtype(input, bias, "linear");
    if (input.dim() == 2) {
        Tensor out = detail::dense("linear", input, weight, detail::WeightLayout::OutIn, bias);
        TG_TRACE("linear", {input, weight, bias}, out);
        return out;
    }
    if (input.dim() == 1) return squeeze(linear(unsqueeze(input, 0), weight, bias), 0);
    // (..., in): fold the leading dims into the rows of one GEMM.
    Shape out_shape(input.sizes().data(), input.sizes().size() - 1);
    out_shape.push_back(weight.sizes()[0]);
    return reshape(linear(reshape(input, {-1, input.size(-1)}), weight, bias), out_shape);
}

}  // namespace nn::functional

// The batched product of a (B, n, k) and b (B, k, m): one cblas GEMM per batch entry.
// Each 2-D slice is handed to cblas as a strided view, so transposed slices and batch
// dims expanded with stride 0 (matmul's broadcasting) cost no copy.
Tensor bmm(const Tensor& a, const Tensor& b) {
    detail::check_defined(a, "bmm");
    detail::check_defined(b, "bmm");
    TG_CHECK(a.dim() == 3 && b.dim() == 3, "bmm", "expected 3-D tensors, got shapes {} and {}", a.sizes(),
             b.sizes());
    detail::check_floating(a, "bmm");
    detail::check_floating(b, "bmm");
    detail::check_same_dtype(a, b, "bmm");
    TG_CHECK(a.sizes()[0] == b.sizes()[0], "bmm", "shapes {} and {} differ in batch size ({} vs {})", a.sizes(),
             b.sizes(), a.sizes()[0], b.sizes()[0]);
    TG_CHECK(a.sizes()[2] == b.sizes()[1], "bmm", "shapes {} and {} cannot be multiplied (inner dims {} vs {})",
             a.sizes(), b.sizes(), a.sizes()[2], b.sizes()[1]);
    const std::int64_t batch = a.sizes()[0], n = a.sizes()[1], k = a.sizes()[2], m = b.sizes()[2];
    Tensor out = k == 0 ? zeros({batch, n, m}, a.dtype()) : make_tensor({batch, n, m}, a.dtype());
    if (k > 0 && n > 0 && m > 0) {
        // Slices whose layout cblas cannot read directly are made contiguous once, not per entry.
        auto blas_ready = [](const Tensor& t) {
            const std::int64_t r = t.sizes()[1], c = t.sizes()[2], s1 = t.strides()[1], s2 = t.strides()[2];
            const bool row_major = (s2 == 1 || c == 1) && s1 >= std::max<std::int64_t>(c, 1);
            const bool col_major = (s1 == 1 || r == 1) && s2 >= std::max<std::int64_t>(r, 1);
            return row_major || col_major ? t : t.contiguous();
        };
        const Tensor da = blas_ready(a.detach()), db = blas_ready(b.detach());
        for (std::int64_t i = 0; i < batch; ++i) {
            Tensor ai = make_view(da, {n, k}, {da.strides()[1], da.strides()[2]},
                                  da.storage_offset() + i * da.strides()[0]);
            Tensor bi = make_view(db, {k, m}, {db.strides()[1], db.strides()[2]},
                                  db.storage_offset() + i * db.strides()[0]);
            Tensor oi = make_view(out, {n, m}, {m, 1}, i * n * m);
            gemm_into(ai, bi, oi, 1.0, 0.0);
        }
    }
    if (detail::needs_grad(a, b))
        detail::record("bmm", {a, b}, out,
                       [sa = SavedTensor(b.requires_grad() ? a : Tensor()), sb = SavedTensor(a.requires_grad() ? b : Tensor()),
                        ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) -> GradList {
                           return {ra ? bmm(g, transpose(sb.unpack(), 1, 2)) : Tensor(),
                                   rb ? bmm(transpose(sa.unpack(), 1, 2), g) : Tensor()};
                       });
    TG_TRACE("bmm", {a, b}, out);
    return out;
}

namespace {

// matmul with at least one operand of rank >= 3, like torch.matmul: a 1-D operand is
// promoted to a matrix (and the added dim removed at the end), batch dims (all but the
// last two) broadcast. Built from differentiable ops (reshape/expand + mm/bmm), so the
// backward, including the sum over broadcast batch dims, comes from theirs.
Tensor batched_matmul(const Tensor& a, const Tensor& b) {
    const bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
    const Tensor ma = a_vec ? unsqueeze(a, 0) : a;   // (..., n, k)
    const Tensor mb = b_vec ? unsqueeze(b, 1) : b;   // (..., k, m)
    const std::int64_t n = ma.size(-2), k = ma.size(-1), m = mb.size(-1);
    TG_CHECK(k == mb.size(-2), "matmul", "shapes {} and {} cannot be multiplied (inner dims {} vs {})", a.sizes(),
             b.sizes(), k, mb.size(-2));
    const Shape batch_a(ma.sizes().data(), ma.sizes().size() - 2);
    const Shape batch_b(mb.sizes().data(), mb.sizes().size() - 2);

    Shape out_shape;
    if (batch_b.empty()) {
        // (..., n, k) @ (k, m): fold the batch into the rows of one GEMM.
        out_shape = batch_a;
        Tensor rows = mm(reshape(ma, {batch_a.numel() * n, k}), mb);
        out_shape.push_back(n);
        out_shape.push_back(m);
        Tensor out = reshape(rows, out_shape);
        return a_vec ? squeeze(out, -2) : b_vec ? squeeze(out, -1) : out;
    }
    // Broadcast the batch dims (aligned from the right), naming both full shapes on failure.
    const std::size_t rank = std::max(batch_a.size(), batch_b.size());
    Shape batch(rank, 1);
    for (std::size_t i = 0; i < rank; ++i) {
        const std::int64_t da = i < batch_a.size() ? batch_a[batch_a.size() - 1 - i] : 1;
        const std::int64_t db = i < batch_b.size() ? batch_b[batch_b.size() - 1 - i] : 1;
        TG_CHECK(da == db || da == 1 || db == 1, "matmul",
                 "batch dims of shapes {} and {} cannot broadcast ({} vs {})", a.sizes(), b.sizes(), da, db);
        batch[rank - 1 - i] = da == 1 ? db : da;
    }
    const std::int64_t flat = batch.numel();
    Shape shape_a = batch, shape_b = batch;
    shape_a.push_back(n);
    shape_a.push_back(k);
    shape_b.push_back(k);
    shape_b.push_back(m);
    // reshape copies an expanded operand only when its batch dims cannot merge into one.
    const Tensor fa = reshape(expand(ma, shape_a), {flat, n, k});
    const Tensor fb = reshape(expand(mb, shape_b), {flat, k, m});
    out_shape = batch;
    if (!a_vec) out_shape.push_back(n);
    if (!b_vec) out_shape.push_back(m);
    return reshape(bmm(fa, fb), out_shape);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
    detail::check_defined(a, "matmul");
    detail::check_defined(b, "matmul");
    TG_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul", "both operands need at least 1 dim, got shapes {} and {}",
             a.sizes(), b.sizes());
    detail::check_floating(a, "matmul");
    detail::check_floating(b, "matmul");
    detail::check_same_dtype(a, b, "matmul");
    const std::int64_t inner_b = b.dim() == 1 ? b.sizes()[0] : b.size(-2);
    TG_CHECK(a.size(-1) == inner_b, "matmul", "shapes {} and {} cannot be multiplied (inner dims {} vs {})",
             a.sizes(), b.sizes(), a.size(-1), inner_b);
    if (a.dim() == 2 && b.dim() == 2) return mm(a, b);
    if (a.dim() == 1 && b.dim() == 1) return dot(a, b);
    if (a.dim() == 1 && b.dim() == 2) return squeeze(mm(unsqueeze(a, 0), b), 0);
    if (a.dim() == 2 && b.dim() == 1) return squeeze(mm(a, unsqueeze(b, 1)), 1);
    return batched_matmul(a, b);
}

Tensor dot(const Tensor& a, const Tensor& b) {
    TG_CHECK(a.dim() == 1 && b.dim() == 1, "dot", "expected 1-D tensors, got shapes {} and {}", a.sizes(), b.sizes());
    TG_CHECK(a.sizes()[0] == b.sizes()[0], "dot", "shapes {} and {} differ in length", a.sizes(), b.sizes());
    return reshape(mm(unsqueeze(a, 0), unsqueeze(b, 1)), {});
}

// ---- products built from the ones above, and triangular masks --------------------------------

// a (n) x b (m) -> (n, m): a broadcast product (torch.outer / ger), gradients by mul's.
Tensor outer(const Tensor& a, const Tensor& b) {
    detail::check_defined(a, "outer");
    detail::check_defined(b, "outer");
    TG_CHECK(a.dim() == 1 && b.dim() == 1, "outer", "expected 1-D tensors, got shapes {} and {}", a.sizes(), b.sizes());
    return unsqueeze(a, 1) * unsqueeze(b, 0);
}

// beta * input + alpha * bmm(batch1, batch2); input broadcasts to (B, n, m). With beta == 0
// input is ignored, NaN and inf included (libtorch's rule).
Tensor baddbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta, double alpha) {
    constexpr std::string_view op = "baddbmm";
    detail::check_defined(input, op);
    detail::check_defined(batch1, op);
    detail::check_defined(batch2, op);
    TG_CHECK(batch1.dim() == 3 && batch2.dim() == 3, op, "batch1 and batch2 must be 3-D, got shapes {} and {}",
             batch1.sizes(), batch2.sizes());
    TG_CHECK(batch1.sizes()[0] == batch2.sizes()[0] && batch1.sizes()[2] == batch2.sizes()[1], op,
             "batch1 of shape {} and batch2 of shape {} cannot be multiplied (expected (B, n, k) and (B, k, m))",
             batch1.sizes(), batch2.sizes());
    const Shape out_shape{batch1.sizes()[0], batch1.sizes()[1], batch2.sizes()[2]};
    TG_CHECK(detail::broadcast_shape(input.sizes(), out_shape, op) == out_shape, op,
             "input of shape {} does not broadcast to the product's shape {} (batch1 {}, batch2 {})", input.sizes(),
             out_shape, batch1.sizes(), batch2.sizes());
    detail::check_floating(batch1, op);
    detail::check_same_dtype(input, batch1, op);
    detail::check_same_dtype(batch1, batch2, op);
    const Tensor product = alpha == 1.0 ? bmm(batch1, batch2) : bmm(batch1, batch2) * alpha;
    if (beta == 0.0) return product;
    return add(product, input, beta);
}

namespace {

// Keeps the elements of the last two dims where (column - row) is >= diagonal (upper) or
// <= diagonal (lower); zeros elsewhere. A where on a constant mask, so the gradient is the
// same mask applied to g.
Tensor triangle(const Tensor& a, std::int64_t diagonal, bool upper, std::string_view op) {
    detail::check_defined(a, op);
    TG_CHECK(a.dim() >= 2, op, "expected a tensor of at least 2 dims, got shape {}", a.sizes());
    const std::int64_t rows = a.size(-2), cols = a.size(-1);
    std::vector<bool> keep(static_cast<std::size_t>(rows * cols));
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
            keep[static_cast<std::size_t>(r * cols + c)] = upper ? c - r >= diagonal : c - r <= diagonal;
    return where(from_vector(keep, {rows, cols}), a, scalar_tensor(0.0, a.dtype()));
}

}  // namespace

Tensor triu(const Tensor& a, std::int64_t diagonal) { return triangle(a, diagonal, true, "triu"); }
Tensor tril(const Tensor& a, std::int64_t diagonal) { return triangle(a, diagonal, false, "tril"); }

}  // namespace tg
