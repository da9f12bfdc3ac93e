// Grouped / depthwise convolution (conv2d and conv_transpose2d with groups), pooling's
// ceil_mode, and unfold / fold (im2col / col2im as ops).
#include <array>
#include <cmath>
#include <sstream>

#include "naive_pool.hpp"
#include "test_support.hpp"

using namespace tgtest;
namespace F = tg::nn::functional;

namespace {

using Inputs = std::vector<tg::Tensor>;

tg::Tensor rnd(const tg::Shape& shape, tg::Dtype dt = tg::kFloat64) { return tg::uniform(shape, -1, 1, dt); }

// A grouped convolution by its definition: each group's input channels convolved (groups = 1)
// with its slice of the weight, the outputs concatenated along the channels.
tg::Tensor conv_by_groups(const tg::Tensor& x, const tg::Tensor& w, const tg::Tensor& b, const tg::Shape& stride,
                          const tg::Shape& padding, const tg::Shape& dilation, std::int64_t groups) {
    const std::int64_t cg = x.size(1) / groups, og = w.size(0) / groups;
    std::vector<tg::Tensor> parts;
    for (std::int64_t k = 0; k < groups; ++k)
        parts.push_back(F::conv2d(x.narrow(1, k * cg, cg), w.narrow(0, k * og, og),
                                  b.defined() ? b.narrow(0, k * og, og) : tg::Tensor(), stride, padding, dilation));
    return tg::cat(parts, 1);
}

double inner(const tg::Tensor& a, const tg::Tensor& b) { return (a * b).sum().item<double>(); }

}  // namespace

// ---- conv2d with groups --------------------------------------------------------------------

TEST_CASE("conv2d groups: hand-computed depthwise and grouped values") {
    // Depthwise 1x1: each channel scaled by its own weight.
    auto x = tg::arange(1, 9, 1, tg::kFloat64).reshape({1, 2, 2, 2});
    auto w = tg::tensor({2.0, -1.0}, tg::kFloat64).reshape({2, 1, 1, 1});
    CHECK(values(F::conv2d(x, w, {}, {1}, {0}, {1}, 2)) == std::vector<double>{2, 4, 6, 8, -5, -6, -7, -8});
    // Two groups, channel multiplier 2, 2x2 kernel of ones with a bias: each output is its
    // group's channel sum (one channel per group) times the multiplier's scale, plus bias.
    auto w2 = tg::cat({tg::ones({1, 1, 2, 2}, tg::kFloat64), 2 * tg::ones({1, 1, 2, 2}, tg::kFloat64),
                       3 * tg::ones({1, 1, 2, 2}, tg::kFloat64), -tg::ones({1, 1, 2, 2}, tg::kFloat64)},
                      0);
    auto b2 = tg::tensor({0.5, 0.0, 0.0, 1.0}, tg::kFloat64);
    // channel 0 sums to 10, channel 1 to 26
    CHECK(values(F::conv2d(x, w2, b2, {1}, {0}, {1}, 2)) == std::vector<double>{10.5, 20, 78, -25});
}

TEST_CASE("conv2d groups: equals the per-group convolutions for stride, padding, dilation, same") {
    tg::manual_seed(21);
    struct Case {
        tg::Shape x, w;
        tg::Shape stride, padding, dilation;
        std::int64_t groups;
    };
    for (const Case& c : std::vector<Case>{{{2, 4, 7, 6}, {6, 2, 3, 3}, {1}, {1}, {1}, 2},
                                           {{3, 6, 8, 8}, {6, 1, 3, 3}, {2}, {1}, {1}, 6},
                                           {{2, 6, 9, 7}, {12, 2, 2, 3}, {2, 1}, {0, 2}, {2, 1}, 3},
                                           {{1, 4, 5, 5}, {8, 1, 3, 3}, {1}, {0}, {2}, 4}}) {
        INFO("input " << c.x << " weight " << c.w << " groups " << c.groups);
        const auto x = rnd(c.x), w = rnd(c.w), b = rnd({c.w[0]});
        check_close(values(F::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups)),
                    values(conv_by_groups(x, w, b, c.stride, c.padding, c.dilation, c.groups)), 1e-12);
    }
    // TF "same" padding with groups (asymmetric padding): the per-group convolutions under "same".
    const auto x = rnd({2, 4, 6, 7}), w = rnd({4, 1, 4, 3});
    std::vector<tg::Tensor> parts;
    for (std::int64_t k = 0; k < 4; ++k)
        parts.push_back(F::conv2d(x.narrow(1, k, 1), w.narrow(0, k, 1), {}, {2}, F::Padding::Same));
    check_close(values(F::conv2d(x, w, {}, {2}, F::Padding::Same, {1}, 4)), values(tg::cat(parts, 1)), 1e-12);
}

