// The writing forms of indexing (scatter, scatter_add, index_add, index_copy, index_put and
// Tensor::index_put_) and the triangular masks: values against hand-computed cases,
// gradients against finite differences (broadcast and non-contiguous inputs included),
// double backward, and one error per argument rule.
#include "test_support.hpp"

using namespace tgtest;
using tg::Tensor;
using Inputs = std::vector<Tensor>;

namespace {

Tensor f64(std::initializer_list<std::initializer_list<double>> rows) { return tg::tensor(rows, tg::kFloat64); }
Tensor i64_rows(std::initializer_list<std::initializer_list<double>> rows) { return tg::tensor(rows, tg::kInt64); }
Tensor i64(std::initializer_list<double> v) { return tg::tensor(v, tg::kInt64); }

// Gradients of f, and of its first derivative (double backward), against finite differences.
void gradcheck_twice(const std::function<Tensor(const Inputs&)>& f, const Inputs& inputs) {
    REQUIRE_GRADCHECK(f, inputs);
    REQUIRE_GRADCHECK(
        [f](const Inputs& in) {
            tg::AutoGradMode on(true);
            const Tensor y = f(in);
            const Tensor w = tg::sin(tg::arange(0, static_cast<double>(y.numel()), 1, tg::kFloat64)).reshape(y.sizes());
            auto grads = tg::autograd::grad({(y * y * w).sum()}, in, {}, false, true);
            Tensor total = tg::zeros({}, tg::kFloat64);
            for (const Tensor& g : grads) total = total + (g * g).sum();
            return total;
        },
        inputs);
}

}  // namespace

TEST_CASE("scatter and scatter_add: libtorch's examples, src larger than index, the value form") {
    auto self = tg::zeros({3, 5}, tg::kFloat64);
    auto src = tg::arange(1, 11, 1, tg::kFloat64).reshape({2, 5});
    auto index = i64_rows({{0, 1, 2, 0}});
    // torch.zeros(3, 5).scatter_(0, [[0, 1, 2, 0]], src): src[0][j] goes to row index[0][j]
    auto out = tg::scatter(self, 0, index, src);
    CHECK(values(out) == std::vector<double>{1, 0, 0, 4, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0});
    CHECK(values(self) == std::vector<double>(15, 0.0));  // self untouched
    auto added = tg::scatter_add(tg::ones({3, 5}, tg::kFloat64), 0, i64_rows({{0, 1, 2, 0, 0}, {2, 0, 0, 1, 2}}), src);
    CHECK(values(added) == std::vector<double>{1 + 1, 1 + 7, 1 + 8, 1 + 4, 1 + 5, 1, 1 + 2, 1, 1 + 9, 1, 1 + 6, 1, 1 + 3, 1, 1 + 10});
    CHECK(values(self.scatter(1, i64_rows({{2}, {3}}), 1.23)) ==
          std::vector<double>{0, 0, 1.23, 0, 0, 0, 0, 0, 1.23, 0, 0, 0, 0, 0, 0});
    CHECK(values(self.scatter_add(1, i64_rows({{1, 1}}), tg::ones({1, 2}, tg::kFloat64)))[1] == 2.0);
    CHECK(tg::scatter(tg::zeros({}, tg::kFloat64), 0, tg::scalar_tensor(0, tg::kInt64), tg::scalar_tensor(5, tg::kFloat64)).item<double>() == 5);
    // gradients: self where not overwritten, src where read; src larger than index pads with 0
    auto s = leaf({3, 5}), r = leaf({2, 5});
    (tg::scatter(s, 0, index, r) * tg::arange(0, 15, 1, tg::kFloat64).reshape({3, 5})).sum().backward();
    CHECK(values(s.grad()) == std::vector<double>{0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 10, 11, 0, 13, 14});
    CHECK(values(r.grad()) == std::vector<double>{0, 6, 12, 3, 0, 0, 0, 0, 0, 0});
    gradcheck_twice([index](const Inputs& in) { return tg::scatter(in[0], 0, index, in[1]); }, {leaf({3, 5}), leaf({2, 5})});
    gradcheck_twice([](const Inputs& in) { return tg::scatter_add(in[0], 1, i64_rows({{0, 0, 2}, {1, 2, 1}}), in[1].t()); },
                    {leaf({2, 3}), leaf({4, 2})});
    gradcheck_twice([](const Inputs& in) { return tg::scatter(in[0].t(), 0, i64_rows({{1, 0}}), -2.0) * in[0].t(); },
                    {leaf({2, 3})});
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::scatter_add(in[0] + in[1], 0, i64_rows({{0, 1, 0}}), in[0]); },
                      (Inputs{leaf({2, 3}), leaf({3})}));
}

