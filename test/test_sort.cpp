// sort, argsort and topk: hand-computed orders (stability, ties, NaN), gradients that land
// where each value came from, and the error paths.
#include <cmath>
#include <limits>

#include "test_support.hpp"

using namespace tgtest;

namespace {
using Fn = std::function<tg::Tensor(const std::vector<tg::Tensor>&)>;
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
tg::Tensor vec(std::vector<double> v, const tg::Shape& shape = {}) {
    return tg::from_vector(v, shape.empty() ? tg::Shape{static_cast<std::int64_t>(v.size())} : shape);
}
std::vector<std::int64_t> ints(const tg::Tensor& t) {
    REQUIRE(t.dtype() == tg::kInt64);
    return t.to_vector<std::int64_t>();
}
using I = std::vector<std::int64_t>;
using D = std::vector<double>;
// NaN-aware equality of a tensor's values with `expected` (NaN matches NaN).
bool same_values(const tg::Tensor& t, const D& expected) {
    const auto got = values(t);
    if (got.size() != expected.size()) return false;
    for (std::size_t i = 0; i < got.size(); ++i)
        if (!(got[i] == expected[i] || (std::isnan(got[i]) && std::isnan(expected[i])))) return false;
    return true;
}
}  // namespace

TEST_CASE("sort is stable in both directions and returns the source indices") {
    auto x = vec({3, 1, 2, 1});
    auto [v, i] = tg::sort(x);
    CHECK(values(v) == D{1, 1, 2, 3});
    CHECK(ints(i) == I{1, 3, 2, 0});  // the two 1s keep their input order
    auto [vd, id] = tg::sort(x, 0, true);
    CHECK(values(vd) == D{3, 2, 1, 1});
    CHECK(ints(id) == I{0, 2, 1, 3});  // still input order among equal keys
    CHECK(ints(tg::argsort(x)) == I{1, 3, 2, 0});
    CHECK(ints(tg::argsort(x, -1, true)) == I{0, 2, 1, 3});
    CHECK(v.dtype() == x.dtype());

    // many equal keys: a stable sort keeps every run in input order
    auto keys = vec({2, 0, 2, 1, 0, 2, 1, 0});
    CHECK(ints(tg::argsort(keys)) == I{1, 4, 7, 3, 6, 0, 2, 5});
    CHECK(ints(tg::argsort(keys, 0, true)) == I{0, 2, 5, 3, 6, 1, 4, 7});

    // along dim 0, and on non-contiguous inputs
    auto m = vec({3, 1, 1, 2, 2, 0}, {3, 2});  // [[3, 1], [1, 2], [2, 0]]
    auto [v0, i0] = tg::sort(m, 0);
    CHECK(values(v0) == D{1, 0, 2, 1, 3, 2});
    CHECK(ints(i0) == I{1, 2, 2, 0, 0, 1});
    auto [vt, it] = tg::sort(m.t(), -1);  // rows [3, 1, 2] and [1, 2, 0]
    CHECK(values(vt) == D{1, 2, 3, 0, 1, 2});
    CHECK(ints(it) == I{1, 2, 0, 2, 0, 1});
    CHECK(ints(tg::argsort(m.narrow(0, 1, 2), 0, true)) == I{1, 0, 0, 1});

    // integers, a scalar, an empty dim
    auto [vi, ii] = tg::sort(tg::from_vector(I{5, -2, 7}), 0, true);
    CHECK(ints(vi) == I{7, 5, -2});
    CHECK(ints(ii) == I{2, 0, 1});
    auto [vs, is] = tg::sort(tg::full({}, 4.0));
    CHECK(vs.item<float>() == 4.0f);
    CHECK(is.item<std::int64_t>() == 0);
    CHECK(std::get<0>(tg::sort(tg::zeros({2, 0}))).sizes() == tg::Shape{2, 0});
    auto flags = tg::from_vector(std::vector<bool>{true, false, true, false});
    CHECK(ints(tg::argsort(flags)) == I{1, 3, 0, 2});  // false < true, stable
}

TEST_CASE("sort and topk put NaN above every number, like libtorch") {
    auto x = vec({kNaN, 1, kNaN, 0, -kInf}).to(tg::kFloat64);
    auto [va, ia] = tg::sort(x);
    CHECK(same_values(va, D{-kInf, 0, 1, kNaN, kNaN}));
    CHECK(ints(ia) == I{4, 3, 1, 0, 2});
    auto [vd, id] = tg::sort(x, 0, true);
    CHECK(same_values(vd, D{kNaN, kNaN, 1, 0, -kInf}));
    CHECK(ints(id) == I{0, 2, 1, 3, 4});
    auto [vk, ik] = tg::topk(vec({1, kNaN, 2}), 2);
    CHECK(same_values(vk, D{kNaN, 2}));
    CHECK(ints(ik) == I{1, 2});
    auto [vsm, ism] = tg::topk(vec({1, kNaN, 2}), 2, -1, false);
    CHECK(values(vsm) == D{1, 2});
    CHECK(ints(ism) == I{0, 2});
}

