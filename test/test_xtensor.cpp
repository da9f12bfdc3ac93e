#include "test_support.hpp"

#include <xtensor/xview.hpp>

#include "tapegrad/xtensor.hpp"

TEST_CASE("tensors convert to and from xt::xarray") {
    auto t = tg::tensor({{1, 2, 3}, {4, 5, 6}}, tg::kFloat64);
    xt::xarray<double> a = tg::to_xarray<double>(t);
    REQUIRE(a.shape().size() == 2);
    CHECK(a(1, 2) == 6.0);
    CHECK(a(0, 1) == 2.0);
    xt::xarray<float> b = {{1.f, 2.f}, {3.f, 4.f}};
    auto back = tg::from_xarray(xt::transpose(b));  // a lazy expression with other strides
    CHECK(back.dtype() == tg::kFloat32);
    CHECK(back.sizes() == tg::Shape{2, 2});
    CHECK(tgtest::values(back) == std::vector<double>{1, 3, 2, 4});
    auto t_view = tg::to_xarray<double>(t.t());  // non-contiguous tensor
    CHECK(t_view(2, 1) == 6.0);
}