TEST_CASE("conv2d groups: float32 (oneDNN grouped kernels) matches float64 (im2col) incl. double backward") {
    tg::manual_seed(22);
    struct Case {
        tg::Shape x, w;
        std::int64_t groups;
        tg::Shape stride, padding;
    };
    for (const Case& c : std::vector<Case>{{{2, 16, 9, 9}, {16, 1, 3, 3}, 16, {1}, {1}},   // depthwise
                                           {{2, 8, 10, 9}, {24, 1, 3, 3}, 8, {2}, {1}},    // multiplier 3
                                           {{3, 16, 7, 7}, {32, 4, 3, 3}, 4, {1}, {0}},    // grouped
                                           {{2, 6, 8, 8}, {4, 3, 2, 2}, 2, {2, 1}, {1, 0}}}) {
        INFO("input " << c.x << " weight " << c.w << " groups " << c.groups);
        const auto x64 = rnd(c.x), w64 = rnd(c.w), b64 = rnd({c.w[0]});
        auto run = [&](tg::Dtype dt) {
            auto x = x64.to(dt).requires_grad_(), w = w64.to(dt).requires_grad_(), b = b64.to(dt).requires_grad_();
            auto y = F::conv2d(x, w, b, c.stride, c.padding, {1}, c.groups);
            auto r = tg::sin(tg::arange(0, y.numel(), 1, dt)).reshape(y.sizes());
            auto gs = tg::autograd::grad({(y * r).sum()}, {x, w, b}, {}, true, true);
            auto second = tg::autograd::grad({(gs[0] * gs[0]).sum() + (gs[1] * gs[1]).sum()}, {x, w});
            return std::vector<tg::Tensor>{y, gs[0], gs[1], gs[2], second[0], second[1]};
        };
        const auto f32 = run(tg::kFloat32), f64 = run(tg::kFloat64);
        for (std::size_t i = 0; i < f32.size(); ++i) {
            INFO("result " << i);
            const auto want = values(f64[i]);
            double scale = 1;
            for (double v : want) scale = std::max(scale, std::abs(v));
            check_close(values(f32[i]), want, 2e-5 * scale);
        }
    }
}

TEST_CASE("conv2d groups: gradcheck (incl. non-contiguous input) and double backward") {
    tg::manual_seed(23);
    auto x = leaf({2, 4, 6, 5}), w = leaf({6, 2, 3, 2}), b = leaf({6});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv2d(in[0], in[1], in[2], {1}, {1}, {1}, 2); },
                      (Inputs{x, w, b}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv2d(in[0], in[1], {}, {2, 1}, {1, 2}, {2, 1}, 2); },
                      (Inputs{x, w}));
    auto xd = leaf({2, 4, 5, 6}), wd = leaf({8, 1, 3, 3});  // depthwise, multiplier 2, on a transposed view
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv2d(in[0].transpose(2, 3), in[1], {}, {1}, {1}, {1}, 4); },
                      (Inputs{xd, wd}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv2d(in[0], in[1], {}, {2}, F::Padding::Same, {1}, 4); },
                      (Inputs{xd, wd}));
    auto grad_of = [](const Inputs& in) {
        auto y = F::conv2d(in[0], in[1], {}, {2, 1}, {1, 1}, {1}, 2);
        auto gs = tg::autograd::grad({(y * y).sum()}, {in[0], in[1]}, {}, true, true);
        return gs[0].sum() * 0.5 + (gs[1] * gs[1]).sum();
    };
    REQUIRE_GRADCHECK(grad_of, (Inputs{x, w}));
}

