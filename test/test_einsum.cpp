// einsum against the products it stands for (matmul, bmm, outer, traces of sums) and
// explicit loops, its gradients and second derivatives, and a clear error for each equation
// it rejects; outer and baddbmm beside it.
#include "test_support.hpp"

#include <cmath>

using namespace tgtest;
using tg::Tensor;
using Inputs = std::vector<Tensor>;

namespace {

Tensor rnd(const tg::Shape& shape) { return tg::uniform(shape, -1, 1, tg::kFloat64); }

}  // namespace

TEST_CASE("einsum: products, reductions, permutations and broadcasting as their ops give them") {
    auto a = rnd({2, 3}), b = rnd({3, 4}), v = rnd({3}), w = rnd({3});
    auto A = rnd({5, 2, 3}), B = rnd({5, 3, 4});
    check_close(tg::einsum("ij,jk->ik", {a, b}), tg::mm(a, b));
    check_close(tg::einsum("ij,jk", {a, b}), tg::mm(a, b));  // implicit output: i, k
    check_close(tg::einsum("bij,bjk->bik", {A, B}), tg::bmm(A, B));
    check_close(tg::einsum("i,i->", {v, w}), tg::dot(v, w));
    check_close(tg::einsum("i,j->ij", {v, w}), tg::outer(v, w));
    check_close(tg::einsum("ij->ji", {a}), a.t().contiguous());
    check_close(tg::einsum("ij->", {a}), tg::sum(a));
    check_close(tg::einsum("ij->j", {a}), tg::sum(a, {0}));
    check_close(tg::einsum("ij,ij->ij", {a, a}), a * a);
    check_close(tg::einsum("ba", {a}), a.t().contiguous());  // implicit: alphabetical
    check_close(tg::einsum("...ij,...jk->...ik", {A, B}), tg::bmm(A, B));
    check_close(tg::einsum("...j,jk", {a, b}), tg::mm(a, b));
    check_close(tg::einsum("bij->b", {A}), tg::sum(A, {1, 2}));
    // broadcasting a size-1 dim: (1, 3) with (2, 3)
    check_close(tg::einsum("ij,ij->i", {rnd({1, 3}) * 0 + 1, a}), tg::sum(a, {1}));
    // three operands, and a label shared by all of them (kept, then summed)
    auto c = rnd({4, 2});
    check_close(tg::einsum("ij,jk,kl->il", {a, b, c}), tg::mm(tg::mm(a, b), c));
    auto x = rnd({2, 3}), y = rnd({2, 3}), z = rnd({2, 3});
    check_close(tg::einsum("ij,ij,ij->j", {x, y, z}), tg::sum(x * y * z, {0}));
    // a general contraction against an explicit loop: out[a, d] = sum_{b, c} P[a, b, c] Q[c, d, b]
    auto P = rnd({2, 3, 4}), Q = rnd({4, 5, 3});
    auto got = tg::einsum("abc,cdb->ad", {P, Q});
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t l = 0; l < 5; ++l) {
            double s = 0;
            for (std::int64_t j = 0; j < 3; ++j)
                for (std::int64_t k = 0; k < 4; ++k) s += P.at({i, j, k}) * Q.at({k, l, j});
            CHECK(got.at({i, l}) == Approx(s).epsilon(1e-12));
        }
    // spaces are ignored; float32 works
    check_close(tg::einsum(" i j , j k -> i k ", {a, b}), tg::mm(a, b));
    CHECK(tg::einsum("ij,jk->ik", {a.to(tg::kFloat32), b.to(tg::kFloat32)}).dtype() == tg::kFloat32);
}

