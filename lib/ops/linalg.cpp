// Matrix products through cblas (OpenBLAS): never a hand-written GEMM.
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
    Tensor out = zeros({a.sizes()[0], b.sizes()[1]}, a.dtype());
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

Tensor matmul(const Tensor& a, const Tensor& b) {
    detail::check_defined(a, "matmul");
    detail::check_defined(b, "matmul");
    if (a.dim() == 2 && b.dim() == 2) return mm(a, b);
    TG_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul", "both operands need at least 1 dim, got shapes {} and {}",
             a.sizes(), b.sizes());
    if (a.dim() == 1 && b.dim() == 1) return dot(a, b);
    if (a.dim() == 1) return squeeze(mm(unsqueeze(a, 0), b), 0);
    if (b.dim() == 1 && a.dim() == 2) return squeeze(mm(a, unsqueeze(b, 1)), 1);
    // Batched: TODO(helper) broadcast batch dims and go through bmm.
    TG_CHECK(false, "matmul", "batched shapes {} and {} are not supported yet", a.sizes(), b.sizes());
    return {};
}

Tensor dot(const Tensor& a, const Tensor& b) {
    TG_CHECK(a.dim() == 1 && b.dim() == 1, "dot", "expected 1-D tensors, got shapes {} and {}", a.sizes(), b.sizes());
    TG_CHECK(a.sizes()[0] == b.sizes()[0], "dot", "shapes {} and {} differ in length", a.sizes(), b.sizes());
    return reshape(mm(unsqueeze(a, 0), unsqueeze(b, 1)), {});
}

}  // namespace tg