TEST_CASE("conv2d groups: errors name the op, the shapes and groups") {
    auto x = tg::zeros({2, 6, 5, 5});
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({4, 2, 3, 3}), {}, {1}, {0}, {1}, 2), "conv2d", "[2, 6, 5, 5]",
                     "[4, 2, 3, 3]", "groups = 2", "expects 4 input channels");
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({5, 2, 3, 3}), {}, {1}, {0}, {1}, 3), "conv2d", "[5, 2, 3, 3]",
                     "not divisible by groups = 3");
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({6, 6, 3, 3}), {}, {1}, {0}, {1}, 0), "conv2d", "groups must be positive",
                     "[2, 6, 5, 5]");
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({6, 1, 3, 3}), {}, {1}, F::Padding::Same, {1}, 3), "conv2d",
                     "[6, 1, 3, 3]", "groups = 3");
}

// ---- conv_transpose2d with groups ------------------------------------------------------------

TEST_CASE("conv_transpose2d groups: the adjoint of the grouped conv2d, and per-group transposes") {
    tg::manual_seed(24);
    struct Case {
        tg::Shape x, w;  // x: conv2d input; w: conv2d weight (O, C / groups, kh, kw)
        std::int64_t groups;
        std::int64_t s, p, op, d;
    };
    for (const Case& c : std::vector<Case>{{{2, 4, 7, 7}, {6, 2, 3, 3}, 2, 2, 1, 0, 1},
                                           {{1, 6, 8, 9}, {6, 1, 3, 2}, 6, 2, 0, 1, 1},
                                           {{2, 6, 9, 9}, {9, 2, 2, 2}, 3, 1, 1, 0, 2}}) {
        INFO("input " << c.x << " weight " << c.w << " groups " << c.groups);
        const auto x = rnd(c.x), w = rnd(c.w);
        const auto y = F::conv2d(x, w, {}, {c.s}, {c.p}, {c.d}, c.groups);
        const auto r = rnd(y.sizes());
        // conv_transpose2d's weight (C_in, C_out / groups, kh, kw) is conv2d's weight as stored.
        const auto xt = F::conv_transpose2d(r, w, {}, {c.s}, {c.p}, {c.op}, c.groups, {c.d});
        REQUIRE(xt.size(1) == x.size(1));
        const auto xs = xt.narrow(2, 0, x.size(2)).narrow(3, 0, x.size(3));
        if (c.op == 0) CHECK(std::abs(inner(y, r) - inner(x, xt)) <= 1e-10 * (1 + std::abs(inner(y, r))));
        else CHECK(std::abs(inner(y, r) - inner(x, xs)) <= 1e-10 * (1 + std::abs(inner(y, r))));
        // ... and it is the per-group transposed convolutions concatenated.
        const std::int64_t in_g = w.size(0) / c.groups;
        std::vector<tg::Tensor> parts;
        for (std::int64_t k = 0; k < c.groups; ++k)
            parts.push_back(F::conv_transpose2d(r.narrow(1, k * in_g, in_g), w.narrow(0, k * in_g, in_g), {}, {c.s},
                                                {c.p}, {c.op}, 1, {c.d}));
        check_close(values(xt), values(tg::cat(parts, 1)), 1e-12);
    }
}

