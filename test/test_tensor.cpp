#include "sanitizers.hpp"
#include "test_support.hpp"

#include <limits>

#include <sys/resource.h>

using namespace tgtest;

TEST_CASE("factories make the shapes, dtypes and values asked for") {
    auto z = tg::zeros({2, 3});
    CHECK(z.sizes() == tg::Shape{2, 3});
    CHECK(z.dtype() == tg::kFloat32);
    CHECK(values(z) == std::vector<double>(6, 0.0));
    CHECK(values(tg::full({2}, 2.5, tg::kFloat64)) == std::vector<double>{2.5, 2.5});
    CHECK(values(tg::arange(5)) == std::vector<double>{0, 1, 2, 3, 4});
    CHECK(tg::arange(5).dtype() == tg::kInt64);
    CHECK(values(tg::arange(1, 2, 0.25, tg::kFloat64)) == std::vector<double>{1, 1.25, 1.5, 1.75});
    CHECK(values(tg::eye(2, 3)) == std::vector<double>{1, 0, 0, 0, 1, 0});
    auto t = tg::tensor({{1, 2}, {3, 4}});
    CHECK(t.sizes() == tg::Shape{2, 2});
    CHECK(t.at({1, 0}) == 3.0);
    CHECK(tg::from_vector(std::vector<std::int64_t>{1, 2, 3, 4}, {2, 2}).dtype() == tg::kInt64);
    REQUIRE_TG_ERROR(tg::from_vector(std::vector<float>{1, 2, 3}, {2, 2}), "from_vector", "[2, 2]");
}

TEST_CASE("tg::tensor(5.0) is a 0-d scalar, tg::tensor({5.0}) a 1-d tensor (libtorch's rule)") {
    auto s = tg::tensor(5.0);
    CHECK(s.dim() == 0);
    CHECK(s.numel() == 1);
    CHECK(s.dtype() == tg::kFloat32);
    CHECK(s.item<double>() == 5.0);
    CHECK(tg::tensor(2.5, tg::kFloat64).dtype() == tg::kFloat64);
    CHECK(tg::tensor(2.5, tg::kFloat64).item<double>() == 2.5);
    auto one = tg::tensor({5.0});
    CHECK(one.dim() == 1);
    CHECK(one.sizes() == tg::Shape{1});
    // A 0-d tensor broadcasts against anything and takes part in autograd like a variable.
    auto w = tg::tensor(3.0, tg::kFloat64).requires_grad_();
    auto y = (w * tg::tensor({1.0, 2.0}, tg::kFloat64)).sum();
    y.backward();
    CHECK(w.grad().dim() == 0);
    CHECK(w.grad().item<double>() == 3.0);
}

TEST_CASE("manual_seed makes random tensors repeat") {
    tg::manual_seed(7);
    auto a = tg::randn({100});
    auto r = tg::randint(0, 10, {1000});
    tg::manual_seed(7);
    CHECK(tg::equal(a, tg::randn({100})));
    tg::manual_seed(11);  // an odd count of normals must not leak into the next seeded run
    auto odd = tg::randn({3});
    tg::manual_seed(11);
    CHECK(tg::equal(odd, tg::randn({3})));
    tg::manual_seed(7);
    tg::randn({100});
    CHECK(tg::equal(r, tg::randint(0, 10, {1000})));
    auto big = tg::randn({20000}, tg::kFloat64);
    CHECK(std::abs(big.mean().item<double>()) < 0.03);
    CHECK(std::abs(((big * big).mean().item<double>()) - 1.0) < 0.05);
    auto u = tg::rand({20000}, tg::kFloat64);
    CHECK(u.min().item<double>() >= 0.0);
    CHECK(u.max().item<double>() < 1.0);
}

TEST_CASE("shapes too large for int64 strides or memory are a tg::Error") {
    constexpr std::int64_t kHuge = std::numeric_limits<std::int64_t>::max();
    // No element, but the strides of [0, 2^63-1, 2^63-1] overflow (once accepted as garbage).
    REQUIRE_TG_ERROR(tg::zeros({0, kHuge, kHuge}), "empty", "[0, 9223372036854775807, 9223372036854775807]",
                     "too large");
    REQUIRE_TG_ERROR(tg::empty({std::int64_t{1} << 32, std::int64_t{1} << 32}), "empty", "too large");
    REQUIRE_TG_ERROR(tg::ones({2, -1}), "empty", "negative size -1");
    // Fits int64 but not memory: the allocation failure is a tg::Error, not std::bad_alloc.
    REQUIRE_TG_ERROR(tg::empty({std::int64_t{1} << 58}, tg::kFloat64), "empty", "cannot allocate");
    // Empty shapes that do fit are fine, and count zero elements.
    CHECK(tg::zeros({0, std::int64_t{1} << 40}).numel() == 0);
    CHECK(tg::Shape{0, kHuge, kHuge}.numel() == 0);
}

