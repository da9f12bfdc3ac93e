// Layer ops of tg::nn::functional: linear, conv2d, pools, batch_norm, dropout, embedding.
#include <cmath>

#include "naive_pool.hpp"
#include "test_support.hpp"

using namespace tgtest;
namespace F = tg::nn::functional;

namespace {

using Inputs = std::vector<tg::Tensor>;

tg::Tensor rnd(const tg::Shape& shape, tg::Dtype dt = tg::kFloat64) { return tg::uniform(shape, -1, 1, dt); }


// Direct convolution by its definition (zero padding, stride, dilation), in double.
std::vector<double> naive_conv(const tg::Tensor& x, const tg::Tensor& w, const tg::Tensor& b, std::int64_t sh,
                               std::int64_t sw, Pads p, std::int64_t dh, std::int64_t dw) {
    const auto X = values(x.contiguous()), Wt = values(w.contiguous());
    const std::int64_t N = x.size(0), C = x.size(1), H = x.size(2), Wd = x.size(3);
    const std::int64_t O = w.size(0), kh = w.size(2), kw = w.size(3);
    const std::int64_t OH = (H + p.top + p.bottom - dh * (kh - 1) - 1) / sh + 1;
    const std::int64_t OW = (Wd + p.left + p.right - dw * (kw - 1) - 1) / sw + 1;
    std::vector<double> out;
    for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t o = 0; o < O; ++o)
            for (std::int64_t oh = 0; oh < OH; ++oh)
                for (std::int64_t ow = 0; ow < OW; ++ow) {
                    double s = b.defined() ? b.at({o}) : 0.0;
                    for (std::int64_t c = 0; c < C; ++c)
                        for (std::int64_t i = 0; i < kh; ++i)
                            for (std::int64_t j = 0; j < kw; ++j) {
                                const std::int64_t ih = oh * sh - p.top + i * dh, iw = ow * sw - p.left + j * dw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= Wd) continue;
                                s += X[static_cast<std::size_t>(((n * C + c) * H + ih) * Wd + iw)] *
                                     Wt[static_cast<std::size_t>(((o * C + c) * kh + i) * kw + j)];
                            }
                    out.push_back(s);
                }
    return out;
}

}  // namespace

// ---- linear -------------------------------------------------------------------------------

TEST_CASE("linear: hand-computed values with and without bias, 1-D and 3-D input") {
    auto x = tg::tensor({{1, 2}, {3, 4}}, tg::kFloat64);
    auto w = tg::tensor({{1, 0}, {0, 1}, {1, 1}}, tg::kFloat64);  // (out 3, in 2)
    auto b = tg::tensor({10, 20, 30}, tg::kFloat64);
    CHECK(values(F::linear(x, w)) == std::vector<double>{1, 2, 3, 3, 4, 7});
    CHECK(values(F::linear(x, w, b)) == std::vector<double>{11, 22, 33, 13, 24, 37});
    auto v = F::linear(tg::tensor({1, 2}, tg::kFloat64), w, b);
    CHECK(v.sizes() == tg::Shape{3});
    CHECK(values(v) == std::vector<double>{11, 22, 33});
    auto x3 = tg::reshape(tg::arange(0, 12, 1, tg::kFloat64), {2, 3, 2});
    auto y3 = F::linear(x3, w, b);
    CHECK(y3.sizes() == tg::Shape{2, 3, 3});
    CHECK(values(y3.select(0, 1).select(0, 2)) == std::vector<double>{10 + 10, 20 + 11, 30 + 21});
}

TEST_CASE("linear: gradcheck with bias, without bias, 3-D and transposed input") {
    tg::manual_seed(1);
    auto x = leaf({4, 3}), w = leaf({5, 3}), b = leaf({5}), x3 = leaf({2, 4, 3}), xt = leaf({3, 4});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::linear(in[0], in[1], in[2]); }, (Inputs{x, w, b}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::linear(in[0], in[1]); }, (Inputs{x, w}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::linear(in[0], in[1], in[2]); }, (Inputs{x3, w, b}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::linear(in[0].t(), in[1], in[2]); }, (Inputs{xt, w, b}));
}

TEST_CASE("linear: shape errors name the shapes") {
    auto w = tg::zeros({5, 3});
    REQUIRE_TG_ERROR(F::linear(tg::zeros({4, 2}), w), "linear", "[4, 2]", "[5, 3]");
    REQUIRE_TG_ERROR(F::linear(tg::zeros({4, 3}), tg::zeros({5, 3, 1})), "linear", "2-D", "[5, 3, 1]");
    REQUIRE_TG_ERROR(F::linear(tg::zeros({4, 3}), w, tg::zeros({4})), "linear", "bias", "[4]", "[5, 3]");
}

// ---- conv2d -------------------------------------------------------------------------------

TEST_CASE("conv2d: hand-computed 3x3 input with a 2x2 kernel") {
    auto x = tg::reshape(tg::arange(1, 10, 1, tg::kFloat32), {1, 1, 3, 3});
    auto w = tg::ones({1, 1, 2, 2});
    CHECK(values(F::conv2d(x, w)) == std::vector<double>{12, 16, 24, 28});
    CHECK(values(F::conv2d(x, w, tg::tensor({1}))) == std::vector<double>{13, 17, 25, 29});
    // padding 1, stride 2: corners of the padded 5x5 grid
    CHECK(values(F::conv2d(x, w, {}, {2, 2}, {1, 1})) == std::vector<double>{1, 5, 11, 28});
    // dilation 2 with a 2x2 kernel on 3x3: the four corners sum
    CHECK(values(F::conv2d(x, w, {}, {1}, {0}, {2})) == std::vector<double>{1 + 3 + 7 + 9});
}

TEST_CASE("conv2d: matches a direct convolution for stride, padding, dilation and batch") {
    tg::manual_seed(2);
    struct Case {
        tg::Shape x, w;
        std::int64_t sh, sw, ph, pw, dh, dw;
    };
    for (const Case& c : std::vector<Case>{{{2, 3, 7, 6}, {4, 3, 3, 3}, 1, 1, 0, 0, 1, 1},
                                           {{3, 2, 8, 9}, {5, 2, 3, 2}, 2, 1, 1, 2, 1, 1},
                                           {{1, 2, 9, 9}, {3, 2, 3, 3}, 2, 3, 2, 1, 2, 1},
                                           {{4, 1, 6, 7}, {2, 1, 5, 5}, 1, 2, 2, 2, 1, 1},
                                           {{2, 3, 10, 8}, {2, 3, 2, 3}, 3, 2, 0, 1, 3, 2}}) {
        INFO("input " << c.x << " weight " << c.w);
        for (auto dt : {tg::kFloat64, tg::kFloat32}) {
            auto x = rnd(c.x, dt), w = rnd(c.w, dt), b = rnd({c.w[0]}, dt);
            auto y = F::conv2d(x, w, b, {c.sh, c.sw}, {c.ph, c.pw}, {c.dh, c.dw});
            const auto want = naive_conv(x, w, b, c.sh, c.sw, {c.ph, c.ph, c.pw, c.pw}, c.dh, c.dw);
            CHECK(y.dtype() == dt);
            check_close(values(y), want, dt == tg::kFloat64 ? 1e-12 : 1e-5);
        }
    }
}