TEST_CASE("conv_transpose2d groups: gradcheck, double backward, errors") {
    tg::manual_seed(25);
    auto x = leaf({2, 4, 3, 4}), w = leaf({4, 3, 2, 3}), b = leaf({6});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv_transpose2d(in[0], in[1], in[2], {2}, {1}, {1}, 2); },
                      (Inputs{x, w, b}));
    auto xt = leaf({2, 4, 4, 3});
    REQUIRE_GRADCHECK(
        [](const Inputs& in) { return F::conv_transpose2d(in[0].transpose(2, 3), in[1], {}, {1, 2}, {0}, {0}, 4, {2}); },
        (Inputs{xt, leaf({4, 2, 2, 2})}));
    auto grad_of = [](const Inputs& in) {
        auto y = F::conv_transpose2d(in[0], in[1], {}, {2}, {0}, {0}, 2);
        auto gs = tg::autograd::grad({(y * y).sum()}, {in[0], in[1]}, {}, true, true);
        return (gs[0] * gs[0]).sum() + gs[1].sum();
    };
    REQUIRE_GRADCHECK(grad_of, (Inputs{x, w}));
    REQUIRE_TG_ERROR(F::conv_transpose2d(tg::zeros({1, 6, 3, 3}), tg::zeros({6, 2, 3, 3}), {}, {1}, {0}, {0}, 4),
                     "conv_transpose2d", "groups = 4", "[1, 6, 3, 3]", "[6, 2, 3, 3]");
    REQUIRE_TG_ERROR(F::conv_transpose2d(tg::zeros({1, 6, 3, 3}), tg::zeros({6, 2, 3, 3}), tg::zeros({2}), {1}, {0},
                                         {0}, 3),
                     "conv_transpose2d", "bias shape [2]", "expected [6]");
}

TEST_CASE("Conv2d / ConvTranspose2d modules: groups shapes the weight and reaches the op") {
    tg::manual_seed(26);
    tg::nn::Conv2d dw(tg::nn::Conv2dOptions(4, 8, 3).groups(4).padding(1).bias(false));
    CHECK(dw.weight.sizes() == tg::Shape{8, 1, 3, 3});
    auto img = rnd({2, 4, 5, 5}, tg::kFloat32);
    CHECK(tg::allclose(dw.forward(img), F::conv2d(img, dw.weight, {}, {1}, {1}, {1}, 4)));
    std::ostringstream os;
    dw.pretty_print(os);
    CHECK(os.str().find("groups=4") != std::string::npos);
    tg::nn::ConvTranspose2d up(tg::nn::ConvTranspose2dOptions(4, 6, 2).groups(2).stride(2));
    CHECK(up.weight.sizes() == tg::Shape{4, 3, 2, 2});
    CHECK(tg::allclose(up.forward(img), F::conv_transpose2d(img, up.weight, up.bias, {2}, {0}, {0}, 2)));
    REQUIRE_TG_ERROR(tg::nn::Conv2d(tg::nn::Conv2dOptions(4, 6, 3).groups(4)), "Conv2d", "groups 4",
                     "out_channels 6");
    REQUIRE_TG_ERROR(tg::nn::ConvTranspose2d(tg::nn::ConvTranspose2dOptions(3, 6, 3).groups(2)), "ConvTranspose2d",
                     "in_channels 3");
    REQUIRE_TG_ERROR(tg::nn::Conv2dOptions(4, 6, 3).stride(tg::Shape{1, 2, 3}), "Conv2dOptions", "stride");
    REQUIRE_TG_ERROR(tg::nn::ConvTranspose2dOptions(4, 6, 3).output_padding(-1), "ConvTranspose2dOptions",
                     "output_padding");
}

// ---- pooling ceil_mode ------------------------------------------------------------------------

TEST_CASE("pools ceil_mode: hand-computed 5x5 values and libtorch's last-window rule") {
    auto x = tg::arange(0, 25, 1, tg::kFloat64).reshape({1, 1, 5, 5});
    auto m = F::max_pool2d(x, {2}, {2}, {0}, {1}, true);
    CHECK(m.sizes() == tg::Shape{1, 1, 3, 3});
    CHECK(values(m) == std::vector<double>{6, 8, 9, 16, 18, 19, 21, 23, 24});
    CHECK(F::max_pool2d(x, {2}, {2}).sizes() == tg::Shape{1, 1, 2, 2});
    // The partial last windows average over their cells inside the (unpadded) input.
    CHECK(values(F::avg_pool2d(x, {2}, {2}, {0}, true)) ==
          std::vector<double>{3, 5, 6.5, 13, 15, 16.5, 20.5, 22.5, 24});
    // 5 wide, kernel 2, stride 2, padding 1: ceil gives 4 windows, but the 4th would start at
    // column 6 - 1 = 5, past the input: dropped, 3 remain (libtorch's rule).
    CHECK(F::max_pool2d(x, {2}, {2}, {1}, {1}, true).sizes() == tg::Shape{1, 1, 3, 3});
    // 6 wide, kernel 3, stride 2, padding 1: ceil keeps a 4th window starting inside.
    CHECK(F::avg_pool2d(tg::zeros({1, 1, 6, 6}, tg::kFloat64), {3}, {2}, {1}, true).sizes() ==
          tg::Shape{1, 1, 4, 4});
}