TEST_CASE("views share storage and see writes") {
    auto a = tg::arange(0, 6, 1, tg::kFloat32).reshape({2, 3});
    auto t = a.t();
    CHECK(t.sizes() == tg::Shape{3, 2});
    CHECK_FALSE(t.is_contiguous());
    CHECK(t.shares_storage(a));
    CHECK(t.at({2, 1}) == 5.0);
    auto row = a.select(0, 1);
    CHECK(values(row) == std::vector<double>{3, 4, 5});
    row.fill_(9);
    CHECK(a.at({1, 2}) == 9.0);
    CHECK(values(t.contiguous()) == std::vector<double>{0, 9, 1, 9, 2, 9});
    CHECK(values(a.narrow(1, 1, 2)) == std::vector<double>{1, 2, 9, 9});
    REQUIRE_TG_ERROR(t.view({6}), "view", "[3, 2]");
    CHECK(values(t.reshape({6})) == std::vector<double>{0, 9, 1, 9, 2, 9});
    REQUIRE_TG_ERROR(a.reshape({4, 2}), "reshape", "[4, 2]", "[2, 3]");
}

TEST_CASE("dtype conversion and item") {
    auto a = tg::tensor({1.5, -2.5});
    CHECK(a.to(tg::kInt64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2});
    CHECK(tg::tensor({3.0}).item<float>() == 3.0f);
    REQUIRE_TG_ERROR(a.item<float>(), "item", "[2]");
    REQUIRE_TG_ERROR(tg::arange(3).requires_grad_(), "requires_grad_", "int64");
}

TEST_CASE("printing shows values, shape and dtype") {
    std::ostringstream os;
    os << tg::tensor({{1, 2}, {3, 4}});
    CHECK(os.str().find("[[1, 2],") != std::string::npos);
    CHECK(os.str().find("float32 [2, 2]") != std::string::npos);
    std::ostringstream big;
    big << tg::zeros({100, 100});
    CHECK(big.str().find("...") != std::string::npos);
    CHECK(big.str().size() < 2000);
}

TEST_CASE("large buffers are reused: a released block serves the next tensor of its size class") {
    const float* first = nullptr;
    {
        auto a = tg::ones({1 << 18});  // 1 MB: above the cache's threshold
        first = a.data_ptr<float>();
    }
    auto b = tg::zeros({(1 << 18) - 3});  // same 64 kB size class
    CHECK(b.data_ptr<float>() == first);
    CHECK(b.sum().item<double>() == 0.0);  // written by zeros, nothing stale from `a`
    auto c = tg::ones({1 << 18});          // b still holds the cached block: a new one
    CHECK(c.data_ptr<float>() != b.data_ptr<float>());
    CHECK(c.sum().item<double>() == double(1 << 18));
}

namespace {
long minor_faults() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}
}  // namespace

TEST_CASE("medium buffers freed by one step are not faulted in again by the next") {
    if (tgtest::kAddressSanitizer) return;  // ASan's allocator quarantines freed memory, ignores mallopt
    // An LSTM-like step: 40 buffers of 64 kB (below the block cache) written, kept to the
    // end of the step, freed together. glibc trimmed them off its heap at every step until
    // libtapegrad raised its trim threshold (lib/tensor/allocator.cpp): ~16 page faults
    // per buffer per step.
    auto step = [] {
        std::vector<tg::Tensor> kept;
        for (int k = 0; k < 40; ++k) kept.push_back(tg::full({32, 512}, double(k)));
        double total = 0;
        for (const auto& t : kept) total += t.at({31, 511});
        return total;
    };
    for (int i = 0; i < 2; ++i) CHECK(step() == 780.0);  // the first steps may fault their memory in
    const long before = minor_faults();
    for (int i = 0; i < 10; ++i) CHECK(step() == 780.0);
    const long faults = minor_faults() - before;
    INFO("page faults over 10 later steps: " << faults << " (TG_MALLOC_TUNING=0 gave thousands)");
    CHECK(faults < 500);
}