TEST_CASE("conv2d: TF padding modes, including asymmetric 'same'") {
    // same: out = ceil(in / stride), odd pixel of padding at the bottom/right
    auto p = F::tf_padding(F::Padding::Same, 5, 7, {2, 4}, {2, 1});
    CHECK(p.top == 0);  // out 3: total (3-1)*2 + 2 - 5 = 1
    CHECK(p.bottom == 1);
    CHECK(p.left == 1);  // out 7: total 3
    CHECK(p.right == 2);
    auto pd = F::tf_padding(F::Padding::Same, 6, 6, {3, 3}, {1, 1}, {2, 2});  // dilated extent 5
    CHECK((pd.top == 2 && pd.bottom == 2 && pd.left == 2 && pd.right == 2));
    auto pv = F::tf_padding(F::Padding::Valid, 5, 7, {3, 3}, {1, 1});
    CHECK((pv.top == 0 && pv.bottom == 0 && pv.left == 0 && pv.right == 0));

    tg::manual_seed(3);
    auto x = rnd({2, 3, 5, 7}), w = rnd({4, 3, 2, 4}), b = rnd({4});
    auto y = F::conv2d(x, w, b, {2, 1}, F::Padding::Same);
    CHECK(y.sizes() == tg::Shape{2, 4, 3, 7});
    check_close(values(y), naive_conv(x, w, b, 2, 1, {0, 1, 1, 2}, 1, 1), 1e-12);
    auto yv = F::conv2d(x, w, b, {2, 1}, F::Padding::Valid);
    CHECK(yv.sizes() == tg::Shape{2, 4, 2, 4});
    check_close(values(yv), naive_conv(x, w, b, 2, 1, {0, 0, 0, 0}, 1, 1), 1e-12);
    // A 1x1 input that "same" pads on one side only.
    auto one = F::conv2d(tg::full({1, 1, 1, 1}, 2.0, tg::kFloat64), tg::ones({1, 1, 2, 2}, tg::kFloat64), {}, {1, 1},
                         F::Padding::Same);
    CHECK(values(one) == std::vector<double>{2});
}

TEST_CASE("conv2d: gradcheck over stride, padding, dilation, asymmetric same, views") {
    tg::manual_seed(4);
    auto x = leaf({2, 2, 6, 5}), w = leaf({3, 2, 3, 2}), b = leaf({3});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv2d(in[0], in[1], in[2]); }, (Inputs{x, w, b}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv2d(in[0], in[1], in[2], {2, 1}, {1, 2}); },
                      (Inputs{x, w, b}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv2d(in[0], in[1], {}, {1, 2}, {2, 1}, {2, 2}); },
                      (Inputs{x, w}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv2d(in[0], in[1], in[2], {2, 2}, F::Padding::Same); },
                      (Inputs{x, w, b}));
    // A single sample (the GEMM writes the output in place) and an even kernel under "same".
    auto x1 = leaf({1, 2, 5, 5}), w2 = leaf({2, 2, 2, 2});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv2d(in[0], in[1], {}, {1, 1}, F::Padding::Same); },
                      (Inputs{x1, w2}));
    // Non-contiguous input (H and W swapped) and an input used twice.
    auto xt = leaf({2, 2, 5, 6});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv2d(in[0].transpose(2, 3), in[1], in[2], {1}, {1}); },
                      (Inputs{xt, w, b}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) { return F::conv2d(in[0], in[1]) + F::conv2d(in[0] * in[0], in[1], {}, {1}, {0}); },
        (Inputs{x, w}));
}

TEST_CASE("conv2d: double backward (create_graph) passes gradcheck") {
    tg::manual_seed(5);
    auto x = leaf({2, 2, 5, 4}), w = leaf({3, 2, 2, 3});
    auto grad_of = [](const Inputs& in) {
        auto y = F::conv2d(in[0], in[1], {}, {2, 1}, {1, 1});
        auto gs = tg::autograd::grad({(y * y).sum()}, {in[0], in[1]}, {}, true, true);
        return gs[0].sum() * 0.5 + (gs[1] * gs[1]).sum();
    };
    REQUIRE_GRADCHECK(grad_of, (Inputs{x, w}));
}

// float32 convolutions run on oneDNN's direct kernels when the library is built with it
// (tensor/direct_conv.hpp), float64 ones on im2col + GEMM: the float32 forward, both
// gradients and a double-backward product must match float64's over geometries that take
// each of oneDNN's code paths (few input channels: plain layouts for the input gradient;
// many: blocked), strides and dilations whose floor division leaves input rows unused,
// TF's asymmetric "same" padding, and conv_transpose2d (the input-gradient kernel run forward).
TEST_CASE("conv2d: float32 (direct kernels) matches float64 (im2col) in forward, gradients and double backward") {
    tg::manual_seed(12);
    struct Case {
        tg::Shape x, w;
        tg::Shape stride, padding, dilation;
        bool same;  // TF "same" padding instead of `padding`
    };
    for (const Case& c : std::vector<Case>{{{4, 1, 12, 12}, {8, 1, 5, 5}, {1}, {2}, {1}, false},
                                           {{3, 16, 9, 9}, {24, 16, 3, 3}, {1}, {1}, {1}, false},
                                           {{2, 8, 11, 10}, {16, 8, 3, 2}, {2, 3}, {1, 0}, {1}, false},
                                           {{2, 3, 10, 9}, {5, 3, 3, 3}, {2}, {0}, {2, 1}, false},
                                           {{2, 16, 7, 8}, {8, 16, 4, 3}, {2, 1}, {}, {1}, true},
                                           {{5, 32, 6, 6}, {16, 32, 1, 1}, {1}, {0}, {1}, false}}) {
        INFO("input " << c.x << " weight " << c.w << " stride " << c.stride);
        const auto x64 = rnd(c.x), w64 = rnd(c.w), b64 = rnd({c.w[0]});
        auto run = [&](tg::Dtype dt) {
            auto x = x64.to(dt).requires_grad_(), w = w64.to(dt).requires_grad_(), b = b64.to(dt).requires_grad_();
            auto y = c.same ? F::conv2d(x, w, b, c.stride, F::Padding::Same)
                            : F::conv2d(x, w, b, c.stride, c.padding, c.dilation);
            auto r = tg::sin(tg::arange(0, y.numel(), 1, dt)).reshape(y.sizes());  // a fixed cotangent
            auto gs = tg::autograd::grad({(y * r).sum()}, {x, w, b}, {}, true, true);
            // d/dx and d/dw of ||dL/dx||^2 + ||dL/dw||^2: the backward of both backward ops
            auto second = tg::autograd::grad({(gs[0] * gs[0]).sum() + (gs[1] * gs[1]).sum()}, {x, w});
            return std::vector<tg::Tensor>{y, gs[0], gs[1], gs[2], second[0], second[1]};
        };
        const auto f32 = run(tg::kFloat32), f64 = run(tg::kFloat64);
        const char* names[] = {"output", "input grad", "weight grad", "bias grad", "second-order x", "second-order w"};
        for (std::size_t i = 0; i < f32.size(); ++i) {
            INFO(names[i]);
            CHECK(f32[i].dtype() == tg::kFloat32);
            const auto got = values(f32[i]), want = values(f64[i]);
            double scale = 1;
            for (double v : want) scale = std::max(scale, std::abs(v));
            check_close(got, want, 2e-5 * scale);
        }
        // conv_transpose2d is the input-gradient kernel run forward
        auto t32 = F::conv_transpose2d(x64.to(tg::kFloat32), tg::transpose(w64, 0, 1).contiguous().to(tg::kFloat32));
        auto t64 = F::conv_transpose2d(x64, tg::transpose(w64, 0, 1).contiguous());
        check_close(values(t32), values(t64), 1e-4);
    }
}