TEST_CASE("pools ceil_mode: match pooling by definition; gradcheck incl. views") {
    tg::manual_seed(27);
    auto x = rnd({2, 3, 7, 8});
    for (auto [k, s, p] : std::vector<std::array<std::int64_t, 3>>{{2, 2, 0}, {3, 2, 1}, {3, 3, 1}, {2, 3, 1}, {4, 3, 2}}) {
        INFO("kernel " << k << " stride " << s << " padding " << p);
        check_close(values(F::max_pool2d(x, {k}, {s}, {p}, {1}, true)), naive_pool(x, k, k, s, s, {p, p, p, p}, 0, true));
        check_close(values(F::avg_pool2d(x, {k}, {s}, {p}, true)), naive_pool(x, k, k, s, s, {p, p, p, p}, 1, true));
        check_close(values(F::avg_pool2d(x, {k}, {s}, {p}, true, false)), naive_pool(x, k, k, s, s, {p, p, p, p}, 2, true));
    }
    auto l = leaf({2, 2, 6, 7});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::max_pool2d(in[0], {3}, {2}, {1}, {1}, true); }, (Inputs{l}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::avg_pool2d(in[0], {3}, {2}, {1}, true); }, (Inputs{l}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::avg_pool2d(in[0].transpose(2, 3), {2}, {2}, {0}, true, false); },
                      (Inputs{l}));
    auto grad_of = [](const Inputs& in) {
        auto y = F::avg_pool2d(in[0], {3}, {2}, {1}, true) * F::max_pool2d(in[0], {3}, {2}, {1}, {1}, true);
        auto gs = tg::autograd::grad({y.sum()}, {in[0]}, {}, true, true);
        return (gs[0] * gs[0]).sum();
    };
    REQUIRE_GRADCHECK(grad_of, (Inputs{l}));
    // The modules pass ceil_mode through.
    tg::nn::MaxPool2d mp(tg::nn::MaxPool2dOptions(3).stride(2).ceil_mode(true));
    CHECK(tg::allclose(mp.forward(x), F::max_pool2d(x, {3}, {2}, {0}, {1}, true)));
    tg::nn::AvgPool2d ap(tg::nn::AvgPool2dOptions(2).ceil_mode(true).count_include_pad(false));
    CHECK(tg::allclose(ap.forward(x), F::avg_pool2d(x, {2}, {2}, {0}, true, false)));
    REQUIRE_TG_ERROR(F::max_pool2d(x, {3}, {2}, {0}, {4}), "max_pool2d", "dilated 9x9", "[2, 3, 7, 8]");
    tg::nn::MaxPool2d same(tg::nn::MaxPool2dOptions(2).padding(tg::nn::Padding::Same).ceil_mode(true));
    REQUIRE_TG_ERROR(same.forward(x), "MaxPool2d", "ceil_mode", "same", "[2, 3, 7, 8]");
}

TEST_CASE("max_pool2d dilation: hand-computed, the definition, gradcheck") {
    auto x = tg::arange(0, 25, 1, tg::kFloat64).reshape({1, 1, 5, 5});
    // 2x2 window with dilation 2 reads (i, j), (i, j + 2), (i + 2, j), (i + 2, j + 2): the max is the last.
    CHECK(values(F::max_pool2d(x, {2}, {1}, {0}, {2})) == std::vector<double>{12, 13, 14, 17, 18, 19, 22, 23, 24});
    tg::manual_seed(31);
    auto r = rnd({2, 2, 7, 8});
    // The dilated max is the max of the strided sub-grid unfold picks (unfold pads with 0, so compare unpadded).
    for (auto [k, s, d] : std::vector<std::array<std::int64_t, 3>>{{2, 1, 2}, {3, 2, 2}, {2, 3, 3}}) {
        INFO("kernel " << k << " stride " << s << " dilation " << d);
        auto cols = F::unfold(r, {k}, {d}, {0}, {s}).reshape({2, 2, k * k, -1});
        auto want = tg::max(cols, 2);
        check_close(values(F::max_pool2d(r, {k}, {s}, {0}, {d})), values(want), 0);
    }
    CHECK(F::max_pool2d(r, {2}, {2}, {1}, {2}, true).sizes() == tg::Shape{2, 2, 4, 5});
    auto l = leaf({1, 2, 7, 6});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::max_pool2d(in[0], {3, 2}, {2, 1}, {1}, {2, 3}, true); },
                      (Inputs{l}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::max_pool2d(in[0].transpose(2, 3), {2}, {1}, {0}, {2}); },
                      (Inputs{l}));
}

