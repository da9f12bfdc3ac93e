#include "test_support.hpp"

using namespace tgtest;

namespace {

// Reference product by the textbook triple loop over the last two dims. a and b hold the
// same number of (n, k) / (k, m) matrices (expand them to the output's batch shape first).
std::vector<double> naive_matmul(const tg::Tensor& a, const tg::Tensor& b) {
    const tg::Tensor ca = a.detach().to(tg::kFloat64).contiguous(), cb = b.detach().to(tg::kFloat64).contiguous();
    const std::int64_t n = a.size(-2), k = a.size(-1), m = b.size(-1);
    const std::int64_t batch = a.numel() / (n * k);
    REQUIRE(batch == b.numel() / (k * m));
    const auto va = ca.to_vector<double>(), vb = cb.to_vector<double>();
    std::vector<double> out(static_cast<std::size_t>(batch * n * m), 0.0);
    for (std::int64_t p = 0; p < batch; ++p)
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < m; ++j) {
                double s = 0;
                for (std::int64_t l = 0; l < k; ++l) s += va[p * n * k + i * k + l] * vb[p * k * m + l * m + j];
                out[p * n * m + i * m + j] = s;
            }
    return out;
}


tg::Tensor rnd(const tg::Shape& shape) { return tg::uniform(shape, -1, 1, tg::kFloat64); }

using Inputs = std::vector<tg::Tensor>;

}  // namespace

TEST_CASE("mm: hand-computed product, float32 and float64") {
    for (auto dt : {tg::kFloat32, tg::kFloat64}) {
        auto a = tg::tensor({{1, 2}, {3, 4}}, dt);
        auto b = tg::tensor({{5, 6}, {7, 8}}, dt);
        auto c = tg::mm(a, b);
        CHECK(c.sizes() == tg::Shape{2, 2});
        CHECK(c.dtype() == dt);
        CHECK(values(c) == std::vector<double>{19, 22, 43, 50});
    }
    auto r = tg::mm(tg::tensor({{1, 0, 2}}), tg::tensor({1, 2, 3}).reshape({3, 1}));  // (1,3)@(3,1)
    CHECK(values(r) == std::vector<double>{7});
    CHECK(values(tg::mm(tg::tensor({{1, 2}, {3, 4}}).t(), tg::eye(2))) == std::vector<double>{1, 3, 2, 4});
}

TEST_CASE("mm: transposed, narrowed and expanded operands give the naive product") {
    tg::manual_seed(3);
    auto a = rnd({5, 4}), b = rnd({6, 5});
    // a.t() and b.t() are column-major views: cblas reads them as transposes, no copy.
    REQUIRE_FALSE(a.t().is_contiguous());
    check_close(values(tg::mm(a.t(), b.t())), naive_matmul(a.t(), b.t()));
    // A narrowed view: row stride 4 > 2 columns, a leading dimension cblas takes as is.
    auto an = a.narrow(1, 1, 2);
    auto w = rnd({2, 3});
    check_close(values(tg::mm(an, w)), naive_matmul(an, w));
    check_close(values(tg::mm(w.t(), an.t())), naive_matmul(w.t(), an.t()));
    // An expanded column (stride 0): no cblas layout, copied first.
    auto col = rnd({3, 1}).expand({3, 4});
    auto v = rnd({4, 2});
    check_close(values(tg::mm(col, v)), naive_matmul(col, v));
}

// float32 products may run on oneDNN's sgemm instead of OpenBLAS's (tensor/gemm.cpp picks
// by the CPU's instruction set): every transpose combination, shapes around the kernels'
// block sizes, and addmm's beta/alpha, against the naive product in double.
TEST_CASE("mm and addmm in float32: every transpose pair and odd shapes match the naive product") {
    tg::manual_seed(21);
    struct Case {
        std::int64_t n, k, m;
    };
    for (const Case& c : std::vector<Case>{{1, 1, 1}, {3, 5, 2}, {17, 33, 65}, {64, 130, 31}, {129, 7, 250}}) {
        for (int ta = 0; ta < 2; ++ta)
            for (int tb = 0; tb < 2; ++tb) {
                INFO("n " << c.n << " k " << c.k << " m " << c.m << " transposed a " << ta << " b " << tb);
                auto a = ta ? tg::randn({c.k, c.n}).t() : tg::randn({c.n, c.k});
                auto b = tb ? tg::randn({c.m, c.k}).t() : tg::randn({c.k, c.m});
                const double tol = 1e-5 * static_cast<double>(c.k);
                check_close(values(tg::mm(a, b)), naive_matmul(a, b), tol);
                auto bias = tg::randn({c.m});
                auto want = naive_matmul(a, b);
                const auto vb = values(bias);
                for (std::size_t i = 0; i < want.size(); ++i)
                    want[i] = 0.5 * vb[i % static_cast<std::size_t>(c.m)] + 2.0 * want[i];
                check_close(values(tg::addmm(bias, a, b, 0.5, 2.0)), want, 2 * tol);
            }
    }
}

