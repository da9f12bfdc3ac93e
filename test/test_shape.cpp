// Views and shape ops (reshape ... select) and indexing/joining ops (index_select ... gather).
#include "test_support.hpp"

using namespace tgtest;

namespace {
using Fn = std::function<tg::Tensor(const std::vector<tg::Tensor>&)>;

// Gradchecks the gradient of sum(select(x)^2) with respect to x: the backward of a selection
// (a scatter) records itself, so it has a backward too.
void require_double_backward(const std::function<tg::Tensor(const tg::Tensor&)>& select, const tg::Tensor& a) {
    REQUIRE_GRADCHECK(Fn([select](const auto& in) {
                          auto s = select(in[0]);
                          return tg::autograd::grad({(s * s).sum()}, {in[0]}, {}, false, true)[0];
                      }),
                      {a});
}
tg::Tensor iota(const tg::Shape& shape) { return tg::arange(static_cast<double>(shape.numel()), tg::kFloat64).reshape(shape); }
tg::Tensor idx(std::vector<std::int64_t> v, const tg::Shape& shape = {}) { return tg::from_vector(v, shape); }
tg::Tensor mask(std::vector<bool> v, const tg::Shape& shape = {}) { return tg::from_vector(v, shape); }
}  // namespace

// ---- views ---------------------------------------------------------------------------------

TEST_CASE("reshape and view infer one -1 dim and share storage") {
    auto x = iota({2, 3, 4});
    auto r = x.reshape({4, -1});
    CHECK(r.sizes() == tg::Shape{4, 6});
    CHECK(r.shares_storage(x));
    CHECK(values(r) == values(x));
    auto v = x.view({-1});
    CHECK(v.sizes() == tg::Shape{24});
    CHECK(v.shares_storage(x));
    CHECK(r.at({1, 2}) == 8.0);
    // a transposed tensor cannot be viewed flat; reshape copies instead
    auto t = x.transpose(0, 2);
    REQUIRE_TG_ERROR(t.view({24}), "view", "without copying", "reshape");
    auto rt = t.reshape({24});
    CHECK_FALSE(rt.shares_storage(x));
    CHECK(rt.at({1}) == 12.0);  // t[0][0][1] = x[1][0][0]
    // a view merging dims that are contiguous among themselves is still a view
    auto n = x.narrow(2, 0, 2);  // [2, 3, 2], non-contiguous
    CHECK(n.view({6, 2}).shares_storage(x));
    REQUIRE_TG_ERROR(x.reshape({5, 5}), "reshape", "[5, 5]", "[2, 3, 4]", "24 elements");
    REQUIRE_TG_ERROR(x.reshape({-1, 5}), "reshape", "[-1, 5]", "[2, 3, 4]");
    REQUIRE_TG_ERROR(x.reshape({-1, -1}), "reshape", "only one dim can be -1");
    REQUIRE_TG_ERROR(x.view({7, -1}), "view", "[7, -1]");
}

TEST_CASE("flatten, squeeze and unsqueeze") {
    auto x = iota({2, 1, 3, 1});
    CHECK(x.flatten().sizes() == tg::Shape{6});
    CHECK(x.flatten(1).sizes() == tg::Shape{2, 3});
    CHECK(x.flatten(0, 2).sizes() == tg::Shape{6, 1});
    CHECK(x.flatten().shares_storage(x));
    CHECK(x.squeeze().sizes() == tg::Shape{2, 3});
    CHECK(x.squeeze(1).sizes() == tg::Shape{2, 3, 1});
    CHECK(x.squeeze(0).sizes() == x.sizes());  // not a 1: no-op, like libtorch
    CHECK(x.squeeze(-1).sizes() == tg::Shape{2, 1, 3});
    CHECK(x.unsqueeze(0).sizes() == tg::Shape{1, 2, 1, 3, 1});
    CHECK(x.unsqueeze(-1).sizes() == tg::Shape{2, 1, 3, 1, 1});
    CHECK(x.squeeze().shares_storage(x));
    CHECK(x.unsqueeze(2).shares_storage(x));
    CHECK(values(x.squeeze()) == std::vector<double>{0, 1, 2, 3, 4, 5});
    REQUIRE_TG_ERROR(x.flatten(2, 1), "flatten", "start_dim 2", "end_dim 1");
    REQUIRE_TG_ERROR(x.squeeze(4), "squeeze", "dim 4", "[2, 1, 3, 1]");
    REQUIRE_TG_ERROR(x.unsqueeze(6), "unsqueeze", "dim 6");
}

TEST_CASE("transpose and permute are views with swapped strides") {
    auto x = iota({2, 3});
    auto t = x.t();
    CHECK(t.sizes() == tg::Shape{3, 2});
    CHECK(t.shares_storage(x));
    CHECK_FALSE(t.is_contiguous());
    CHECK(values(t) == std::vector<double>{0, 3, 1, 4, 2, 5});
    auto y = iota({2, 3, 4});
    auto p = y.permute({2, 0, 1});
    CHECK(p.sizes() == tg::Shape{4, 2, 3});
    CHECK(p.strides() == tg::Shape{1, 12, 4});
    CHECK(p.shares_storage(y));
    CHECK(p.at({3, 1, 2}) == y.at({1, 2, 3}));
    CHECK(y.transpose(-1, 0).at({3, 2, 1}) == y.at({1, 2, 3}));
    REQUIRE_TG_ERROR(y.transpose(0, 3), "transpose", "dim 3", "[2, 3, 4]");
    REQUIRE_TG_ERROR(y.permute({0, 1}), "permute", "[0, 1]", "[2, 3, 4]");
    REQUIRE_TG_ERROR(y.permute({0, 1, 1}), "permute", "repeats");
}