// ---- unfold / fold ---------------------------------------------------------------------------

TEST_CASE("unfold / fold: hand-computed 3x3 columns, 3-D input, fold sums overlaps") {
    auto x = tg::arange(0, 9, 1, tg::kFloat64).reshape({1, 1, 3, 3});
    auto cols = F::unfold(x, {2});
    CHECK(cols.sizes() == tg::Shape{1, 4, 4});
    CHECK(values(cols) == std::vector<double>{0, 1, 3, 4, 1, 2, 4, 5, 3, 4, 6, 7, 4, 5, 7, 8});
    CHECK(F::unfold(x.squeeze(0), {2}).sizes() == tg::Shape{4, 4});
    // fold(unfold(x)) multiplies each cell by the number of windows covering it.
    auto counts = F::fold(F::unfold(tg::ones({1, 1, 3, 3}, tg::kFloat64), {2}), {3}, {2});
    CHECK(values(counts) == std::vector<double>{1, 2, 1, 2, 4, 2, 1, 2, 1});
    CHECK(values(F::fold(cols, {3}, {2})) == values(x * counts));
    CHECK(F::fold(cols.squeeze(0), {3}, {2}).sizes() == tg::Shape{1, 3, 3});
    // Padding adds zero rows; stride and dilation pick the windows.
    auto padded = F::unfold(x, {2}, {1}, {1}, {2});
    CHECK(padded.sizes() == tg::Shape{1, 4, 4});
    CHECK(values(padded.select(1, 0)) == std::vector<double>{0, 0, 0, 4});
    CHECK(values(F::unfold(x, {2}, {2})) == std::vector<double>{0, 2, 6, 8});
}

TEST_CASE("unfold: conv2d is the weight rows times the unfolded columns, for every geometry") {
    tg::manual_seed(28);
    auto x = rnd({2, 3, 7, 6}), w = rnd({4, 3, 3, 2});
    for (auto [s, p, d] : std::vector<std::array<std::int64_t, 3>>{{1, 0, 1}, {2, 1, 1}, {1, 2, 2}, {3, 1, 2}}) {
        INFO("stride " << s << " padding " << p << " dilation " << d);
        auto y = F::conv2d(x, w, {}, {s}, {p}, {d});
        auto cols = F::unfold(x, {3, 2}, {d}, {p}, {s});
        auto via = tg::matmul(w.reshape({4, -1}), cols).reshape(y.sizes());
        check_close(values(via), values(y), 1e-12);
        // fold is unfold's adjoint: <unfold(x), c> = <x, fold(c)>
        auto c = rnd(cols.sizes());
        const double lhs = inner(cols, c), rhs = inner(x, F::fold(c, {7, 6}, {3, 2}, {d}, {p}, {s}));
        CHECK(std::abs(lhs - rhs) <= 1e-10 * (1 + std::abs(lhs)));
    }
}