TEST_CASE("conv2d: errors name the op and the shapes") {
    auto x = tg::zeros({2, 3, 5, 5});
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({4, 2, 3, 3})), "conv2d", "[2, 3, 5, 5]", "[4, 2, 3, 3]", "channels");
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({4, 3, 6, 3})), "conv2d", "larger than the padded input", "5x5");
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({4, 3, 3, 3}), {}, {1}, {0}, {3}), "conv2d", "dilated 7x7");
    REQUIRE_TG_ERROR(F::conv2d(tg::zeros({3, 5, 5}), tg::zeros({4, 3, 3, 3})), "conv2d", "4-D", "[3, 5, 5]");
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({4, 3, 3})), "conv2d", "4-D", "[4, 3, 3]");
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({4, 3, 3, 3}), tg::zeros({3})), "conv2d", "bias", "[3]");
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({4, 3, 3, 3}), {}, {0}), "conv2d", "stride");
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({4, 3, 3, 3}), {}, {1}, {-1}), "conv2d", "padding");
    REQUIRE_TG_ERROR(F::conv2d(x, tg::zeros({4, 3, 3, 3}, tg::kFloat64)), "conv2d", "float64");
}

// ---- pooling ------------------------------------------------------------------------------

TEST_CASE("max_pool2d and avg_pool2d: hand-computed 4x4 values") {
    auto x = tg::reshape(tg::arange(0, 16, 1, tg::kFloat64), {1, 1, 4, 4});
    CHECK(values(F::max_pool2d(x, {2})) == std::vector<double>{5, 7, 13, 15});
    CHECK(values(F::avg_pool2d(x, {2})) == std::vector<double>{2.5, 4.5, 10.5, 12.5});
    // kernel 3, stride 1: windows overlap
    CHECK(values(F::max_pool2d(x, {3}, {1})) == std::vector<double>{10, 11, 14, 15});
    // padding 1, kernel 2, stride 2: 3x3 output; padded cells never win
    CHECK(values(F::max_pool2d(-x, {2}, {2}, {1})) == std::vector<double>{0, -1, -3, -4, -5, -7, -12, -13, -15});
    // avg with padding: count_include_pad divides by 4, otherwise by the cells inside
    CHECK(values(F::avg_pool2d(x, {2}, {2}, {1})) ==
          std::vector<double>{0, 3.0 / 4, 3.0 / 4, 12.0 / 4, 30.0 / 4, 18.0 / 4, 12.0 / 4, 27.0 / 4, 15.0 / 4});
    CHECK(values(F::avg_pool2d(x, {2}, {2}, {1}, false, false)) ==
          std::vector<double>{0, 1.5, 3, 6, 7.5, 9, 12, 13.5, 15});
    // 3-D (C, H, W) input keeps its rank
    auto y3 = F::max_pool2d(x.select(0, 0), {2});
    CHECK(y3.sizes() == tg::Shape{1, 2, 2});
}

TEST_CASE("pools: match direct pooling for stride != kernel, padding and TF same") {
    tg::manual_seed(6);
    auto x = rnd({2, 3, 7, 8});
    check_close(values(F::max_pool2d(x, {3, 2}, {2, 3}, {1, 1})), naive_pool(x, 3, 2, 2, 3, {1, 1, 1, 1}, 0));
    check_close(values(F::avg_pool2d(x, {3, 2}, {2, 3}, {1, 1})), naive_pool(x, 3, 2, 2, 3, {1, 1, 1, 1}, 1));
    check_close(values(F::avg_pool2d(x, {3, 2}, {2, 3}, {1, 1}, false, false)),
                naive_pool(x, 3, 2, 2, 3, {1, 1, 1, 1}, 2));
    // TF same, kernel 2 stride 2 on 7x8: out 4x4, padding bottom 1 only
    auto ys = F::max_pool2d(x, {2}, {2}, F::Padding::Same);
    CHECK(ys.sizes() == tg::Shape{2, 3, 4, 4});
    check_close(values(ys), naive_pool(x, 2, 2, 2, 2, {0, 1, 0, 0}, 0));
    // H 7: out 4, total padding 2 (1, 1); W 8: out 4, total 1 (0 left, 1 right)
    check_close(values(F::avg_pool2d(x, {3}, {2}, F::Padding::Same)), naive_pool(x, 3, 3, 2, 2, {1, 1, 0, 1}, 2));
    check_close(values(F::avg_pool2d(x, {2}, {1}, F::Padding::Valid)), naive_pool(x, 2, 2, 1, 1, {0, 0, 0, 0}, 2));
}

TEST_CASE("pools: gradcheck with stride != kernel, padding, TF same and views") {
    tg::manual_seed(7);
    auto x = leaf({2, 2, 7, 6});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::max_pool2d(in[0], {3, 2}, {2, 1}, {1, 1}); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::max_pool2d(in[0], {2}, {2}, F::Padding::Same); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::avg_pool2d(in[0], {3, 2}, {2, 1}, {1, 1}); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::avg_pool2d(in[0], {3}, {2}, {1}, false, false); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::avg_pool2d(in[0], {2}, {2}, F::Padding::Same); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::max_pool2d(in[0].transpose(2, 3), {2}, {1}); }, (Inputs{x}));
    // Double backward through both pools.
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            auto y = F::max_pool2d(in[0], {2}, {1}) * F::avg_pool2d(in[0], {2}, {1});
            auto g = tg::autograd::grad({y.sum()}, {in[0]}, {}, true, true)[0];
            return (g * g).sum();
        },
        (Inputs{x}));
}

TEST_CASE("max_pool2d: the gradient goes to the first maximum of each window") {
    auto x = tg::tensor({{1, 3}, {3, 2}}, tg::kFloat64).reshape({1, 1, 2, 2}).requires_grad_();
    F::max_pool2d(x, {2}).sum().backward();
    CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 0});
    // Overlapping windows that share a maximum add up there.
    auto z = tg::tensor({{0, 9, 0}, {0, 0, 0}}, tg::kFloat64).reshape({1, 1, 2, 3}).requires_grad_();
    F::max_pool2d(z, {2}, {1}).sum().backward();
    CHECK(values(z.grad()) == std::vector<double>{0, 2, 0, 0, 0, 0});
}