TEST_CASE("expand broadcasts with stride 0; narrow and select are offset views") {
    auto x = tg::tensor({1.0, 2.0, 3.0}, tg::kFloat64).reshape({3, 1});
    auto e = x.expand({2, 3, 4});
    CHECK(e.sizes() == tg::Shape{2, 3, 4});
    CHECK(e.strides()[0] == 0);
    CHECK(e.strides()[2] == 0);
    CHECK(e.shares_storage(x));
    CHECK(e.at({1, 2, 3}) == 3.0);
    CHECK(x.expand({-1, 2}).sizes() == tg::Shape{3, 2});
    REQUIRE_TG_ERROR(x.expand({2, 4}), "expand", "[3, 1]", "[2, 4]");
    REQUIRE_TG_ERROR(x.expand({3}), "expand", "fewer dims");

    auto y = iota({3, 4});
    auto n = y.narrow(1, 1, 2);
    CHECK(n.sizes() == tg::Shape{3, 2});
    CHECK(n.shares_storage(y));
    CHECK(values(n) == std::vector<double>{1, 2, 5, 6, 9, 10});
    CHECK(values(y.narrow(0, -1, 1)) == std::vector<double>{8, 9, 10, 11});
    auto s = y.select(1, 3);
    CHECK(s.sizes() == tg::Shape{3});
    CHECK(s.shares_storage(y));
    CHECK(values(s) == std::vector<double>{3, 7, 11});
    CHECK(values(y[-1]) == std::vector<double>{8, 9, 10, 11});
    REQUIRE_TG_ERROR(y.narrow(1, 3, 2), "narrow", "[3, 5)", "size 4");
    REQUIRE_TG_ERROR(y.select(0, 3), "select", "index 3", "size 3");
    REQUIRE_TG_ERROR(y.select(2, 0), "select", "dim 2");
}

TEST_CASE("view ops pass gradients back to the input's shape") {
    auto x = leaf({2, 3, 4});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return in[0].reshape({4, -1}) * in[0].reshape({4, 6}); }), {x});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return in[0].transpose(0, 2).reshape({-1}); }), {x});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return in[0].narrow(2, 1, 2).view({2, 3, 2}).flatten(1); }), {x});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return in[0].permute({1, 2, 0}) * 3.0; }), {x});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return in[0].unsqueeze(1).squeeze(1).squeeze(); }), {x});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return in[0].select(1, 2) + in[0].select(-1, 0).narrow(1, 0, 1); }),
                      {x});
    auto c = leaf({3, 1});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return in[0].expand({2, 3, 4}); }), {c});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return in[0].t().expand({5, 3}); }), {c});
    // hand check: select + narrow of the same leaf add up
    auto y = tg::zeros({2, 2}, tg::kFloat64).requires_grad_();
    (y.select(0, 1).sum() + y.narrow(1, 0, 1).sum() * 10.0).backward();
    CHECK(values(y.grad()) == std::vector<double>{10, 0, 11, 1});
}

// ---- index_select --------------------------------------------------------------------------

TEST_CASE("index_select picks slices; backward sums repeated indices") {
    auto x = iota({3, 4});
    auto r = tg::index_select(x, 0, idx({2, 0, 2}));
    CHECK(r.sizes() == tg::Shape{3, 4});
    CHECK(values(r) == std::vector<double>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11});
    auto c = x.index_select(1, idx({3, 1}));
    CHECK(values(c) == std::vector<double>{3, 1, 7, 5, 11, 9});
    CHECK(values(x.t().index_select(0, idx({1}))) == std::vector<double>{1, 5, 9});  // non-contiguous
    CHECK(tg::index_select(x, 0, idx({})).sizes() == tg::Shape{0, 4});
    CHECK_FALSE(r.shares_storage(x));  // a copy, like libtorch

    auto w = tg::zeros({3, 2}, tg::kFloat64).requires_grad_();
    tg::index_select(w, 0, idx({1, 1, 2, 1})).sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{0, 0, 3, 3, 1, 1});

    auto a = leaf({4, 3});
    const auto i = idx({3, 0, 3, 1});
    REQUIRE_GRADCHECK(Fn([i](const auto& in) { return tg::index_select(in[0], 0, i); }), {a});
    REQUIRE_GRADCHECK(Fn([i](const auto& in) { return tg::index_select(in[0].t(), 1, i) * in[0].t().narrow(1, 0, 1); }),
                      {a});
    // double backward: the scatter-add records itself
    require_double_backward([i](const tg::Tensor& x) { return tg::index_select(x, 0, i); }, a);
}

TEST_CASE("index_select rejects bad indices before reading") {
    auto x = iota({3, 4});
    REQUIRE_TG_ERROR(tg::index_select(x, 0, idx({0, 3})), "index_select", "index 3", "dim 0", "size 3");
    REQUIRE_TG_ERROR(tg::index_select(x, 1, idx({-1})), "index_select", "index -1", "size 4");
    REQUIRE_TG_ERROR(tg::index_select(x, 2, idx({0})), "index_select", "dim 2");
    REQUIRE_TG_ERROR(tg::index_select(x, 0, tg::tensor({0.0})), "index_select", "int64", "float32");
    REQUIRE_TG_ERROR(tg::index_select(x, 0, idx({0, 1}, {1, 2})), "index_select", "1-D", "[1, 2]");
    // a leaf that requires grad is checked the same way
    auto w = tg::zeros({2}, tg::kFloat64).requires_grad_();
    REQUIRE_TG_ERROR(tg::index_select(w, 0, idx({2})), "index_select", "index 2", "size 2");
}

