// Matrix products through cblas (OpenBLAS): never a hand-written GEMM.
#include <algorithm>

#include <cblas.h>

#include "autograd/record.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"

namespace tg {

using detail::GradList;
using detail::SavedTensor;

namespace {

// How cblas should read a 2-D operand: row-major as is, or as the transpose of a
// row-major matrix (so a.t() costs no copy). Anything else is made contiguous first.
struct BlasOperand {
    Tensor data;
    CBLAS_TRANSPOSE trans;
    int ld;
};

BlasOperand blas_operand(const Tensor& m) {
    const auto& st = m.strides();
    const std::int64_t rows = m.sizes()[0], cols = m.sizes()[1];
    if ((st[1] == 1 || cols == 1) && st[0] >= std::max<std::int64_t>(cols, 1))
        return {m, CblasNoTrans, static_cast<int>(st[0])};
    if ((st[0] == 1 || rows == 1) && st[1] >= std::max<std::int64_t>(rows, 1))
        return {m, CblasTrans, static_cast<int>(st[1])};
    Tensor c = m.contiguous();
    return {c, CblasNoTrans, static_cast<int>(std::max<std::int64_t>(cols, 1))};
}

// out (m x n, contiguous) = alpha * a @ b + beta * out
void gemm(const Tensor& a, const Tensor& b, Tensor& out, double alpha, double beta) {
    const BlasOperand A = blas_operand(a), B = blas_operand(b);
    const int m = static_cast<int>(a.sizes()[0]), k = static_cast<int>(a.sizes()[1]),
              n = static_cast<int>(b.sizes()[1]);
    if (m == 0 || n == 0) return;
    if (out.dtype() == kFloat32)
        cblas_sgemm(CblasRowMajor, A.trans, B.trans, m, n, k, static_cast<float>(alpha),
                    impl_of(A.data).data_as<float>(), A.ld, impl_of(B.data).data_as<float>(), B.ld,
                    static_cast<float>(beta), impl_of(out).data_as<float>(), std::max(n, 1));
    else
        cblas_dgemm(CblasRowMajor, A.trans, B.trans, m, n, k, alpha, impl_of(A.data).data_as<double>(), A.ld,
                    impl_of(B.data).data_as<double>(), B.ld, beta, impl_of(out).data_as<double>(), std::max(n, 1));
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

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
    check_mm(a, b, "mm");
    // beta = 0 makes cblas write every element, so the output needs no zero fill unless
    // the inner dimension is empty (then nothing is written).
    const Shape out_shape{a.sizes()[0], b.sizes()[1]};
    Tensor out = a.sizes()[1] == 0 ? zeros(out_shape, a.dtype()) : make_tensor(out_shape, a.dtype());
    gemm(a, b, out, 1.0, 0.0);
    if (detail::needs_grad(a, b))
        detail::record("mm", {a, b}, out,
                       [sa = SavedTensor(b.requires_grad() ? a : Tensor()), sb = SavedTensor(a.requires_grad() ? b : Tensor()),
                        ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) -> GradList {
                           return {ra ? mm(g, sb.unpack().t()) : Tensor(), rb ? mm(sa.unpack().t(), g) : Tensor()};
                       });
    return out;
}

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
    Tensor out = make_tensor(out_shape, a.dtype());
    out.copy_(expand(input.detach(), out_shape));  // broadcasts input (e.g. a bias row)
    gemm(a, b, out, alpha, beta);
    if (detail::needs_grad(input, a, b))
        detail::record("addmm", {input, a, b}, out,
                       [in = detail::InputInfo(input), sa = SavedTensor(b.requires_grad() ? a : Tensor()),
                        sb = SavedTensor(a.requires_grad() ? b : Tensor()), ra = a.requires_grad(),
                        rb = b.requires_grad(), alpha, beta](const Tensor& g) -> GradList {
                           return {in.reduce(beta == 1.0 ? g : g * beta),
                                   ra ? mm(g, sb.unpack().t()) * alpha : Tensor(),
                                   rb ? mm(sa.unpack().t(), g) * alpha : Tensor()};
                       });
    return out;
}

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
            gemm(ai, bi, oi, 1.0, 0.0);
        }
    }
    if (detail::needs_grad(a, b))
        detail::record("bmm", {a, b}, out,
                       [sa = SavedTensor(b.requires_grad() ? a : Tensor()), sb = SavedTensor(a.requires_grad() ? b : Tensor()),
                        ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) -> GradList {
                           return {ra ? bmm(g, transpose(sb.unpack(), 1, 2)) : Tensor(),
                                   rb ? bmm(transpose(sa.unpack(), 1, 2), g) : Tensor()};
                       });
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

}  // namespace tg