// Windows that lie inside the input (no padding) take a direct-indexed kernel, with the
// window size unrolled for 2x2 and 3x3: values against the definition for those and other
// sizes and strides (incl. rows that the floor division leaves out), in both dtypes.
TEST_CASE("max_pool2d: unpadded windows of every size match the definition; NaN propagates") {
    tg::manual_seed(13);
    struct Case {
        std::int64_t kh, kw, sh, sw;
    };
    for (const Case& c : std::vector<Case>{{2, 2, 2, 2}, {3, 3, 2, 2}, {3, 3, 1, 1}, {2, 2, 1, 1}, {2, 3, 3, 1},
                                           {4, 1, 2, 1}}) {
        INFO("kernel " << c.kh << "x" << c.kw << " stride " << c.sh << "x" << c.sw);
        for (auto dt : {tg::kFloat64, tg::kFloat32}) {
            auto x = rnd({2, 3, 9, 8}, dt);
            check_close(values(F::max_pool2d(x, {c.kh, c.kw}, {c.sh, c.sw})),
                        naive_pool(x, c.kh, c.kw, c.sh, c.sw, {0, 0, 0, 0}, 0), 0);
        }
    }
    auto x = tg::zeros({1, 1, 4, 4});
    x.select(2, 1).select(2, 2).fill_(std::nan(""));  // row 1, column 2: in the second window
    const auto y = values(F::max_pool2d(x, {2}));
    CHECK(std::isnan(y[1]));
    CHECK((y[0] == 0 && y[2] == 0 && y[3] == 0));
}

TEST_CASE("pools: errors") {
    auto x = tg::zeros({1, 1, 4, 4});
    REQUIRE_TG_ERROR(F::max_pool2d(x, {5}), "max_pool2d", "larger than the padded input", "[1, 1, 4, 4]");
    REQUIRE_TG_ERROR(F::avg_pool2d(x, {2}, {2}, {2}), "avg_pool2d", "half the kernel");
    REQUIRE_TG_ERROR(F::max_pool2d(tg::zeros({4, 4}), {2}), "max_pool2d", "[4, 4]");
    REQUIRE_TG_ERROR(F::max_pool2d(x, {2, 2, 2}), "max_pool2d", "kernel size");
    REQUIRE_TG_ERROR(F::avg_pool2d(x, {2}, {0}), "avg_pool2d", "stride");
}

// ---- batch_norm ---------------------------------------------------------------------------

TEST_CASE("batch_norm: training values and running statistics, hand-computed") {
    // Channel 0 holds 1, 3 (mean 2, biased var 1, unbiased 2); channel 1 holds 2, 6 (mean 4, var 4 / 8).
    auto x = tg::tensor({{1, 2}, {3, 6}}, tg::kFloat64);
    auto rm = tg::tensor({0, 1}, tg::kFloat64), rv = tg::tensor({1, 1}, tg::kFloat64);
    auto w = tg::tensor({2, 1}, tg::kFloat64), b = tg::tensor({0, 10}, tg::kFloat64);
    auto y = F::batch_norm(x, rm, rv, w, b, true, 0.1, 0.0 + 1e-12);
    check_close(values(y), {-2, 9, 2, 11}, 1e-9);
    check_close(values(rm), {0.9 * 0 + 0.1 * 2, 0.9 * 1 + 0.1 * 4});
    check_close(values(rv), {0.9 * 1 + 0.1 * 2, 0.9 * 1 + 0.1 * 8});
    // Eval uses the running statistics: (x - rm) / sqrt(rv + eps) * w + b
    auto ye = F::batch_norm(x, rm, rv, w, b, false, 0.1, 1e-5);
    const auto m = values(rm), v = values(rv);
    check_close(values(ye), {(1 - m[0]) / std::sqrt(v[0] + 1e-5) * 2, (2 - m[1]) / std::sqrt(v[1] + 1e-5) + 10,
                             (3 - m[0]) / std::sqrt(v[0] + 1e-5) * 2, (6 - m[1]) / std::sqrt(v[1] + 1e-5) + 10});
    check_close(values(rm), m);  // eval leaves them alone
    // No affine parameters, no running statistics, (N, C, H, W) input.
    auto x4 = tg::reshape(tg::tensor({1, 3, 5, 7, 0, 0, 0, 4}, tg::kFloat64), {1, 2, 2, 2});
    auto y4 = F::batch_norm(x4, {}, {}, {}, {}, false, 0.1, 1e-12);  // undefined running: batch stats
    const double s0 = std::sqrt(5.0), s1 = std::sqrt(3.0);
    check_close(values(y4), {-3 / s0, -1 / s0, 1 / s0, 3 / s0, -1 / s1, -1 / s1, -1 / s1, 3 / s1}, 1e-9);
}

TEST_CASE("batch_norm: running statistics of a 4-D float32 batch with momentum") {
    tg::manual_seed(8);
    auto x = tg::normal({4, 3, 5, 5}, 2.0, 3.0);
    auto rm = tg::zeros({3}), rv = tg::ones({3});
    F::batch_norm(x, rm, rv, {}, {}, true, 0.3);
    const auto xv = values(x);
    for (std::int64_t c = 0; c < 3; ++c) {
        double s = 0, sq = 0;
        for (std::int64_t n = 0; n < 4; ++n)
            for (std::int64_t i = 0; i < 25; ++i) s += xv[static_cast<std::size_t>((n * 3 + c) * 25 + i)];
        const double mu = s / 100;
        for (std::int64_t n = 0; n < 4; ++n)
            for (std::int64_t i = 0; i < 25; ++i) {
                const double d = xv[static_cast<std::size_t>((n * 3 + c) * 25 + i)] - mu;
                sq += d * d;
            }
        CHECK(rm.at({c}) == Approx(0.3 * mu).epsilon(1e-5));
        CHECK(rv.at({c}) == Approx(0.7 + 0.3 * sq / 99).epsilon(1e-5));
    }
    // The normalised output has zero mean and unit (biased) variance per channel.
    auto y = F::batch_norm(x, {}, {}, {}, {}, true);
    auto ym = values(y.mean({0, 2, 3}));
    check_close(ym, {0, 0, 0}, 1e-5);
    check_close(values((y * y).mean({0, 2, 3})), {1, 1, 1}, 1e-3);
}

TEST_CASE("batch_norm: gradcheck in training (through the batch statistics) and eval") {
    tg::manual_seed(9);
    auto x2 = leaf({5, 3}), w = leaf({3}), b = leaf({3});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::batch_norm(in[0], {}, {}, in[1], in[2], true); },
                      (Inputs{x2, w, b}));
    auto x4 = leaf({3, 3, 2, 4});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::batch_norm(in[0], {}, {}, in[1], in[2], true); },
                      (Inputs{x4, w, b}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::batch_norm(in[0], {}, {}, {}, {}, true); }, (Inputs{x4}));
    // Non-contiguous input, and running buffers updated while gradchecking (they do not
    // affect the training output).
    auto xt = leaf({3, 5});
    auto rm = tg::zeros({3}, tg::kFloat64), rv = tg::ones({3}, tg::kFloat64);
    REQUIRE_GRADCHECK([&](const Inputs& in) { return F::batch_norm(in[0].t(), rm, rv, in[1], {}, true); },
                      (Inputs{xt, w}));
    // Eval: an affine map of x with the running statistics fixed.
    auto rm2 = tg::tensor({0.5, -0.2, 0.1}, tg::kFloat64), rv2 = tg::tensor({2.0, 0.5, 1.0}, tg::kFloat64);
    REQUIRE_GRADCHECK([&](const Inputs& in) { return F::batch_norm(in[0], rm2, rv2, in[1], in[2], false); },
                      (Inputs{x4, w, b}));
    // Double backward differentiates the statistics.
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            auto y = F::batch_norm(in[0], {}, {}, in[1], {}, true);
            auto gs = tg::autograd::grad({(y * y * y).sum()}, {in[0], in[1]}, {}, true, true);
            return (gs[0] * gs[0]).sum() + gs[1].sum();
        },
        (Inputs{x2, w}));
}