// ---- cat / stack / split / chunk / unbind ----------------------------------------------------

TEST_CASE("cat joins along a dim; sizes must match elsewhere") {
    auto a = iota({2, 2});
    auto b = iota({2, 3}) + 10.0;
    auto c = tg::cat({a, b}, 1);
    CHECK(c.sizes() == tg::Shape{2, 5});
    CHECK(values(c) == std::vector<double>{0, 1, 10, 11, 12, 2, 3, 13, 14, 15});
    auto r = tg::cat({a, a.t(), a}, -2);
    CHECK(r.sizes() == tg::Shape{6, 2});
    CHECK(values(r) == std::vector<double>{0, 1, 2, 3, 0, 2, 1, 3, 0, 1, 2, 3});
    CHECK(values(tg::cat({a})) == values(a));
    CHECK(tg::cat({a, tg::zeros({0, 2}, tg::kFloat64)}).sizes() == tg::Shape{2, 2});

    REQUIRE_TG_ERROR(tg::cat({a, b}, 0), "cat", "except in dim 0", "[2, 3]", "[2, 2]");
    REQUIRE_TG_ERROR(tg::cat({a, iota({4})}), "cat", "rank 1", "rank 2");
    REQUIRE_TG_ERROR(tg::cat({a, tg::zeros({2, 2})}), "cat", "float32", "float64");
    REQUIRE_TG_ERROR(tg::cat({a, a}, 2), "cat", "dim 2");
    REQUIRE_TG_ERROR(tg::cat({}), "cat", "non-empty");
    REQUIRE_TG_ERROR(tg::cat({tg::scalar_tensor(1.0)}), "cat", "0-dim");
}

TEST_CASE("cat gradients: narrow slices back, an input used twice sums") {
    auto x = tg::tensor({1.0, 2.0}, tg::kFloat64).requires_grad_();
    (tg::cat({x, x}) * tg::tensor({1.0, 2.0, 3.0, 4.0}, tg::kFloat64)).sum().backward();
    CHECK(values(x.grad()) == std::vector<double>{4, 6});
    // an input that does not require grad gets none
    auto k = tg::ones({2}, tg::kFloat64);
    auto y = tg::cat({k, x});
    CHECK(y.requires_grad());

    auto a = leaf({2, 3});
    auto b = leaf({4, 3});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return tg::cat({in[0], in[1]}, 0); }), (std::vector<tg::Tensor>{a, b}));
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return tg::cat({in[0].t(), in[1].t(), in[0].t()}, 1); }),
                      (std::vector<tg::Tensor>{a, b}));
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return tg::cat({in[0], in[0]}, -1) * tg::cat({in[0], in[0]}, 1); }),
                      {a});
}

TEST_CASE("stack adds a new dim") {
    auto a = iota({2, 3});
    auto b = a + 100.0;
    auto s0 = tg::stack({a, b});
    CHECK(s0.sizes() == tg::Shape{2, 2, 3});
    CHECK(s0.at({1, 1, 2}) == 105.0);
    auto s2 = tg::stack({a, b}, -1);
    CHECK(s2.sizes() == tg::Shape{2, 3, 2});
    CHECK(values(s2.select(0, 0)) == std::vector<double>{0, 100, 1, 101, 2, 102});
    REQUIRE_TG_ERROR(tg::stack({a, a.t()}), "stack", "same shape", "[3, 2]", "[2, 3]");
    REQUIRE_TG_ERROR(tg::stack({a, a}, 3), "stack", "dim 3");
    auto x = leaf({2, 3});
    auto y = leaf({2, 3});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return tg::stack({in[0], in[1], in[0]}, 1); }),
                      (std::vector<tg::Tensor>{x, y}));
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return tg::stack({tg::scalar_tensor(1.0, tg::kFloat64), in[0].sum()}); }),
                      {x});
}