TEST_CASE("scatter errors: rank, index larger than self or src, dtype, index values") {
    auto a = tg::zeros({2, 3}), src = tg::ones({2, 3});
    REQUIRE_TG_ERROR(tg::scatter(a, 2, i64_rows({{0}}), src), "scatter", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::scatter(a, 0, i64({0}), src), "scatter", "[1]", "[2, 3]", "rank");
    REQUIRE_TG_ERROR(tg::scatter(a, 0, i64_rows({{0, 0, 0, 0}}), tg::ones({2, 4})), "scatter", "[1, 4]", "[2, 3]", "dim 1");
    REQUIRE_TG_ERROR(tg::scatter(a, 0, i64_rows({{0, 0, 0}}), tg::ones({2, 2})), "scatter", "[1, 3]", "src of shape [2, 2]");
    REQUIRE_TG_ERROR(tg::scatter(a, 0, i64_rows({{0}}), tg::ones({2, 3}, tg::kFloat64)), "scatter", "float64", "float32");
    REQUIRE_TG_ERROR(tg::scatter(a, 0, i64_rows({{2}}), src), "scatter", "index 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::scatter_add(a, 0, tg::ones({1, 1}), src), "scatter_add", "int64", "[1, 1]");
    REQUIRE_TG_ERROR(tg::scatter(a, 1, i64_rows({{-1}}), 0.0), "scatter", "index -1", "[2, 3]");
}

TEST_CASE("index_add and index_copy: repeated indices add up (or overwrite), alpha, gradients") {
    auto x = tg::ones({5, 3}, tg::kFloat64);
    auto t = tg::tensor({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}, tg::kFloat64);
    auto index = i64({0, 4, 2});
    CHECK(values(tg::index_add(x, 0, index, t)) == std::vector<double>{2, 3, 4, 1, 1, 1, 8, 9, 10, 1, 1, 1, 5, 6, 7});
    CHECK(values(x.index_add(0, i64({1, 1, 1}), t, 2.0)) == std::vector<double>{1, 1, 1, 25, 31, 37, 1, 1, 1, 1, 1, 1, 1, 1, 1});
    CHECK(values(x.index_copy(0, index, t)) == std::vector<double>{1, 2, 3, 1, 1, 1, 7, 8, 9, 1, 1, 1, 4, 5, 6});
    CHECK(values(tg::index_add(x, 1, i64({2}), tg::full({5, 1}, 3.0, tg::kFloat64)))[2] == 4);
    auto s = leaf({5, 3}), r = leaf({3, 3});
    (tg::index_copy(s, 0, index, r) * tg::arange(0, 15, 1, tg::kFloat64).reshape({5, 3})).sum().backward();
    CHECK(values(s.grad()) == std::vector<double>{0, 0, 0, 3, 4, 5, 0, 0, 0, 9, 10, 11, 0, 0, 0});
    CHECK(values(r.grad()) == std::vector<double>{0, 1, 2, 12, 13, 14, 6, 7, 8});
    gradcheck_twice([](const Inputs& in) { return tg::index_add(in[0], 0, i64({1, 1, 0}), in[1], -1.5); },
                    {leaf({2, 4}), leaf({3, 4})});
    gradcheck_twice([](const Inputs& in) { return tg::index_add(in[0].t(), 1, i64({2, 0}), in[1] + in[2]); },
                    {leaf({3, 4}), leaf({4, 2}), leaf({2})});
    gradcheck_twice([](const Inputs& in) { return tg::index_copy(in[0], 1, i64({2, 0}), in[1].t()) * in[0]; },
                    {leaf({4, 3}), leaf({2, 4})});
    auto a = tg::zeros({4, 3});
    REQUIRE_TG_ERROR(tg::index_add(a, 0, i64_rows({{0}}), tg::ones({1, 3})), "index_add", "1-D", "[1, 1]");
    REQUIRE_TG_ERROR(tg::index_add(a, 0, i64({0, 1}), tg::ones({3, 3})), "index_add", "[3, 3]", "[4, 3]", "expected [2, 3]");
    REQUIRE_TG_ERROR(tg::index_add(a, 0, i64({4}), tg::ones({1, 3})), "index_add", "index 4", "[4, 3]");
    REQUIRE_TG_ERROR(tg::index_copy(a, 0, i64({0}), tg::ones({1, 3}, tg::kFloat64)), "index_copy", "float64", "[4, 3]");
    REQUIRE_TG_ERROR(tg::index_copy(a, -3, i64({0}), tg::ones({1, 3})), "index_copy", "dim -3", "[4, 3]");
}

TEST_CASE("index_put: advanced-index assignment, broadcast index tensors, masks, accumulate, in place") {
    auto x = tg::zeros({3, 4}, tg::kFloat64);
    // x[[0, 2], [1, 3]] = [5, 6]
    auto y = tg::index_put(x, {i64({0, 2}), i64({1, -1})}, tg::tensor({5.0, 6.0}, tg::kFloat64));
    CHECK(values(y) == std::vector<double>{0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6});
    // one index: whole rows, a broadcast value
    CHECK(values(x.index_put({i64({1})}, tg::scalar_tensor(2.0, tg::kFloat64))) ==
          std::vector<double>{0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0});
    // index tensors broadcast: rows (2, 1) x cols (2) pick a 2x2 block
    auto block = x.index_put({i64_rows({{0}, {2}}), i64({0, 3})}, tg::tensor({{1, 2}, {3, 4}}, tg::kFloat64));
    CHECK(values(block) == std::vector<double>{1, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 4});
    // accumulate: repeated positions add up
    CHECK(values(x.index_put({i64({0, 0, 0}), i64({1, 1, 2})}, tg::ones({3}, tg::kFloat64), true))[1] == 2.0);
    // a bool mask stands for its true positions
    auto mask = f64({{1, 0, 0, 1}, {0, 0, 0, 0}, {0, 1, 0, 0}}) > 0.0;
    CHECK(values(x.index_put({mask}, tg::scalar_tensor(7.0, tg::kFloat64))) ==
          std::vector<double>{7, 0, 0, 7, 0, 0, 0, 0, 0, 7, 0, 0});
    // in place, libtorch's x.index_put_({i}, v)
    auto z = tg::zeros({2, 2});
    z.index_put_({i64({1}), i64({0})}, tg::scalar_tensor(3.0));
    CHECK(z.to_vector<float>() == std::vector<float>{0, 0, 3, 0});
    auto p = leaf({2, 2});
    REQUIRE_TG_ERROR(p.index_put_({i64({0})}, tg::zeros({2}, tg::kFloat64)), "index_put_");
    // gradients through self (zeros where assigned) and values (broadcast back), both orders
    gradcheck_twice([](const Inputs& in) { return tg::index_put(in[0], {i64({0, 2}), i64({1, 0})}, in[1]); },
                    {leaf({3, 2}), leaf({2})});
    gradcheck_twice([](const Inputs& in) { return tg::index_put(in[0].t(), {i64({1, 1})}, in[1], true) * in[0].t(); },
                    {leaf({3, 2}), leaf({3})});
    gradcheck_twice([](const Inputs& in) { return tg::index_put(in[0], {i64_rows({{0}, {1}}), i64({0, 1, 2})}, in[1]); },
                    {leaf({2, 3, 2}), leaf({1, 2})});
    REQUIRE_TG_ERROR(tg::index_put(x, {}, tg::zeros({}, tg::kFloat64)), "index_put", "[3, 4]");
    REQUIRE_TG_ERROR(tg::index_put(x, {i64({3})}, tg::zeros({}, tg::kFloat64)), "index_put", "index 3", "[3, 4]");
    REQUIRE_TG_ERROR(tg::index_put(x, {i64({0, 1}), i64({0, 1, 2})}, tg::zeros({}, tg::kFloat64)), "index_put", "[2]", "[3]");
    REQUIRE_TG_ERROR(tg::index_put(x, {i64({0}), i64({0}), i64({0})}, tg::zeros({}, tg::kFloat64)), "index_put", "3 index tensors", "[3, 4]");
    REQUIRE_TG_ERROR(tg::index_put(x, {i64({0})}, tg::zeros({3}, tg::kFloat64)), "index_put", "[3]", "[1, 4]");
    REQUIRE_TG_ERROR(tg::index_put(x, {i64({0})}, tg::zeros({})), "index_put", "float32", "float64", "[3, 4]");
    REQUIRE_TG_ERROR(tg::index_put(x, {tg::zeros({1})}, tg::zeros({}, tg::kFloat64)), "index_put", "int64 or bool", "[1]");
    REQUIRE_TG_ERROR(tg::index_put(x, {tg::zeros({3, 3}) > 0.0}, tg::zeros({}, tg::kFloat64)), "index_put", "[3, 3]", "[3, 4]");
}

TEST_CASE("triu and tril: libtorch's diagonal offsets, batches, gradients") {
    auto a = tg::arange(1, 13, 1, tg::kFloat64).reshape({3, 4});
    CHECK(values(tg::triu(a)) == std::vector<double>{1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12});
    CHECK(values(tg::triu(a, 1)) == std::vector<double>{0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12});
    CHECK(values(tg::tril(a)) == std::vector<double>{1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0});
    CHECK(values(a.tril(-1)) == std::vector<double>{0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0});
    CHECK(values(a.triu(-5)) == values(a));
    auto batched = tg::ones({2, 2, 2}, tg::kInt64).tril();
    CHECK(batched.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1, 1, 1, 0, 1, 1});
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::triu(in[0].transpose(1, 2), 1) * in[1]; },
                      (Inputs{leaf({2, 4, 3}), leaf({4})}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return tg::tril(in[0] * in[0], -1); }, (Inputs{leaf({3, 3})}));
    REQUIRE_TG_ERROR(tg::triu(tg::zeros({4})), "triu", "[4]", "2 dims");
    REQUIRE_TG_ERROR(tg::tril(tg::zeros({})), "tril", "[]", "2 dims");
}