TEST_CASE("batch_norm: errors") {
    auto x = tg::zeros({4, 3});
    REQUIRE_TG_ERROR(F::batch_norm(x, tg::zeros({2}), tg::ones({2}), {}, {}, true), "batch_norm", "running_mean",
                     "[3]", "[2]");
    REQUIRE_TG_ERROR(F::batch_norm(x, {}, {}, tg::ones({4}), {}, true), "batch_norm", "weight", "[4]");
    REQUIRE_TG_ERROR(F::batch_norm(tg::zeros({4}), {}, {}, {}, {}, true), "batch_norm", "[4]");
    REQUIRE_TG_ERROR(F::batch_norm(tg::zeros({1, 3}), {}, {}, {}, {}, true), "batch_norm", "more than 1 value",
                     "[1, 3]");
    REQUIRE_TG_ERROR(F::batch_norm(x, tg::zeros({3}, tg::kFloat64), tg::ones({3}, tg::kFloat64), {}, {}, true),
                     "batch_norm", "float64", "float32");
}

// ---- dropout ------------------------------------------------------------------------------

TEST_CASE("dropout: zero fraction ~ p, mean preserved, identity in eval, repeatable") {
    tg::manual_seed(10);
    auto x = tg::full({200, 500}, 2.0);
    auto y = F::dropout(x, 0.3, true);
    const auto v = values(y);
    std::size_t zeros = 0;
    double sum = 0;
    for (double e : v) {
        if (e == 0) ++zeros;
        else CHECK(e == Approx(2.0 / 0.7));
        sum += e;
    }
    // 100k Bernoulli draws: the standard error of the fraction is ~0.0015.
    CHECK(double(zeros) / v.size() == Approx(0.3).margin(0.01));
    CHECK(sum / v.size() == Approx(2.0).margin(0.02));
    CHECK(F::dropout(x, 0.3, false).is_same(x));
    CHECK(F::dropout(x, 0.0, true).is_same(x));
    CHECK(values(F::dropout(x, 1.0, true)) == std::vector<double>(100000, 0.0));
    tg::manual_seed(11);
    auto a = values(F::dropout(x, 0.5));
    tg::manual_seed(11);
    CHECK(values(F::dropout(x, 0.5)) == a);
    REQUIRE_TG_ERROR(F::dropout(x, 1.5), "dropout", "1.5");
    REQUIRE_TG_ERROR(F::dropout(tg::zeros({3}, tg::kInt64), 0.5), "dropout");
}

TEST_CASE("dropout: the gradient is the mask / (1 - p)") {
    tg::manual_seed(12);
    auto x = tg::uniform({50, 40}, 1, 2, tg::kFloat64).requires_grad_();
    auto y = F::dropout(x, 0.25);
    y.sum().backward();
    const auto yv = values(y), xv = values(x), g = values(x.grad());
    for (std::size_t i = 0; i < yv.size(); ++i) {
        INFO("element " << i);
        CHECK(g[i] == Approx(yv[i] == 0 ? 0.0 : 1.0 / 0.75));
        if (yv[i] != 0) CHECK(yv[i] == Approx(xv[i] / 0.75));
    }
    auto z = tg::ones({4}, tg::kFloat64).requires_grad_();
    F::dropout(z, 1.0).sum().backward();
    CHECK(values(z.grad()) == std::vector<double>{0, 0, 0, 0});
}

// ---- embedding ----------------------------------------------------------------------------

TEST_CASE("embedding: rows by index, any index shape, repeated indices sum gradients") {
    auto w = tg::reshape(tg::arange(0, 8, 1, tg::kFloat64), {4, 2}).requires_grad_();
    auto idx = tg::from_vector(std::vector<std::int64_t>{3, 0, 3, 1, 3, 2}, {2, 3});
    auto y = F::embedding(idx, w);
    CHECK(y.sizes() == tg::Shape{2, 3, 2});
    CHECK(values(y) == std::vector<double>{6, 7, 0, 1, 6, 7, 2, 3, 6, 7, 4, 5});
    (y * tg::reshape(tg::arange(1, 13, 1, tg::kFloat64), {2, 3, 2})).sum().backward();
    // row 3 picked at positions 0, 2, 4: (1+5+9, 2+6+10)
    CHECK(values(w.grad()) == std::vector<double>{3, 4, 7, 8, 11, 12, 15, 18});
    tg::manual_seed(13);
    auto wl = leaf({5, 3});
    auto scalar_idx = tg::from_vector(std::vector<std::int64_t>{2}).reshape({});
    CHECK(F::embedding(scalar_idx, wl).sizes() == tg::Shape{3});
    REQUIRE_GRADCHECK([&](const Inputs& in) { return F::embedding(idx, in[0]); }, (Inputs{wl}));
    REQUIRE_GRADCHECK(
        [&](const Inputs& in) {
            auto y2 = F::embedding(idx, in[0]);
            auto g = tg::autograd::grad({(y2 * y2).sum()}, {in[0]}, {}, true, true)[0];
            return (g * g).sum();
        },
        (Inputs{wl}));
}

TEST_CASE("embedding: errors name the index and the table") {
    auto w = tg::zeros({5, 3});
    REQUIRE_TG_ERROR(F::embedding(tg::from_vector(std::vector<std::int64_t>{1, 7}), w), "embedding", "index 7", "5 rows",
                     "[5, 3]");
    REQUIRE_TG_ERROR(F::embedding(tg::from_vector(std::vector<std::int64_t>{-1}), w), "embedding", "index -1");
    REQUIRE_TG_ERROR(F::embedding(tg::tensor({1, 2}), w), "embedding", "int64", "float32");
    REQUIRE_TG_ERROR(F::embedding(tg::from_vector(std::vector<std::int64_t>{1}), tg::zeros({5})), "embedding", "2-D",
                     "[5]");
}

// ---- layer_norm ---------------------------------------------------------------------------