TEST_CASE("split, chunk and unbind return views") {
    auto x = iota({5, 2});
    auto parts = tg::split(x, 2);
    REQUIRE(parts.size() == 3);
    CHECK(parts[0].sizes() == tg::Shape{2, 2});
    CHECK(parts[2].sizes() == tg::Shape{1, 2});
    CHECK(values(parts[2]) == std::vector<double>{8, 9});
    for (const auto& p : parts) CHECK(p.shares_storage(x));
    auto cols = tg::split(x, 1, 1);
    REQUIRE(cols.size() == 2);
    CHECK(values(cols[1]) == std::vector<double>{1, 3, 5, 7, 9});

    auto ch = tg::chunk(x, 2);  // ceil(5 / 2) = 3: sizes 3 and 2
    REQUIRE(ch.size() == 2);
    CHECK(ch[0].size(0) == 3);
    CHECK(ch[1].size(0) == 2);
    CHECK(tg::chunk(iota({6}), 4).size() == 3);  // pieces of 2, like libtorch
    CHECK(tg::chunk(iota({2}), 5).size() == 2);

    auto rows = tg::unbind(x);
    REQUIRE(rows.size() == 5);
    CHECK(rows[3].sizes() == tg::Shape{2});
    CHECK(values(rows[3]) == std::vector<double>{6, 7});
    CHECK(rows[3].shares_storage(x));
    auto us = tg::unbind(x, -1);
    REQUIRE(us.size() == 2);
    CHECK(values(us[0]) == std::vector<double>{0, 2, 4, 6, 8});

    REQUIRE_TG_ERROR(tg::split(x, 0), "split", "split_size", "0");
    REQUIRE_TG_ERROR(tg::split(x, 2, 2), "split", "dim 2");
    REQUIRE_TG_ERROR(tg::chunk(x, 0), "chunk", "chunks must be positive");
    REQUIRE_TG_ERROR(tg::unbind(x, 5), "unbind", "dim 5");

    auto a = leaf({5, 3});
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          auto p = tg::split(in[0], 2);
                          return tg::cat({p[2], p[0].narrow(0, 0, 1)}) * p[1].narrow(0, 1, 1);
                      }),
                      {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          auto c = tg::chunk(in[0].t(), 3, 1);
                          return c[0] * c[1];
                      }),
                      {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          auto u = tg::unbind(in[0], 1);
                          return u[0] * u[2] + u[1];
                      }),
                      {a});
}

TEST_CASE("split_with_sizes: views, one tape node, zero gradients for unused pieces, double backward") {
    auto x = iota({6, 2});
    auto parts = tg::split_with_sizes(x, {1, 0, 3, 2});
    REQUIRE(parts.size() == 4);
    CHECK(parts[1].sizes() == tg::Shape{0, 2});
    CHECK(values(parts[2]) == std::vector<double>{2, 3, 4, 5, 6, 7});
    CHECK(values(parts[3]) == std::vector<double>{8, 9, 10, 11});
    for (const auto& p : parts) CHECK(p.shares_storage(x));
    CHECK(values(tg::split_with_sizes(x, {1, 1}, 1)[1]) == std::vector<double>{1, 3, 5, 7, 9, 11});
    REQUIRE_TG_ERROR(tg::split_with_sizes(x, {2, 3}), "split_with_sizes", "[2, 3]", "add up to 5", "size 6");
    REQUIRE_TG_ERROR(tg::split_with_sizes(x, {7, -1}), "split_with_sizes", "non-negative", "[7, -1]");
    REQUIRE_TG_ERROR(tg::split_with_sizes(x, {}), "split_with_sizes", "at least one");

    // Every piece of an unbind hangs off the same split node (a squeeze in between), so its
    // backward is one concatenation however many pieces there are.
    auto a = leaf({4, 3});
    auto rows = tg::unbind(a);
    REQUIRE(rows.size() == 4);
    const auto split_node = rows[0].grad_fn()->next_edges()[0].node;
    CHECK(split_node->name() == "split_with_sizes");
    for (const auto& r : rows) CHECK(r.grad_fn()->next_edges()[0].node == split_node);

    // Pieces without a gradient contribute zeros; the others their own gradient.
    (rows[1] * 2.0 + rows[3] * rows[3]).sum().backward();
    const auto av = values(a), gv = values(a.grad());
    for (int i = 0; i < 12; ++i) {
        const int row = i / 3;
        const double expected = row == 1 ? 2.0 : row == 3 ? 2.0 * av[static_cast<std::size_t>(i)] : 0.0;
        CHECK(gv[static_cast<std::size_t>(i)] == Approx(expected));
    }
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          auto p = tg::split_with_sizes(in[0], {2, 0, 1, 1}, 0);
                          return tg::sum(p[0], {0}) * p[3].squeeze(0);  // p[2] unused
                      }),
                      {leaf({4, 3})});

    // Double backward: d/da of sum((d/da sum(p0^2 * p1))^2) through the split's cat backward.
    auto b = leaf({2, 3});
    auto f = [](const tg::Tensor& t) {
        auto p = tg::split_with_sizes(t, {1, 1});
        return (p[0] * p[0] * p[1]).sum();
    };
    auto g = tg::autograd::grad({f(b)}, {b}, {}, false, true)[0];
    auto gg = tg::autograd::grad({(g * g).sum()}, {b})[0];
    // g = [2 p0 p1, p0^2]; sum(g^2) = 4 p0^2 p1^2 + p0^4
    // d/dp0 = 8 p0 p1^2 + 4 p0^3, d/dp1 = 8 p0^2 p1
    const auto bv = values(b), ggv = values(gg);
    for (std::size_t j = 0; j < 3; ++j) {
        const double p0 = bv[j], p1 = bv[3 + j];
        CHECK(ggv[j] == Approx(8 * p0 * p1 * p1 + 4 * p0 * p0 * p0));
        CHECK(ggv[3 + j] == Approx(8 * p0 * p0 * p1));
    }
}

// ---- masked_select / masked_fill ------------------------------------------------------------