TEST_CASE("addmm: beta * bias + alpha * a @ b with the bias broadcast") {
    auto bias = tg::tensor({10, 20}, tg::kFloat64);
    auto a = tg::tensor({{1, 2}, {3, 4}}, tg::kFloat64);
    auto b = tg::tensor({{5, 6}, {7, 8}}, tg::kFloat64);
    CHECK(values(tg::addmm(bias, a, b)) == std::vector<double>{29, 42, 53, 70});
    // 0.5 * bias + 2 * ab
    CHECK(values(tg::addmm(bias, a, b, 0.5, 2.0)) == std::vector<double>{43, 54, 91, 110});
    auto colbias = tg::tensor({1, 2}, tg::kFloat64).reshape({2, 1});
    CHECK(values(tg::addmm(colbias, a, b)) == std::vector<double>{20, 23, 45, 52});
    tg::manual_seed(4);
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::addmm(in[0], in[1], in[2], 0.5, 2.0); },
                      (Inputs{leaf({3}), leaf({2, 4}), leaf({4, 3})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::addmm(in[0], in[1].t(), in[2]); },
                      (Inputs{leaf({2, 1}), leaf({4, 2}), leaf({4, 3})}));
}

TEST_CASE("dot and the 1-D / 2-D mixes of matmul") {
    auto u = tg::tensor({1, 2, 3}, tg::kFloat64), v = tg::tensor({4, 5, 6}, tg::kFloat64);
    auto d = tg::dot(u, v);
    CHECK(d.dim() == 0);
    CHECK(d.item<double>() == 32);
    CHECK(tg::matmul(u, v).item<double>() == 32);
    auto m = tg::tensor({{1, 0, 1}, {2, 1, 0}}, tg::kFloat64);  // (2, 3)
    auto mv = tg::matmul(m, u);
    CHECK(mv.sizes() == tg::Shape{2});
    CHECK(values(mv) == std::vector<double>{4, 4});
    auto vm = tg::matmul(tg::tensor({1, 2}, tg::kFloat64), m);  // (2) @ (2, 3)
    CHECK(vm.sizes() == tg::Shape{3});
    CHECK(values(vm) == std::vector<double>{5, 2, 1});
    REQUIRE_TG_ERROR(tg::dot(u, tg::ones({2}, tg::kFloat64)), "dot", "[3]", "[2]");
    REQUIRE_TG_ERROR(tg::dot(m, u), "dot", "1-D", "[2, 3]");
    tg::manual_seed(5);
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::dot(in[0], in[1]); }, (Inputs{leaf({4}), leaf({4})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::matmul(in[0], in[1]); }, (Inputs{leaf({3}), leaf({3, 2})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::matmul(in[0].t(), in[1]); },
                      (Inputs{leaf({3, 2}), leaf({3})}));
}