TEST_CASE("unfold / fold: gradcheck incl. views, double backward, errors") {
    tg::manual_seed(29);
    auto x = leaf({2, 2, 5, 4});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::unfold(in[0], {2, 3}, {1}, {1}, {2, 1}); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::unfold(in[0].transpose(2, 3), {2}, {2}); }, (Inputs{x}));
    auto c = leaf({2, 8, 6});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::fold(in[0], {4, 5}, {2}, {1}, {0}, {1, 2}); }, (Inputs{c}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::fold(in[0].transpose(1, 2).transpose(1, 2), {4, 5}, {2}, {1}, {0}, {1, 2}); },
                      (Inputs{c}));
    auto grad_of = [](const Inputs& in) {
        auto u = F::unfold(in[0], {2});
        auto gs = tg::autograd::grad({(u * u * u).sum()}, {in[0]}, {}, true, true);
        return F::fold(F::unfold(gs[0], {2}), {5, 4}, {2}).sum();
    };
    REQUIRE_GRADCHECK(grad_of, (Inputs{x}));
    REQUIRE_TG_ERROR(F::unfold(tg::zeros({1, 1, 3, 3}), {4}), "unfold", "[1, 1, 3, 3]", "does not fit");
    REQUIRE_TG_ERROR(F::unfold(tg::zeros({3, 3}), {2}), "unfold", "[3, 3]", "3-D");
    REQUIRE_TG_ERROR(F::unfold(tg::zeros({1, 1, 3, 3}), {2}, {1}, {0}, {0}), "unfold", "stride");
    REQUIRE_TG_ERROR(F::fold(tg::zeros({1, 6, 4}), {3}, {2}), "fold", "[1, 6, 4]", "multiple of the kernel's 2 x 2");
    REQUIRE_TG_ERROR(F::fold(tg::zeros({1, 4, 5}), {3}, {2}), "fold", "[1, 4, 5]", "2 x 2 = 4 windows");
    REQUIRE_TG_ERROR(F::fold(tg::zeros({4}), {3}, {2}), "fold", "[4]");
}

// ---- tracing -----------------------------------------------------------------------------------

TEST_CASE("jit: grouped conv2d and ceil_mode pools trace and replay on a new input") {
    tg::manual_seed(30);
    const tg::Tensor w = rnd({8, 1, 3, 3}), b = rnd({8});
    auto fn = [&](const std::vector<tg::Tensor>& in) {
        auto h = F::conv2d(in[0], w, b, {1}, {1}, {1}, 4);
        h = F::max_pool2d(h, {3}, {2}, {1}, {1}, true);
        return std::vector<tg::Tensor>{F::avg_pool2d(h, {2}, {2}, {0}, true, false) + F::avg_pool2d(h, {3}, {2}, {1}, true)};
    };
    tg::jit::TraceOptions options;
    options.input_names = {"x"};
    const tg::jit::Graph g = tg::jit::trace(fn, {rnd({2, 4, 9, 9})}, options);
    const auto x = rnd({2, 4, 9, 9});
    const auto want = fn({x})[0];
    const auto got = g.run({{"x", x}})[0];
    REQUIRE(got.sizes() == want.sizes());
    check_close(values(got), values(want), 0);
    // conv_transpose2d with groups, output_padding and dilation replays.
    const tg::Tensor wt = rnd({4, 3, 2, 3}), bt = rnd({6});
    auto up = [&](const std::vector<tg::Tensor>& in) {
        return std::vector<tg::Tensor>{F::conv_transpose2d(in[0], wt, bt, {2, 1}, {1, 0}, {1, 0}, 2, {1, 2})};
    };
    const tg::jit::Graph ug = tg::jit::trace(up, {rnd({2, 4, 5, 5})}, options);
    const auto z = rnd({2, 4, 5, 5});
    check_close(values(ug.run({{"x", z}})[0]), values(up({z})[0]), 0);
    // unfold / fold replay too (3-D input included).
    auto patches = [](const std::vector<tg::Tensor>& in) {
        auto cols = F::unfold(in[0], {2, 3}, {1, 2}, {1}, {2, 1});
        return std::vector<tg::Tensor>{F::fold(cols * cols, {5, 6}, {2, 3}, {1, 2}, {1}, {2, 1}),
                                       F::unfold(in[0].select(0, 0), {2})};
    };
    const tg::jit::Graph pg = tg::jit::trace(patches, {rnd({2, 3, 5, 6})}, options);
    const auto y = rnd({2, 3, 5, 6});
    const auto want_p = patches({y}), got_p = pg.run({{"x", y}});
    REQUIRE(got_p.size() == 2);
    check_close(values(got_p[0]), values(want_p[0]), 0);
    check_close(values(got_p[1]), values(want_p[1]), 0);
}