TEST_CASE("masked_select returns the selected elements in order; mask broadcasts") {
    auto x = iota({2, 3});
    auto m = mask({true, false, true, false, false, true}, {2, 3});
    auto s = tg::masked_select(x, m);
    CHECK(s.sizes() == tg::Shape{3});
    CHECK(values(s) == std::vector<double>{0, 2, 5});
    auto row = mask({false, true, true}, {3});  // broadcast over rows
    CHECK(values(tg::masked_select(x, row)) == std::vector<double>{1, 2, 4, 5});
    CHECK(values(tg::masked_select(x.t(), mask({true, false}))) == std::vector<double>{0, 1, 2});
    CHECK(tg::masked_select(x, mask({false}, {1})).sizes() == tg::Shape{0});
    REQUIRE_TG_ERROR(tg::masked_select(x, idx({1, 0, 1})), "masked_select", "bool", "int64");
    REQUIRE_TG_ERROR(tg::masked_select(x, mask({true, false})), "masked_select", "[2, 3]", "[2]");

    auto a = leaf({2, 3});
    REQUIRE_GRADCHECK(Fn([m](const auto& in) { return tg::masked_select(in[0], m); }), {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return tg::masked_select(in[0].t(), mask({true, false, true}, {3, 1})); }),
                      {a});
    // a broadcast input: its gradient sums over the broadcast dim
    auto b = tg::zeros({1, 3}, tg::kFloat64).requires_grad_();
    tg::masked_select(b, m).sum().backward();
    CHECK(values(b.grad()) == std::vector<double>{1, 0, 2});
    require_double_backward([m](const tg::Tensor& x) { return tg::masked_select(x, m); }, a);
}

TEST_CASE("masked_fill writes a value where the mask is true; no gradient there") {
    auto x = iota({2, 3});
    auto m = mask({true, false, false, false, true, false}, {2, 3});
    CHECK(values(tg::masked_fill(x, m, -1.5)) == std::vector<double>{-1.5, 1, 2, 3, -1.5, 5});
    CHECK(values(tg::masked_fill(x, mask({false, true}, {2, 1}), 9)) == std::vector<double>{0, 1, 2, 9, 9, 9});
    CHECK(values(tg::masked_fill(x.t(), mask({true, false}), 7)) == std::vector<double>{7, 3, 7, 4, 7, 5});
    auto i = tg::masked_fill(tg::arange(3), mask({false, true, false}), 42);
    CHECK(i.dtype() == tg::kInt64);
    CHECK(values(i) == std::vector<double>{0, 42, 2});
    REQUIRE_TG_ERROR(tg::masked_fill(x, mask({true, false}), 0), "masked_fill", "[2]", "[2, 3]");
    REQUIRE_TG_ERROR(tg::masked_fill(x, mask({true, true, true}, {3, 1, 1}), 0), "masked_fill", "[3, 1, 1]", "[2, 3]");
    REQUIRE_TG_ERROR(tg::masked_fill(x, tg::ones({2, 3}), 0), "masked_fill", "bool", "float32");

    auto a = tg::ones({2, 3}, tg::kFloat64).requires_grad_();
    (tg::masked_fill(a, m, 5.0) * 3.0).sum().backward();
    CHECK(values(a.grad()) == std::vector<double>{0, 3, 3, 3, 0, 3});
    auto b = leaf({3, 2});
    REQUIRE_GRADCHECK(Fn([m](const auto& in) { return tg::masked_fill(in[0].t(), m, 2.0) * in[0].t(); }), {b});
}

// ---- gather ----------------------------------------------------------------------------------

TEST_CASE("gather picks along a dim; backward scatter-adds") {
    auto x = iota({3, 4});
    auto g1 = tg::gather(x, 1, idx({0, 3, 3, 1, 2, 2}, {3, 2}));
    CHECK(g1.sizes() == tg::Shape{3, 2});
    CHECK(values(g1) == std::vector<double>{0, 3, 7, 5, 10, 10});
    auto g0 = tg::gather(x, 0, idx({2, 0, 1, 2}, {1, 4}));
    CHECK(values(g0) == std::vector<double>{8, 1, 6, 11});
    // index smaller than the input in the other dim
    CHECK(values(tg::gather(x, 1, idx({1, 0}, {2, 1}))) == std::vector<double>{1, 4});
    CHECK(values(tg::gather(x.t(), 0, idx({2, 1}, {1, 2}))) == std::vector<double>{2, 5});

    auto w = tg::zeros({2, 3}, tg::kFloat64).requires_grad_();
    tg::gather(w, 1, idx({2, 2, 0, 1, 1, 1}, {2, 3})).sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{1, 0, 2, 0, 3, 0});

    auto a = leaf({3, 4});
    const auto i = idx({0, 3, 3, 1, 2, 2}, {3, 2});
    REQUIRE_GRADCHECK(Fn([i](const auto& in) { return tg::gather(in[0], 1, i); }), {a});
    REQUIRE_GRADCHECK(Fn([i](const auto& in) { return tg::gather(in[0].t(), 0, i.t()) * tg::gather(in[0], 1, i).t(); }),
                      {a});
    require_double_backward([i](const tg::Tensor& x) { return tg::gather(x, 1, i); }, a);
}

TEST_CASE("gather rejects bad indices and shapes") {
    auto x = iota({3, 4});
    REQUIRE_TG_ERROR(tg::gather(x, 1, idx({0, 4}, {1, 2})), "gather", "index 4", "dim 1", "size 4");
    REQUIRE_TG_ERROR(tg::gather(x, 0, idx({-1}, {1, 1})), "gather", "index -1", "size 3");
    REQUIRE_TG_ERROR(tg::gather(x, 1, idx({0, 1})), "gather", "rank", "[2]", "[3, 4]");
    REQUIRE_TG_ERROR(tg::gather(x, 1, idx({0, 0, 0, 0}, {4, 1})), "gather", "[4, 1]", "[3, 4]", "dim 0");
    REQUIRE_TG_ERROR(tg::gather(x, 2, idx({0}, {1, 1})), "gather", "dim 2");
    REQUIRE_TG_ERROR(tg::gather(x, 0, tg::zeros({1, 1})), "gather", "int64");
}