TEST_CASE("layer_norm: hand-computed rows, trailing 2-D shape, no affine") {
    // Row 0 holds 1, 3 (mean 2, biased var 1); row 1 holds 2, 6 (mean 4, var 4): both -> [-1, 1].
    auto x = tg::tensor({{1, 3}, {2, 6}}, tg::kFloat64);
    auto w = tg::tensor({2, 1}, tg::kFloat64), b = tg::tensor({0, 10}, tg::kFloat64);
    check_close(values(F::layer_norm(x, {2}, w, b, 1e-12)), {-2, 11, -2, 11});
    check_close(values(F::layer_norm(x, {2}, {}, {}, 1e-12)), {-1, 1, -1, 1});
    check_close(values(F::layer_norm(x, {2}, w, {}, 1e-12)), {-2, 1, -2, 1});
    // eps enters under the square root: eps 3 -> (x - 2) / sqrt(1 + 3), (x - 4) / sqrt(4 + 3)
    check_close(values(F::layer_norm(x, {2}, {}, {}, 3.0)), {-0.5, 0.5, -2 / std::sqrt(7.0), 2 / std::sqrt(7.0)});
    // Normalising over the last two dims of (2, 2, 2): per sample 1 3 5 7 (mean 4, var 5)
    // and 0 0 0 4 (mean 1, var 3).
    auto x3 = tg::reshape(tg::tensor({1, 3, 5, 7, 0, 0, 0, 4}, tg::kFloat64), {2, 2, 2});
    auto y3 = F::layer_norm(x3, {2, 2}, {}, {}, 1e-12);
    CHECK(y3.sizes() == tg::Shape{2, 2, 2});
    const double s0 = std::sqrt(5.0), s1 = std::sqrt(3.0);
    check_close(values(y3), {-3 / s0, -1 / s0, 1 / s0, 3 / s0, -1 / s1, -1 / s1, -1 / s1, 3 / s1});
    // float32 with the default eps against the formula in double; the whole tensor as the shape.
    tg::manual_seed(14);
    auto xf = tg::normal({3, 5}, 4.0, 2.0);
    const auto v = values(xf);
    std::vector<double> want;
    for (std::size_t r = 0; r < 3; ++r) {
        double m = 0, q = 0;
        for (std::size_t i = 0; i < 5; ++i) m += v[r * 5 + i] / 5;
        for (std::size_t i = 0; i < 5; ++i) q += (v[r * 5 + i] - m) * (v[r * 5 + i] - m) / 5;
        for (std::size_t i = 0; i < 5; ++i) want.push_back((v[r * 5 + i] - m) / std::sqrt(q + 1e-5));
    }
    auto yf = F::layer_norm(xf, {5});
    CHECK(yf.dtype() == tg::kFloat32);
    check_close(values(yf), want, 1e-5);
    CHECK(values(F::layer_norm(xf, {3, 5})).size() == 15);
}

TEST_CASE("layer_norm: gradcheck with and without affine, 3-D, views, double backward") {
    tg::manual_seed(15);
    auto x = leaf({3, 4}), w = leaf({4}), b = leaf({4});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::layer_norm(in[0], {4}, in[1], in[2]); }, (Inputs{x, w, b}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::layer_norm(in[0], {4}); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::layer_norm(in[0], {4}, in[1]); }, (Inputs{x, w}));
    auto x3 = leaf({2, 3, 4}), w2 = leaf({3, 4}), b2 = leaf({3, 4});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::layer_norm(in[0], {3, 4}, in[1], in[2]); },
                      (Inputs{x3, w2, b2}));
    // The whole input normalised at once: no leading dims to sum the weight gradient over.
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::layer_norm(in[0], {3, 4}, in[1], in[2]); },
                      (Inputs{leaf({3, 4}), w2, b2}));
    // Non-contiguous input and an input used twice.
    auto xt = leaf({4, 3});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::layer_norm(in[0].t(), {4}, in[1], in[2]); },
                      (Inputs{xt, w, b}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) { return F::layer_norm(in[0], {4}, in[1]) * F::layer_norm(in[0] * in[0], {4}, in[1]); },
        (Inputs{x, w}));
    // Double backward: the create_graph path differentiates the statistics.
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            auto y = F::layer_norm(in[0], {4}, in[1], in[2]);
            auto gs = tg::autograd::grad({(y * y * y).sum()}, {in[0], in[1]}, {}, true, true);
            return (gs[0] * gs[0]).sum() + (gs[1] * gs[1]).sum();
        },
        (Inputs{x, w, b}));
}

TEST_CASE("layer_norm: the fused backward matches the one written with ops") {
    tg::manual_seed(16);
    auto x = leaf({5, 6}), w = leaf({6}), b = leaf({6});
    auto y = F::layer_norm(x, {6}, w, b);
    auto g = tg::uniform({5, 6}, -1, 1, tg::kFloat64);
    auto fused = tg::autograd::grad({y}, {x, w, b}, {g}, true, false);
    auto graph = tg::autograd::grad({y}, {x, w, b}, {g}, false, true);
    for (std::size_t i = 0; i < 3; ++i) check_close(values(fused[i]), values(graph[i]), 1e-12);
}

TEST_CASE("layer_norm: errors name the op and the shapes") {
    auto x = tg::zeros({2, 3});
    REQUIRE_TG_ERROR(F::layer_norm(x, {4}), "layer_norm", "[2, 3]", "normalized_shape [4]");
    REQUIRE_TG_ERROR(F::layer_norm(x, {2, 3, 1}), "layer_norm", "[2, 3]", "[2, 3, 1]");
    REQUIRE_TG_ERROR(F::layer_norm(x, {3}, tg::ones({2})), "layer_norm", "weight", "[3]", "[2]");
    REQUIRE_TG_ERROR(F::layer_norm(x, {3}, {}, tg::ones({3, 1})), "layer_norm", "bias", "[3, 1]");
    REQUIRE_TG_ERROR(F::layer_norm(x, {3}, tg::ones({3}, tg::kFloat64)), "layer_norm", "float64", "float32");
    REQUIRE_TG_ERROR(F::layer_norm(x, {}), "layer_norm", "at least 1 dim");
    REQUIRE_TG_ERROR(F::layer_norm(x, {3}, {}, {}, -1.0), "layer_norm", "eps");
    REQUIRE_TG_ERROR(F::layer_norm(tg::zeros({2, 3}, tg::kInt64), {3}), "layer_norm");
}

// ---- conv_transpose2d ---------------------------------------------------------------------