TEST_CASE("topk picks the k largest or smallest; ties go to the lower index") {
    auto x = vec({1, 3, 3, 2, 3});
    auto [v, i] = tg::topk(x, 2);
    CHECK(values(v) == D{3, 3});
    CHECK(ints(i) == I{1, 2});
    auto [vs, is] = tg::topk(x, 3, 0, false);
    CHECK(values(vs) == D{1, 2, 3});
    CHECK(ints(is) == I{0, 3, 1});
    // sorted = false: the chosen k in input order
    auto y = vec({1, 4, 3, 5, 2});
    auto [vy, iy] = tg::topk(y, 2);
    CHECK(values(vy) == D{5, 4});
    CHECK(ints(iy) == I{3, 1});
    auto [vu, iu] = tg::topk(y, 2, -1, true, false);
    CHECK(values(vu) == D{4, 5});
    CHECK(ints(iu) == I{1, 3});
    CHECK(std::get<0>(tg::topk(y, 0)).sizes() == tg::Shape{0});
    CHECK(values(std::get<0>(tg::topk(y, 5))) == D{5, 4, 3, 2, 1});
    // along dim 0 of a non-contiguous view: columns of [[1, 4], [3, 5], [2, 0]]
    auto m = vec({1, 3, 2, 4, 5, 0}, {2, 3}).t();
    auto [vm, im] = tg::topk(m, 2, 0);
    CHECK(vm.sizes() == tg::Shape{2, 2});
    CHECK(values(vm) == D{3, 5, 2, 4});
    CHECK(ints(im) == I{1, 1, 2, 0});
}

TEST_CASE("gradients reach the positions the values came from") {
    auto w = vec({3, 1, 2, 1}).to(tg::kFloat64).requires_grad_();
    (std::get<0>(tg::sort(w)) * vec({1, 2, 3, 4}).to(tg::kFloat64)).sum().backward();
    CHECK(values(w.grad()) == D{4, 1, 3, 2});  // ranks 4, 1, 3, 2 (the equal 1s in input order)
    auto u = vec({1, 4, 3, 5, 2}).to(tg::kFloat64).requires_grad_();
    (std::get<0>(tg::topk(u, 2)) * vec({10, 20}).to(tg::kFloat64)).sum().backward();
    CHECK(values(u.grad()) == D{0, 20, 0, 10, 0});
    // the indices are int64: no gradient, and nothing recorded for them
    CHECK_FALSE(std::get<1>(tg::sort(w)).requires_grad());
    CHECK(std::get<0>(tg::sort(w)).requires_grad());

    auto a = leaf({3, 4});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return std::get<0>(tg::sort(in[0].t(), 0)); }), {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          return std::get<0>(tg::sort(in[0].narrow(1, 1, 3), 1, true)) * in[0].narrow(1, 0, 3);
                      }),
                      {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) { return std::get<0>(tg::topk(in[0].t(), 2, 0)); }), {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          return std::get<0>(tg::topk(in[0].narrow(0, 1, 2), 3, 1, false, false)) *
                                 std::get<0>(tg::topk(in[0].narrow(0, 0, 2), 3, 1));
                      }),
                      {a});
    // double backward: d/dx sum(sort(x)^3) kept on the tape, then gradchecked
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          auto s = std::get<0>(tg::sort(in[0].t(), 1, true));
                          return tg::autograd::grad({(s * s * s).sum()}, {in[0]}, {}, false, true)[0];
                      }),
                      {a});
    REQUIRE_GRADCHECK(Fn([](const auto& in) {
                          auto s = std::get<0>(tg::topk(in[0], 2));
                          return tg::autograd::grad({(s * s * s).sum()}, {in[0]}, {}, false, true)[0];
                      }),
                      {a});
}

TEST_CASE("sort, argsort and topk reject bad dims and k") {
    auto x = vec({1, 4, 3, 5, 2});
    auto m = tg::zeros({2, 3});
    REQUIRE_TG_ERROR(tg::topk(x, 6), "topk", "k = 6", "size 5", "[5]");
    REQUIRE_TG_ERROR(tg::topk(x, -1), "topk", "k = -1", "[5]");
    REQUIRE_TG_ERROR(tg::topk(m, 3, 0), "topk", "k = 3", "dim 0", "size 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::topk(m, 1, 2), "topk", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::sort(m, 2), "sort", "dim 2", "[2, 3]");
    REQUIRE_TG_ERROR(tg::sort(m, -3), "sort", "dim -3", "[2, 3]");
    REQUIRE_TG_ERROR(tg::argsort(m, 5), "argsort", "dim 5", "[2, 3]");
}

TEST_CASE("the Tensor methods flip, roll, repeat, sort, argsort and topk match the free functions") {
    auto x = vec({3, 1, 2, 5, 4, 0}, {2, 3});
    CHECK(values(x.flip({1})) == D{2, 1, 3, 0, 4, 5});
    CHECK(values(x.roll({1}, {1})) == D{2, 3, 1, 0, 5, 4});
    CHECK(values(x.repeat({1, 2})) == D{3, 1, 2, 3, 1, 2, 5, 4, 0, 5, 4, 0});
    auto [sorted, order] = x.sort(1, true);
    CHECK(values(sorted) == D{3, 2, 1, 5, 4, 0});
    CHECK(ints(order) == I{0, 2, 1, 0, 1, 2});
    CHECK(ints(x.argsort(0)) == I{0, 0, 1, 1, 1, 0});
    auto [top, where] = x.topk(2);
    CHECK(values(top) == D{3, 2, 5, 4});
    CHECK(ints(where) == I{0, 2, 0, 1});
}