// ---- flip, roll, repeat/tile ---------------------------------------------------------------

namespace {
namespace F = tg::nn::functional;
tg::Tensor vec(std::vector<double> v, const tg::Shape& shape = {}) {
    return tg::from_vector(v, shape.empty() ? tg::Shape{static_cast<std::int64_t>(v.size())} : shape);
}
// d/dx of sum(f(x)^3), kept on the tape (create_graph): gradchecking it checks f's double backward.
tg::Tensor grad_of_cube_sum(const std::function<tg::Tensor(const tg::Tensor&)>& f, const tg::Tensor& x) {
    auto y = f(x);
    return tg::autograd::grad({(y * y * y).sum()}, {x}, {}, false, true)[0];
}
}  // namespace

TEST_CASE("flip reverses along the given dims into a new tensor") {
    auto x = iota({2, 3});
    CHECK(values(tg::flip(x, {1})) == std::vector<double>{2, 1, 0, 5, 4, 3});
    CHECK(values(tg::flip(x, {0})) == std::vector<double>{3, 4, 5, 0, 1, 2});
    CHECK(values(tg::flip(x, {0, -1})) == std::vector<double>{5, 4, 3, 2, 1, 0});
    auto same = tg::flip(x, {});
    CHECK(values(same) == values(x));
    CHECK_FALSE(same.shares_storage(x));
    CHECK(tg::flip(x, {1}).is_contiguous());
    // non-contiguous input: x.t() = [[0, 3], [1, 4], [2, 5]]
    CHECK(values(tg::flip(x.t(), {0})) == std::vector<double>{2, 5, 1, 4, 0, 3});
    CHECK(values(tg::flip(x.narrow(1, 1, 2), {0, 1})) == std::vector<double>{5, 4, 2, 1});
    CHECK(values(tg::flip(tg::from_vector(std::vector<std::int64_t>{1, 2, 3}), {0})) == std::vector<double>{3, 2, 1});
    CHECK(tg::flip(tg::zeros({0, 2}), {0}).sizes() == tg::Shape{0, 2});

    auto w = vec({1, 2, 3}).to(tg::kFloat64).requires_grad_();
    (tg::flip(w, {0}) * vec({10, 20, 30}).to(tg::kFloat64)).sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{30, 20, 10});

    auto a = leaf({3, 4});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return tg::flip(in[0].t(), {0, 1}) * in[0].t(); }), {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return tg::flip(in[0].narrow(1, 1, 2), {1}); }), {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          return grad_of_cube_sum([](const tg::Tensor& t) { return tg::flip(t.t(), {1}); }, in[0]);
                      }),
                      {a});

    REQUIRE_TG_ERROR(tg::flip(x, {2}), "flip", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::flip(x, {1, -1}), "flip", "dim 1", "more than once", "[2, 3]");
}

TEST_CASE("roll shifts elements with wrap-around, per dim or flattened") {
    auto x = iota({2, 3});
    CHECK(values(tg::roll(x, {1}, {1})) == std::vector<double>{2, 0, 1, 5, 3, 4});
    CHECK(values(tg::roll(x, {-1}, {1})) == std::vector<double>{1, 2, 0, 4, 5, 3});
    CHECK(values(tg::roll(x, {7}, {1})) == values(tg::roll(x, {1}, {1})));  // 7 = 1 mod 3
    CHECK(values(tg::roll(x, {1}, {0})) == std::vector<double>{3, 4, 5, 0, 1, 2});
    CHECK(values(tg::roll(x, {1, 2}, {0, 1})) == std::vector<double>{4, 5, 3, 1, 2, 0});
    CHECK(values(tg::roll(x, {1, 1}, {1, -1})) == values(tg::roll(x, {2}, {1})));  // a dim named twice adds up
    auto flat = tg::roll(x, {2});  // no dims: the flattened tensor, shape kept
    CHECK(flat.sizes() == tg::Shape{2, 3});
    CHECK(values(flat) == std::vector<double>{4, 5, 0, 1, 2, 3});
    CHECK(values(tg::roll(x.t(), {1}, {0})) == std::vector<double>{2, 5, 0, 3, 1, 4});
    auto zero_shift = tg::roll(x, {3}, {1});
    CHECK(values(zero_shift) == values(x));
    CHECK_FALSE(zero_shift.shares_storage(x));

    auto w = vec({1, 2, 3}).to(tg::kFloat64).requires_grad_();
    (tg::roll(w, {1}, {0}) * vec({10, 20, 30}).to(tg::kFloat64)).sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{20, 30, 10});  // w[i] lands at i + 1

    auto a = leaf({3, 4});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return tg::roll(in[0].t(), {1, -2}, {0, 1}) * in[0].t(); }), {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return tg::roll(in[0].narrow(0, 1, 2), {3}); }), {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          return grad_of_cube_sum([](const tg::Tensor& t) { return tg::roll(t, {5}); }, in[0]);
                      }),
                      {a});

    REQUIRE_TG_ERROR(tg::roll(x, {1, 2}, {0}), "roll", "[1, 2]", "[0]", "same length", "[2, 3]");
    REQUIRE_TG_ERROR(tg::roll(x, {1, 2}), "roll", "exactly one shift", "[1, 2]", "[2, 3]");
    REQUIRE_TG_ERROR(tg::roll(x, {1}, {2}), "roll", "dim 2", "[2, 3]");
}