TEST_CASE("conv_transpose2d: hand-computed 2x2 input with a 2x2 kernel") {
    auto x = tg::reshape(tg::tensor({1, 2, 3, 4}, tg::kFloat64), {1, 1, 2, 2});
    auto w = tg::ones({1, 1, 2, 2}, tg::kFloat64);
    // stride 1: every input pixel adds a 2x2 block of itself (the "full" correlation)
    CHECK(values(F::conv_transpose2d(x, w)) == std::vector<double>{1, 3, 2, 4, 10, 6, 3, 7, 4});
    // stride 2: the blocks tile without overlap
    CHECK(values(F::conv_transpose2d(x, w, {}, {2})) ==
          std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
    // padding 1 crops one border cell from the stride-1 result; bias adds per channel
    CHECK(values(F::conv_transpose2d(x, w, tg::tensor({0.5}, tg::kFloat64), {1}, {1})) == std::vector<double>{10.5});
    // output_padding 1 with stride 2: one more row and column (zeros) at the bottom/right
    auto op = F::conv_transpose2d(x, w, {}, {2}, {0}, {1});
    CHECK(op.sizes() == tg::Shape{1, 1, 5, 5});
    CHECK(values(op.select(2, 4)) == std::vector<double>(5, 0.0));
    CHECK(values(op.select(3, 4)) == std::vector<double>(5, 0.0));
    // dilation 2: the kernel's taps land two cells apart -> 4x4 with the blocks interleaved
    CHECK(values(F::conv_transpose2d(x, w, {}, {1}, {0}, {0}, 1, {2})) ==
          std::vector<double>{1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4});
    // Two input and three output channels: weight (in 2, out 3, 1, 1) mixes channels.
    auto x2 = tg::reshape(tg::tensor({1, 2, 10, 20}, tg::kFloat64), {1, 2, 1, 2});
    auto w2 = tg::reshape(tg::tensor({1, 0, 2, 0, 1, 3}, tg::kFloat64), {2, 3, 1, 1});
    CHECK(values(F::conv_transpose2d(x2, w2)) == std::vector<double>{1, 2, 10, 20, 32, 64});
}

TEST_CASE("conv_transpose2d: the adjoint of conv2d for stride, padding, dilation, output_padding") {
    tg::manual_seed(17);
    struct Case {
        tg::Shape y, w;  // conv_transpose input (N, C_in, H, W), weight (C_in, C_out, kh, kw)
        std::int64_t sh, sw, ph, pw, oph, opw, dh, dw;
    };
    for (const Case& c : std::vector<Case>{{{2, 3, 4, 5}, {3, 2, 3, 3}, 1, 1, 0, 0, 0, 0, 1, 1},
                                           {{1, 2, 3, 4}, {2, 4, 3, 2}, 2, 3, 1, 0, 1, 2, 1, 1},
                                           {{3, 2, 5, 3}, {2, 3, 4, 4}, 2, 2, 1, 1, 0, 1, 1, 1},
                                           {{2, 1, 3, 3}, {1, 2, 3, 2}, 3, 1, 2, 1, 2, 0, 2, 3},
                                           {{1, 4, 6, 2}, {4, 1, 2, 5}, 1, 2, 0, 2, 0, 1, 2, 1}}) {
        INFO("input " << c.y << " weight " << c.w);
        for (auto dt : {tg::kFloat64, tg::kFloat32}) {
            auto y = rnd(c.y, dt), w = rnd(c.w, dt);
            auto xt = F::conv_transpose2d(y, w, {}, {c.sh, c.sw}, {c.ph, c.pw}, {c.oph, c.opw}, 1, {c.dh, c.dw});
            const std::int64_t OH = (c.y[2] - 1) * c.sh - 2 * c.ph + c.dh * (c.w[2] - 1) + c.oph + 1;
            const std::int64_t OW = (c.y[3] - 1) * c.sw - 2 * c.pw + c.dw * (c.w[3] - 1) + c.opw + 1;
            CHECK(xt.sizes() == tg::Shape{c.y[0], c.w[1], OH, OW});
            CHECK(xt.dtype() == dt);
            auto x = rnd(xt.sizes(), dt);
            auto cx = F::conv2d(x, w, {}, {c.sh, c.sw}, {c.ph, c.pw}, {c.dh, c.dw});
            REQUIRE(cx.sizes() == y.sizes());
            const double lhs = (cx * y).sum().item<double>(), rhs = (x * xt).sum().item<double>();
            CHECK(lhs == Approx(rhs).epsilon(dt == tg::kFloat64 ? 1e-12 : 1e-4));
        }
    }
}

TEST_CASE("conv_transpose2d: the conversion of TF's padding 'same' is the adjoint of conv2d 'same'") {
    // What docs/tf1-to-tapegrad.md gives for tf.nn.conv2d_transpose(padding="SAME") (output
    // in * stride): k >= s: padding (k - s) / 2, and when k - s is odd, drop the last row and
    // column (TF's odd padding pixel is at the bottom/right); k < s: output_padding s - k.
    tg::manual_seed(21);
    struct Case {
        std::int64_t k, s, pad, out_pad;
    };
    for (const Case& c : std::vector<Case>{{4, 2, 1, 0}, {5, 3, 1, 0}, {3, 1, 1, 0}, {3, 2, 0, 0}, {5, 2, 1, 0},
                                           {2, 1, 0, 0}, {2, 3, 0, 1}}) {
        INFO("kernel " << c.k << " stride " << c.s);
        auto y = rnd({2, 3, 4, 3}), w = rnd({3, 2, c.k, c.k});
        auto xt = F::conv_transpose2d(y, w, {}, {c.s}, {c.pad}, {c.out_pad});
        if ((c.k - c.s) % 2 != 0 && c.k > c.s) xt = xt.narrow(2, 0, 4 * c.s).narrow(3, 0, 3 * c.s);
        CHECK(xt.sizes() == tg::Shape{2, 2, 4 * c.s, 3 * c.s});
        auto x = rnd(xt.sizes());
        auto cx = F::conv2d(x, w, {}, {c.s}, F::Padding::Same);
        REQUIRE(cx.sizes() == y.sizes());
        CHECK((cx * y).sum().item<double>() == Approx((x * xt).sum().item<double>()).epsilon(1e-12));
    }
}

TEST_CASE("conv_transpose2d: gradcheck over stride, padding, output_padding, dilation, views") {
    tg::manual_seed(18);
    auto x = leaf({2, 3, 3, 4}), w = leaf({3, 2, 3, 2}), b = leaf({2});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv_transpose2d(in[0], in[1], in[2]); }, (Inputs{x, w, b}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) { return F::conv_transpose2d(in[0], in[1], in[2], {2, 3}, {1, 0}, {1, 2}); },
        (Inputs{x, w, b}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) { return F::conv_transpose2d(in[0], in[1], {}, {2, 1}, {1, 1}, {0}, 1, {2, 2}); },
        (Inputs{x, w}));
    // A single sample, non-contiguous input (H and W swapped) and an input used twice.
    auto x1 = leaf({1, 3, 4, 3});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::conv_transpose2d(in[0].transpose(2, 3), in[1], in[2], {2}); },
                      (Inputs{x1, w, b}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            return F::conv_transpose2d(in[0], in[1], {}, {2}) * F::conv_transpose2d(in[0] * in[0], in[1], {}, {2});
        },
        (Inputs{x, w}));
    // Double backward runs through conv2d's forward and weight gradient.
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            auto y = F::conv_transpose2d(in[0], in[1], {}, {2, 1}, {1, 0}, {1, 0});
            auto gs = tg::autograd::grad({(y * y).sum()}, {in[0], in[1]}, {}, true, true);
            return (gs[0] * gs[0]).sum() + gs[1].sum();
        },
        (Inputs{x, w}));
}

TEST_CASE("conv_transpose2d: errors name the op and the shapes") {
    auto x = tg::zeros({2, 3, 5, 5});
    REQUIRE_TG_ERROR(F::conv_transpose2d(x, tg::zeros({4, 2, 3, 3})), "conv_transpose2d", "[2, 3, 5, 5]",
                     "[4, 2, 3, 3]", "channels");
    REQUIRE_TG_ERROR(F::conv_transpose2d(x, tg::zeros({3, 2, 3, 3}), {}, {2}, {0}, {2}), "conv_transpose2d",
                     "output_padding [2]", "stride [2]");
    REQUIRE_TG_ERROR(F::conv_transpose2d(x, tg::zeros({3, 2, 3, 3}), {}, {1}, {0}, {1}), "conv_transpose2d",
                     "output_padding", "smaller than stride");
    REQUIRE_TG_ERROR(F::conv_transpose2d(x, tg::zeros({3, 2, 3, 3}), tg::zeros({3})), "conv_transpose2d", "bias",
                     "[3]", "[3, 2, 3, 3]");
    REQUIRE_TG_ERROR(F::conv_transpose2d(tg::zeros({3, 5, 5}), tg::zeros({3, 2, 3, 3})), "conv_transpose2d", "4-D",
                     "[3, 5, 5]");
    REQUIRE_TG_ERROR(F::conv_transpose2d(x, tg::zeros({3, 2, 3})), "conv_transpose2d", "4-D", "[3, 2, 3]");
    // (1 - 1) * 1 - 2 * 2 + 1 = -3: padding crops more than the output has
    REQUIRE_TG_ERROR(F::conv_transpose2d(tg::zeros({1, 3, 1, 1}), tg::zeros({3, 2, 1, 1}), {}, {1}, {2}),
                     "conv_transpose2d", "not positive", "[1, 3, 1, 1]");
    REQUIRE_TG_ERROR(F::conv_transpose2d(x, tg::zeros({3, 2, 3, 3}), {}, {0}), "conv_transpose2d", "stride");
    REQUIRE_TG_ERROR(F::conv_transpose2d(x, tg::zeros({3, 2, 3, 3}, tg::kFloat64)), "conv_transpose2d", "float64");
}