TEST_CASE("bmm: values against the naive loop, strided batches, errors") {
    tg::manual_seed(6);
    auto a = rnd({3, 2, 4}), b = rnd({3, 4, 5});
    auto c = tg::bmm(a, b);
    CHECK(c.sizes() == tg::Shape{3, 2, 5});
    check_close(values(c), naive_matmul(a, b));
    // Transposed slices and a stride-0 (expanded) batch dim.
    auto bt = rnd({3, 5, 4}).transpose(1, 2);
    check_close(values(tg::bmm(a, bt)), naive_matmul(a, bt));
    auto shared = rnd({1, 4, 5}).expand({3, 4, 5});
    check_close(values(tg::bmm(a, shared)), naive_matmul(a, shared));
    // A permuted batch (batch dim not outermost in memory).
    auto p = rnd({2, 3, 4}).permute({1, 0, 2});  // (3, 2, 4)
    check_close(values(tg::bmm(p, b)), naive_matmul(p, b));
    auto f = tg::bmm(a.to(tg::kFloat32), b.to(tg::kFloat32));
    CHECK(f.dtype() == tg::kFloat32);
    check_close(values(f), naive_matmul(a, b), 1e-5);

    REQUIRE_TG_ERROR(tg::bmm(rnd({3, 2, 4}), rnd({2, 4, 5})), "bmm", "[3, 2, 4]", "[2, 4, 5]", "batch");
    REQUIRE_TG_ERROR(tg::bmm(rnd({3, 2, 4}), rnd({3, 3, 5})), "bmm", "[3, 2, 4]", "[3, 3, 5]", "inner dims 4 vs 3");
    REQUIRE_TG_ERROR(tg::bmm(rnd({2, 4}), rnd({4, 5})), "bmm", "3-D", "[2, 4]");
    REQUIRE_TG_ERROR(tg::bmm(rnd({3, 2, 4}), tg::ones({3, 4, 5})), "bmm", "float64", "float32");
    REQUIRE_TG_ERROR(tg::bmm(tg::ones({1, 2, 2}, tg::kInt64), tg::ones({1, 2, 2}, tg::kInt64)), "bmm", "int64");

    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::bmm(in[0], in[1]); }, (Inputs{leaf({2, 3, 4}), leaf({2, 4, 2})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::bmm(in[0].transpose(1, 2), in[1].expand({2, 3, 2})); },
                      (Inputs{leaf({2, 3, 3}), leaf({1, 3, 2})}));
}

TEST_CASE("batched matmul broadcasts batch dims like torch.matmul") {
    tg::manual_seed(7);
    auto a = rnd({2, 1, 3, 4}), b = rnd({5, 4, 2});
    auto c = tg::matmul(a, b);
    REQUIRE(c.sizes() == tg::Shape{2, 5, 3, 2});
    check_close(values(c), naive_matmul(a.expand({2, 5, 3, 4}), b.expand({2, 5, 4, 2})));

    // (B, n, k) @ (k, m): the batch folds into one GEMM.
    auto x = rnd({2, 3, 4}), w = rnd({4, 5});
    auto y = tg::matmul(x, w);
    REQUIRE(y.sizes() == tg::Shape{2, 3, 5});
    check_close(values(y), naive_matmul(x, w.expand({2, 4, 5})));
    // (k, n) view @ (B, n, m): 2-D on the left broadcasts over the batch.
    auto y2 = tg::matmul(w.t(), rnd({3, 4, 2}).narrow(1, 0, 4));
    REQUIRE(y2.sizes() == tg::Shape{3, 5, 2});

    // A 1-D operand: prepended / appended dim, removed from the result.
    auto v = tg::tensor({1, 2, 3, 4}, tg::kFloat64);
    auto xv = tg::matmul(x, v);
    REQUIRE(xv.sizes() == tg::Shape{2, 3});
    check_close(values(xv), naive_matmul(x, v.reshape({4, 1}).expand({2, 4, 1})));
    auto vb = tg::matmul(tg::tensor({1, -1, 2}, tg::kFloat64), rnd({2, 3, 5}));
    REQUIRE(vb.sizes() == tg::Shape{2, 5});

    // Hand case: batch of two 1x2 @ one 2x1, and identity matrices.
    auto h = tg::matmul(tg::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 1, 2}),
                        tg::from_vector(std::vector<double>{1, 10}, {1, 2, 1}));
    CHECK(h.sizes() == tg::Shape{2, 1, 1});
    CHECK(values(h) == std::vector<double>{21, 43});
    CHECK(values(tg::matmul(x, tg::eye(4, tg::kFloat64).expand({2, 4, 4}))) == values(x));
}