TEST_CASE("repeat copies the tensor along each dim (Tensor::repeat, tf.tile); tile pads the reps") {
    auto x = iota({2, 2});  // [[0, 1], [2, 3]]
    auto r0 = tg::repeat(x, {2, 1});
    CHECK(r0.sizes() == tg::Shape{4, 2});
    CHECK(values(r0) == std::vector<double>{0, 1, 2, 3, 0, 1, 2, 3});
    CHECK(values(tg::repeat(x, {1, 2})) == std::vector<double>{0, 1, 0, 1, 2, 3, 2, 3});
    // more repeats than dims: x gets leading 1-dims
    auto r3 = tg::repeat(x, {2, 1, 2});
    CHECK(r3.sizes() == tg::Shape{2, 2, 4});
    CHECK(values(r3) == std::vector<double>{0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3});
    auto v = tg::repeat(iota({3}), {2, 2});
    CHECK(v.sizes() == tg::Shape{2, 6});
    CHECK(values(v) == std::vector<double>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2});
    CHECK(values(tg::repeat(x.t(), {1, 2})) == std::vector<double>{0, 2, 0, 2, 1, 3, 1, 3});
    CHECK(tg::repeat(iota({2}), {0}).sizes() == tg::Shape{0});
    CHECK(tg::repeat(tg::full({}, 4.0), {}).sizes() == tg::Shape{});
    CHECK(values(tg::repeat(tg::full({}, 4.0), {3})) == std::vector<double>{4, 4, 4});
    // torch.tile: fewer reps than dims get leading 1s, so {2} repeats the last dim
    auto t = tg::tile(x, {2});
    CHECK(t.sizes() == tg::Shape{2, 4});
    CHECK(values(t) == values(tg::repeat(x, {1, 2})));
    CHECK(tg::tile(x, {2, 1, 1}).sizes() == tg::Shape{2, 2, 2});

    auto w = tg::ones({2, 3}, tg::kFloat64).requires_grad_();
    tg::repeat(w, {2, 3}).sum().backward();  // every element copied 6 times
    CHECK(values(w.grad()) == std::vector<double>(6, 6.0));
    auto u = tg::ones({2}, tg::kFloat64).requires_grad_();
    (tg::repeat(u, {2, 2}) * vec({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4}).to(tg::kFloat64)).sum().backward();
    CHECK(values(u.grad()) == std::vector<double>{1 + 3 + 5 + 7, 2 + 4 + 6 + 8});

    auto a = leaf({3, 2});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return tg::repeat(in[0].t(), {2, 1, 3}); }), {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          return tg::repeat(in[0].narrow(1, 0, 1), {2, 3}) * tg::tile(in[0].narrow(1, 1, 1), {2, 3});
                      }),
                      {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          return grad_of_cube_sum([](const tg::Tensor& t) { return tg::repeat(t.t(), {2, 2}); }, in[0]);
                      }),
                      {a});

    REQUIRE_TG_ERROR(tg::repeat(x, {2}), "repeat", "[2]", "[2, 2]", "at least one per dim");
    REQUIRE_TG_ERROR(tg::repeat(x, {-1, 2}), "repeat", "[-1, 2]", "non-negative", "[2, 2]");
    REQUIRE_TG_ERROR(tg::tile(x, {-1}), "tile", "[-1]", "non-negative", "[2, 2]");
}

// ---- nn::functional::pad ---------------------------------------------------------------------

TEST_CASE("pad: constant fill in libtorch's last-dim-first order; negative pads crop") {
    auto x = iota({1, 3});  // [[0, 1, 2]]
    auto c = F::pad(x, {1, 2}, F::PadMode::Constant, 9.0);
    CHECK(c.sizes() == tg::Shape{1, 6});
    CHECK(values(c) == std::vector<double>{9, 0, 1, 2, 9, 9});
    auto c2 = F::pad(x, {1, 1, 1, 0});  // {left, right, top, bottom}
    CHECK(c2.sizes() == tg::Shape{2, 5});
    CHECK(values(c2) == std::vector<double>{0, 0, 0, 0, 0, 0, 0, 1, 2, 0});
    CHECK(values(F::pad(x, {-1, 1})) == std::vector<double>{1, 2, 0});
    CHECK(values(F::pad(x, {0, -2})) == std::vector<double>{0});
    CHECK(F::pad(x, {-2, -1}).sizes() == tg::Shape{1, 0});
    CHECK(values(F::pad(x, {})) == values(x));
    // non-contiguous input: x.t() of iota({2, 3}) = [[0, 3], [1, 4], [2, 5]]
    CHECK(values(F::pad(iota({2, 3}).t(), {1, 0}, F::PadMode::Constant, -1.0)) ==
          std::vector<double>{-1, 0, 3, -1, 1, 4, -1, 2, 5});
    auto ints = F::pad(tg::from_vector(std::vector<std::int64_t>{1, 2}), {1, 1}, F::PadMode::Constant, 7.0);
    CHECK(ints.dtype() == tg::kInt64);
    CHECK(values(ints) == std::vector<double>{7, 1, 2, 7});

    auto w = vec({1, 2, 3}).to(tg::kFloat64).requires_grad_();
    (F::pad(w, {1, -1}, F::PadMode::Constant, 5.0) * vec({10, 20, 30}).to(tg::kFloat64)).sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{20, 30, 0});  // w[2] was cropped
}