// ---- upsample_nearest2d and adaptive_avg_pool2d --------------------------------------------

TEST_CASE("upsample_nearest2d: hand-computed sizes and scale factors, non-divisible") {
    auto x = tg::reshape(tg::tensor({1, 2, 3, 4}, tg::kFloat64), {1, 1, 2, 2});
    CHECK(values(F::upsample_nearest2d(x, {4})) ==
          std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
    CHECK(values(F::upsample_nearest2d(x, 2.0, 1.0)) == std::vector<double>{1, 2, 1, 2, 3, 4, 3, 4});
    // 2 -> 3 rows: floor(o * 2 / 3) = 0, 0, 1
    CHECK(values(F::upsample_nearest2d(x, {3, 2})) == std::vector<double>{1, 2, 1, 2, 3, 4});
    // 5 -> 3 columns: floor(o * 5 / 3) = 0, 1, 3; 5 -> 7: 0, 0, 1, 2, 2, 3, 4
    auto r = tg::reshape(tg::tensor({10, 11, 12, 13, 14}, tg::kFloat64), {1, 1, 1, 5});
    CHECK(values(F::upsample_nearest2d(r, {1, 3})) == std::vector<double>{10, 11, 13});
    CHECK(values(F::upsample_nearest2d(r, {1, 7})) == std::vector<double>{10, 10, 11, 12, 12, 13, 14});
    // scale 1.5 on 5 columns: 7 outputs reading floor(o / 1.5); scale 0.5: 2 outputs, floor(o * 2)
    CHECK(values(F::upsample_nearest2d(r, 1.0, 1.5)) == std::vector<double>{10, 10, 11, 12, 12, 13, 14});
    CHECK(values(F::upsample_nearest2d(r, 1.0, 0.5)) == std::vector<double>{10, 12});
    // 3-D input keeps its rank
    CHECK(F::upsample_nearest2d(x.select(0, 0), {3, 5}).sizes() == tg::Shape{1, 3, 5});
    // The gradient of each input cell counts its copies: rows 0, 0, 1 and columns 0, 1, 3.
    auto xr = tg::reshape(tg::arange(0, 10, 1, tg::kFloat64), {1, 1, 2, 5}).requires_grad_();
    F::upsample_nearest2d(xr, {3, 3}).sum().backward();
    CHECK(values(xr.grad()) == std::vector<double>{2, 2, 0, 2, 0, 1, 1, 0, 1, 0});
}

TEST_CASE("adaptive_avg_pool2d: libtorch's windows, 5 -> 3, 2 -> 3, global") {
    // x[h][w] = 5h + w; rows [0, 2), [1, 4), [3, 5) have mean 0.5, 2, 3.5 (likewise columns).
    auto x = tg::reshape(tg::arange(0, 25, 1, tg::kFloat64), {1, 1, 5, 5});
    check_close(values(F::adaptive_avg_pool2d(x, {3})), {3, 4.5, 6, 10.5, 12, 13.5, 18, 19.5, 21});
    check_close(values(F::adaptive_avg_pool2d(x, {1})), {12});
    check_close(values(F::adaptive_avg_pool2d(x, {1, 5})), {10, 11, 12, 13, 14});
    // Output larger than the input: 2 -> 3 windows {0}, {0, 1}, {1} overlap.
    auto s = tg::reshape(tg::tensor({1, 2, 3, 4}, tg::kFloat64), {1, 1, 2, 2});
    check_close(values(F::adaptive_avg_pool2d(s, {3})), {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4});
    // Divisible sizes are plain average pooling; global pooling is the mean over H and W.
    tg::manual_seed(19);
    auto y = rnd({2, 3, 6, 4});
    check_close(values(F::adaptive_avg_pool2d(y, {3, 2})), values(F::avg_pool2d(y, {2, 2})), 1e-12);
    check_close(values(F::adaptive_avg_pool2d(y, {1})), values(y.mean({2, 3})), 1e-12);
    CHECK(F::adaptive_avg_pool2d(y.select(0, 0), {2}).sizes() == tg::Shape{3, 2, 2});
}

TEST_CASE("upsample and adaptive pool: gradcheck incl. views and double backward") {
    tg::manual_seed(20);
    auto x = leaf({2, 2, 5, 4});
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::adaptive_avg_pool2d(in[0], {3}); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::adaptive_avg_pool2d(in[0], {7, 2}); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::adaptive_avg_pool2d(in[0].transpose(2, 3), {3, 2}); },
                      (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::upsample_nearest2d(in[0], {7, 9}); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::upsample_nearest2d(in[0], {3, 3}); }, (Inputs{x}));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::upsample_nearest2d(in[0].transpose(2, 3), 2.0, 1.5); },
                      (Inputs{x}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            auto y = F::upsample_nearest2d(in[0], {6}) * F::upsample_nearest2d(F::adaptive_avg_pool2d(in[0], {3}), {6});
            auto g = tg::autograd::grad({(y * y).sum()}, {in[0]}, {}, true, true)[0];
            return (g * g).sum();
        },
        (Inputs{x}));
}

TEST_CASE("upsample and adaptive pool: errors") {
    auto x = tg::zeros({1, 1, 4, 4});
    REQUIRE_TG_ERROR(F::upsample_nearest2d(tg::zeros({4, 4}), {8}), "upsample_nearest2d", "[4, 4]");
    REQUIRE_TG_ERROR(F::upsample_nearest2d(x, {0, 2}), "upsample_nearest2d", "output_size");
    REQUIRE_TG_ERROR(F::upsample_nearest2d(x, {1, 2, 3}), "upsample_nearest2d", "output_size");
    REQUIRE_TG_ERROR(F::upsample_nearest2d(x, -1.0, 2.0), "upsample_nearest2d", "scale", "[1, 1, 4, 4]");
    REQUIRE_TG_ERROR(F::upsample_nearest2d(x, 0.1, 1.0), "upsample_nearest2d", "0x4", "[1, 1, 4, 4]");
    REQUIRE_TG_ERROR(F::adaptive_avg_pool2d(tg::zeros({4}), {2}), "adaptive_avg_pool2d", "[4]");
    REQUIRE_TG_ERROR(F::adaptive_avg_pool2d(x, {0}), "adaptive_avg_pool2d", "output_size");
    REQUIRE_TG_ERROR(F::adaptive_avg_pool2d(tg::zeros({1, 1, 0, 4}), {2}), "adaptive_avg_pool2d", "[1, 1, 0, 4]");
    REQUIRE_TG_ERROR(F::adaptive_avg_pool2d(tg::zeros({1, 1, 4, 4}, tg::kInt64), {2}), "adaptive_avg_pool2d");
}