TEST_CASE("batched matmul: gradients, including broadcast batch dims and views") {
    tg::manual_seed(8);
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::matmul(in[0], in[1]); },
                      (Inputs{leaf({2, 1, 3, 4}), leaf({3, 4, 2})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::matmul(in[0], in[1]); }, (Inputs{leaf({2, 3, 4}), leaf({4, 2})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::matmul(in[0], in[1]); }, (Inputs{leaf({3, 4}), leaf({2, 4, 2})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::matmul(in[0], in[1]); }, (Inputs{leaf({2, 3, 4}), leaf({4})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::matmul(in[0], in[1]); }, (Inputs{leaf({3}), leaf({2, 3, 4})}));
    // Non-contiguous operands made inside the function, and one input used twice.
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::matmul(in[0].transpose(1, 2), in[1].narrow(2, 1, 2)); },
                      (Inputs{leaf({2, 4, 3}), leaf({1, 4, 3})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::matmul(in[0], in[0].transpose(-1, -2)); },
                      (Inputs{leaf({2, 3, 3})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::mm(in[0], in[0].t()) + tg::mm(in[0].t(), in[1]); },
                      (Inputs{leaf({3, 3}), leaf({3, 3})}));
}

TEST_CASE("matmul errors name both shapes") {
    REQUIRE_TG_ERROR(tg::matmul(tg::ones({2, 3}), tg::ones({4, 5})), "matmul", "[2, 3]", "[4, 5]", "inner dims 3 vs 4");
    REQUIRE_TG_ERROR(tg::matmul(tg::ones({7, 2, 3}), tg::ones({7, 4, 5})), "matmul", "[7, 2, 3]", "[7, 4, 5]",
                     "inner dims 3 vs 4");
    REQUIRE_TG_ERROR(tg::matmul(tg::ones({3}), tg::ones({2, 4, 5})), "matmul", "[3]", "[2, 4, 5]");
    REQUIRE_TG_ERROR(tg::matmul(tg::ones({2, 2, 3}), tg::ones({3, 3, 5})), "matmul", "[2, 2, 3]", "[3, 3, 5]",
                     "batch dims", "2 vs 3");
    REQUIRE_TG_ERROR(tg::matmul(tg::ones({2, 3}), tg::ones({3, 2}, tg::kFloat64)), "matmul", "float32", "float64");
    REQUIRE_TG_ERROR(tg::matmul(tg::ones({2, 3}, tg::kInt64), tg::ones({3, 2}, tg::kInt64)), "matmul", "int64",
                     "float");
    REQUIRE_TG_ERROR(tg::matmul(tg::scalar_tensor(1), tg::ones({2})), "matmul", "at least 1 dim");
    REQUIRE_TG_ERROR(tg::mm(tg::ones({2, 3}), tg::ones({2, 3})), "mm", "[2, 3]", "inner dims 3 vs 2");
}

TEST_CASE("second derivative through mm with create_graph") {
    // f(x) = sum((x @ w)^2): df/dx = 2 (x w) w^T, d2f/dx2 applied to ones = 2 * ones w w^T.
    auto w = tg::tensor({{1, 2}, {3, 4}}, tg::kFloat64);
    auto x = tg::tensor({{1, -1}}, tg::kFloat64).requires_grad_();
    auto y = tg::mm(x, w);
    auto g = tg::autograd::grad({(y * y).sum()}, {x}, {}, false, /*create_graph=*/true)[0];
    // x w = [-2, -2]; 2 (x w) w^T = [2*(-2*1 + -2*2), 2*(-2*3 + -2*4)] = [-12, -28]
    CHECK(values(g) == std::vector<double>{-12, -28});
    REQUIRE(g.requires_grad());
    auto g2 = tg::autograd::grad({g.sum()}, {x})[0];
    // d/dx sum(2 x w w^T) = 2 * ones w w^T; w w^T = [[5, 11], [11, 25]] -> [32, 72]
    CHECK(values(g2) == std::vector<double>{32, 72});
    // And by finite differences: gradcheck of the (recorded) gradient itself.
    tg::manual_seed(9);
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            auto out = tg::matmul(in[0], in[1].t());
            return tg::autograd::grad({(out * out * out).sum()}, {in[0], in[1]}, {}, false, true)[0];
        },
        (Inputs{leaf({2, 3}), leaf({4, 3})}));
}

TEST_CASE("mm and bmm over an empty inner dimension give zeros, and fresh outputs hold no stale values") {
    auto z = tg::mm(tg::ones({3, 0}), tg::ones({0, 2}));
    REQUIRE(z.sizes() == tg::Shape{3, 2});
    CHECK(z.to_vector<float>() == std::vector<float>(6, 0.0f));
    auto zb = tg::bmm(tg::ones({2, 3, 0}), tg::ones({2, 0, 4}));
    REQUIRE(zb.sizes() == tg::Shape{2, 3, 4});
    CHECK(zb.to_vector<float>() == std::vector<float>(24, 0.0f));
    // Products of the same shape one after another: each result is exactly its own product
    // (the output buffer is not zero-filled first, so cblas must overwrite all of it).
    for (int round = 0; round < 3; ++round) {
        auto a = tg::full({4, 5}, 1.0 + round);
        auto b = tg::full({5, 3}, 2.0);
        CHECK(tg::mm(a, b).to_vector<float>() == std::vector<float>(12, 10.0f * (1.0f + round)));
    }
}