TEST_CASE("pad: reflect, replicate, circular and symmetric modes") {
    auto x = iota({1, 3});  // [[0, 1, 2]]
    CHECK(values(F::pad(x, {2, 2}, F::PadMode::Reflect)) == std::vector<double>{2, 1, 0, 1, 2, 1, 0});
    CHECK(values(F::pad(x, {2, 1}, F::PadMode::Replicate)) == std::vector<double>{0, 0, 0, 1, 2, 2});
    CHECK(values(F::pad(x, {2, 1}, F::PadMode::Circular)) == std::vector<double>{1, 2, 0, 1, 2, 0});
    CHECK(values(F::pad(x, {3, 3}, F::PadMode::Circular)) == std::vector<double>{0, 1, 2, 0, 1, 2, 0, 1, 2});
    CHECK(values(F::pad(x, {2, 2}, F::PadMode::Symmetric)) == std::vector<double>{1, 0, 0, 1, 2, 2, 1});
    CHECK(values(F::pad(x, {3, 0}, F::PadMode::Symmetric)) == std::vector<double>{2, 1, 0, 0, 1, 2});
    // negative on one side crops, the other side reflects: [0 1 2 3] -> 1 2 3 | 2 1
    CHECK(values(F::pad(iota({4}), {-1, 2}, F::PadMode::Reflect)) == std::vector<double>{1, 2, 3, 2, 1});
    // two dims: (C, H, W) = (1, 2, 3), reflect by 1 on every side
    auto r = F::pad(iota({1, 2, 3}), {1, 1, 1, 1}, F::PadMode::Reflect);
    CHECK(r.sizes() == tg::Shape{1, 4, 5});
    CHECK(values(r) == std::vector<double>{4, 3, 4, 5, 4, 1, 0, 1, 2, 1, 4, 3, 4, 5, 4, 1, 0, 1, 2, 1});
    // `value` only matters for Constant
    CHECK(values(F::pad(x, {1, 0}, F::PadMode::Replicate, 9.0)) == std::vector<double>{0, 0, 1, 2});

    auto w = vec({1, 2, 3}).to(tg::kFloat64).requires_grad_();
    F::pad(w, {2, 1}, F::PadMode::Replicate).sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{3, 1, 2});  // the edges are read 3 and 2 times
    auto v = vec({1, 2, 3}).to(tg::kFloat64).requires_grad_();
    F::pad(v, {2, 2}, F::PadMode::Reflect).sum().backward();  // 2 1 [0 1 2] 1 0
    CHECK(values(v.grad()) == std::vector<double>{2, 3, 2});
}

TEST_CASE("pad: gradients (non-contiguous, negative pads, an input used twice) and double backward") {
    auto a = leaf({3, 4});
    for (auto mode : {F::PadMode::Constant, F::PadMode::Reflect, F::PadMode::Replicate, F::PadMode::Circular,
                      F::PadMode::Symmetric}) {
        INFO("mode " << static_cast<int>(mode));
        REQUIRE_GRADCHECK(Fn([mode](const auto& in) { return F::pad(in[0].t(), {2, -1, 1, 2}, mode, 0.5); }), {a});
        REQUIRE_GRADCHECK(Fn([mode](const auto& in) {
                              return F::pad(in[0].narrow(1, 1, 3), {-1, 2}, mode) * F::pad(in[0].narrow(1, 0, 3), {1, 0}, mode);
                          }),
                          {a});
        REQUIRE_GRADCHECK(Fn([mode](const auto& in) {
                              return grad_of_cube_sum([mode](const tg::Tensor& t) { return F::pad(t.t(), {1, 2, 2, 0}, mode, 1.5); },
                                                      in[0]);
                          }),
                          {a});
    }
}

TEST_CASE("pad rejects bad padding lists and too large reflections") {
    auto x = iota({2, 3});
    REQUIRE_TG_ERROR(F::pad(x, {1}), "pad", "[1]", "odd length");
    REQUIRE_TG_ERROR(F::pad(x, {1, 1, 1, 1, 1, 1}), "pad", "[1, 1, 1, 1, 1, 1]", "3 dims", "[2, 3]");
    REQUIRE_TG_ERROR(F::pad(x, {3, 0}, F::PadMode::Reflect), "pad", "reflect", "(3, 0)", "less than", "size 3",
                     "[2, 3]");
    REQUIRE_TG_ERROR(F::pad(x, {0, 0, 0, 2}, F::PadMode::Reflect), "pad", "reflect", "(0, 2)", "dim 0", "size 2");
    REQUIRE_TG_ERROR(F::pad(x, {4, 0}, F::PadMode::Symmetric), "pad", "symmetric", "at most", "size 3");
    REQUIRE_TG_ERROR(F::pad(x, {0, 4}, F::PadMode::Circular), "pad", "circular", "at most", "size 3");
    REQUIRE_TG_ERROR(F::pad(tg::zeros({2, 0}), {1, 1}, F::PadMode::Replicate), "pad", "replicate", "[2, 0]");
    REQUIRE_TG_ERROR(F::pad(x, {-2, -2}), "pad", "negative size", "[2, 3]");
}