TEST_CASE("einsum gradients and second derivatives, non-contiguous inputs included") {
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::einsum("abc,cdb->ad", {in[0], in[1]}); },
                      (Inputs{leaf({2, 3, 4}), leaf({4, 2, 3})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::einsum("ij,jk,kl->il", {in[0].t(), in[1], in[2]}); },
                      (Inputs{leaf({3, 2}), leaf({3, 4}), leaf({4, 2})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::einsum("...ij,...jk->...ik", {in[0], in[1]}); },
                      (Inputs{leaf({2, 2, 3}), leaf({3, 2})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::einsum("ij,ij->i", {in[0], in[1]}); },
                      (Inputs{leaf({1, 3}), leaf({2, 3})}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            tg::AutoGradMode on(true);
            const Tensor y = tg::einsum("bij,bjk->bik", {in[0], in[1]});
            auto g = tg::autograd::grad({(y * y).sum()}, {in[0], in[1]}, {}, false, true);
            return (g[0] * g[0]).sum() + (g[1] * g[1]).sum();
        },
        (Inputs{leaf({2, 2, 3}), leaf({2, 3, 2})}));
}

TEST_CASE("einsum rejects what it cannot do, naming the equation and the shapes") {
    auto a = tg::zeros({2, 3}), b = tg::zeros({3, 4});
    REQUIRE_TG_ERROR(tg::einsum("ij,jk->ik", {a}), "einsum", "2 operand", "1 tensor", "[2, 3]");
    REQUIRE_TG_ERROR(tg::einsum("ijk,jk->i", {a, b}), "einsum", "'ijk'", "[2, 3]");
    REQUIRE_TG_ERROR(tg::einsum("ij,jk->ik", {a, a}), "einsum", "label 'j'", "size 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::einsum("ij,jk->iz", {a, b}), "einsum", "'z'", "[2, 3], [3, 4]");
    REQUIRE_TG_ERROR(tg::einsum("ij,jk->ii", {a, b}), "einsum", "more than once", "[2, 3]");
    REQUIRE_TG_ERROR(tg::einsum("ii->i", {tg::zeros({3, 3})}), "einsum", "repeats", "[3, 3]", "not supported");
    REQUIRE_TG_ERROR(tg::einsum("i1,jk->ik", {a, b}), "einsum", "'1'", "[2, 3]");
    REQUIRE_TG_ERROR(tg::einsum("i..j,jk->ik", {a, b}), "einsum", "'...'", "[2, 3]");
    REQUIRE_TG_ERROR(tg::einsum("ij,jk->ik", {a, b.to(tg::kFloat64)}), "einsum", "float64", "[3, 4]");
    REQUIRE_TG_ERROR(tg::einsum("ij->ij", {tg::zeros({2, 3}, tg::kInt64)}), "einsum", "int64", "[2, 3]");
    REQUIRE_TG_ERROR(tg::einsum("", {}), "einsum", "at least one tensor");
}

TEST_CASE("outer and baddbmm: closed forms, broadcasting input, beta == 0 ignores NaN, gradients") {
    auto v = tg::tensor({1.0, 2.0}, tg::kFloat64), w = tg::tensor({3.0, -1.0, 0.5}, tg::kFloat64);
    CHECK(values(tg::outer(v, w)) == std::vector<double>{3, -1, 0.5, 6, -2, 1});
    CHECK(values(v.outer(w)) == values(tg::outer(v, w)));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::outer(in[0], in[1]); }, (Inputs{leaf({3}), leaf({2})}));
    REQUIRE_TG_ERROR(tg::outer(tg::zeros({2, 2}), w), "outer", "[2, 2]", "1-D");

    auto in = rnd({2, 2, 4}), b1 = rnd({2, 2, 3}), b2 = rnd({2, 3, 4});
    check_close(tg::baddbmm(in, b1, b2, 0.5, 2.0), in * 0.5 + tg::bmm(b1, b2) * 2.0);
    check_close(in.baddbmm(b1, b2), in + tg::bmm(b1, b2));
    auto row = rnd({4});  // broadcasts over batch and rows
    check_close(tg::baddbmm(row, b1, b2), row + tg::bmm(b1, b2));
    auto nan = tg::full({2, 2, 4}, NAN, tg::kFloat64);
    check_close(tg::baddbmm(nan, b1, b2, 0.0), tg::bmm(b1, b2));
    REQUIRE_GRADCHECK([](const Inputs& x) { return tg::baddbmm(x[0], x[1], x[2].transpose(1, 2), 0.3, -1.2); },
                      (Inputs{leaf({2, 1, 4}), leaf({2, 2, 3}), leaf({2, 4, 3})}));
    REQUIRE_TG_ERROR(tg::baddbmm(rnd({3, 2, 4}), b1, b2), "baddbmm", "[3, 2, 4]", "[2, 2, 4]");
    REQUIRE_TG_ERROR(tg::baddbmm(in, b1, b1), "baddbmm", "[2, 2, 3]", "cannot be multiplied");
    REQUIRE_TG_ERROR(tg::baddbmm(in, rnd({2, 3}), b2), "baddbmm", "[2, 3]", "3-D");
    REQUIRE_TG_ERROR(tg::baddbmm(in.to(tg::kFloat32), b1, b2), "baddbmm", "float32", "float64");
}
