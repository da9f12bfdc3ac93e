// group_norm / instance_norm (functional and modules) and F::interpolate: values against
// statistics computed here in double, hand-computed bilinear grids (align_corners both ways),
// gradients against finite differences, double backward, and the argument errors.
#include <cmath>
#include <sstream>

#include "test_support.hpp"

using namespace tgtest;
namespace F = tg::nn::functional;
using Inputs = std::vector<tg::Tensor>;

namespace {

tg::Tensor rnd(const tg::Shape& shape) { return tg::uniform(shape, -2, 2, tg::kFloat64); }

void require_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-10) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("element " << i);
        CHECK(got[i] == Approx(want[i]).margin(tol));
    }
}

// x (N, C, S) normalised over blocks of `block` consecutive elements of each sample (a group
// of channels, or one channel), in double.
std::vector<double> normalise_blocks(const std::vector<double>& x, std::size_t block, double eps) {
    std::vector<double> out(x.size());
    for (std::size_t start = 0; start < x.size(); start += block) {
        double mean = 0, var = 0;
        for (std::size_t i = 0; i < block; ++i) mean += x[start + i];
        mean /= static_cast<double>(block);
        for (std::size_t i = 0; i < block; ++i) var += (x[start + i] - mean) * (x[start + i] - mean);
        var /= static_cast<double>(block);
        for (std::size_t i = 0; i < block; ++i) out[start + i] = (x[start + i] - mean) / std::sqrt(var + eps);
    }
    return out;
}

}  // namespace

TEST_CASE("group_norm: statistics per sample and group of channels, affine per channel") {
    auto x = rnd({2, 4, 3});
    require_close(values(F::group_norm(x, 2)), normalise_blocks(values(x), 6, 1e-5));
    require_close(values(F::group_norm(x, 1, {}, {}, 1e-3)), normalise_blocks(values(x), 12, 1e-3));
    require_close(values(F::group_norm(x, 4)), normalise_blocks(values(x), 3, 1e-5));
    auto w = tg::tensor({1.0, 2.0, -1.0, 0.5}, tg::kFloat64), b = tg::tensor({0.0, 1.0, 2.0, 3.0}, tg::kFloat64);
    auto y = F::group_norm(x, 2, w, b);
    const auto base = normalise_blocks(values(x), 6, 1e-5);
    for (std::int64_t n = 0; n < 2; ++n)
        for (std::int64_t c = 0; c < 4; ++c)
            for (std::int64_t s = 0; s < 3; ++s)
                CHECK(y.at({n, c, s}) ==
                      Approx(base[static_cast<std::size_t>(n * 12 + c * 3 + s)] * w.at({c}) + b.at({c})).margin(1e-10));
    auto x4 = rnd({2, 4, 2, 3});  // 4-D: spatial dims flatten into the group
    require_close(values(F::group_norm(x4, 2)), normalise_blocks(values(x4), 12, 1e-5));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::group_norm(in[0].transpose(2, 3), 2, in[1], in[2]); },
                      (Inputs{leaf({2, 4, 3, 2}), leaf({4}), leaf({4})}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            tg::AutoGradMode on(true);
            auto g = tg::autograd::grad({(F::group_norm(in[0], 3) * in[1]).sum()}, {in[0]}, {}, false, true)[0];
            return (g * g).sum();
        },
        (Inputs{leaf({2, 6, 2}), leaf({2, 6, 2})}));
    tg::nn::GroupNorm m(tg::nn::GroupNormOptions(2, 4).eps(1e-3));  // float32 parameters, like libtorch
    require_close(values(m.forward(x.to(tg::kFloat32))), normalise_blocks(values(x.to(tg::kFloat32)), 6, 1e-3), 1e-5);
    CHECK(m.named_parameters().size() == 2);
    CHECK(tg::nn::GroupNorm(tg::nn::GroupNormOptions(2, 4).affine(false)).named_parameters().empty());
    REQUIRE_TG_ERROR(F::group_norm(x, 3), "group_norm", "num_groups 3", "[2, 4, 3]");
    REQUIRE_TG_ERROR(F::group_norm(tg::zeros({4}), 2), "group_norm", "[4]");
    REQUIRE_TG_ERROR(F::group_norm(x, 2, tg::ones({3}, tg::kFloat64)), "group_norm", "weight", "[3]", "[2, 4, 3]");
    REQUIRE_TG_ERROR(F::group_norm(x, 2, tg::ones({4})), "group_norm", "float32", "float64");
    REQUIRE_TG_ERROR(m.forward(rnd({2, 3, 3}).to(tg::kFloat32)), "GroupNorm", "[2, 3, 3]");
    REQUIRE_TG_ERROR(tg::nn::GroupNorm(3, 4), "GroupNorm", "num_groups 3");
}

TEST_CASE("instance_norm: per sample and channel, running statistics averaged over the batch") {
    auto x = rnd({3, 2, 5});
    require_close(values(F::instance_norm(x)), normalise_blocks(values(x), 5, 1e-5));
    auto rm = tg::tensor({0.5, -1.0}, tg::kFloat64), rv = tg::tensor({2.0, 3.0}, tg::kFloat64);
    auto y = F::instance_norm(x, rm, rv, {}, {}, true, 0.25);
    require_close(values(y), normalise_blocks(values(x), 5, 1e-5));
    // running = 0.75 running + 0.25 * batch mean of the per-instance mean (unbiased variance)
    const auto xv = values(x);
    for (std::int64_t c = 0; c < 2; ++c) {
        double mean_of_means = 0, mean_of_vars = 0;
        for (std::int64_t n = 0; n < 3; ++n) {
            double m = 0, v = 0;
            for (std::int64_t s = 0; s < 5; ++s) m += xv[static_cast<std::size_t>(n * 10 + c * 5 + s)];
            m /= 5;
            for (std::int64_t s = 0; s < 5; ++s) {
                const double d = xv[static_cast<std::size_t>(n * 10 + c * 5 + s)] - m;
                v += d * d;
            }
            mean_of_means += m / 3;
            mean_of_vars += v / 4 / 3;
        }
        CHECK(rm.at({c}) == Approx(0.75 * (c == 0 ? 0.5 : -1.0) + 0.25 * mean_of_means).epsilon(1e-12));
        CHECK(rv.at({c}) == Approx(0.75 * (c == 0 ? 2.0 : 3.0) + 0.25 * mean_of_vars).epsilon(1e-12));
    }
    // eval: the running statistics, an affine map per channel
    auto e = F::instance_norm(x, rm, rv, {}, {}, false);
    CHECK(e.at({1, 1, 2}) == Approx((x.at({1, 1, 2}) - rm.at({1})) / std::sqrt(rv.at({1}) + 1e-5)).epsilon(1e-12));
    REQUIRE_GRADCHECK([](const Inputs& in) { return F::instance_norm(in[0].transpose(2, 3), {}, {}, in[1], in[2]); },
                      (Inputs{leaf({2, 3, 4, 2}), leaf({3}), leaf({3})}));
    REQUIRE_GRADCHECK(
        [](const Inputs& in) {
            tg::AutoGradMode on(true);
            auto g = tg::autograd::grad({(F::instance_norm(in[0]) * in[1]).sum()}, {in[0]}, {}, false, true)[0];
            return (g * g).sum();
        },
        (Inputs{leaf({2, 2, 4}), leaf({2, 2, 4})}));
    // modules: libtorch's defaults (no affine, no running stats); tracked stats used after eval()
    tg::nn::InstanceNorm1d plain(2);
    CHECK(plain.named_parameters().empty());
    require_close(values(plain.forward(x)), normalise_blocks(values(x), 5, 1e-5));
    tg::nn::InstanceNorm2d tracked(tg::nn::InstanceNormOptions(2).affine(true).track_running_stats(true));
    auto x4 = rnd({2, 2, 3, 3}).to(tg::kFloat32);
    tracked.forward(x4);
    CHECK(tracked.num_batches_tracked.item<std::int64_t>() == 1);
    CHECK(tracked.running_mean.at({0}) != 0.0);
    tracked.eval();
    auto ev = tracked.forward(x4);
    CHECK(ev.at({0, 1, 0, 0}) ==
          Approx((x4.at({0, 1, 0, 0}) - tracked.running_mean.at({1})) / std::sqrt(tracked.running_var.at({1}) + 1e-5))
              .epsilon(1e-6));
    REQUIRE_TG_ERROR(F::instance_norm(tg::zeros({2, 3})), "instance_norm", "[2, 3]");
    REQUIRE_TG_ERROR(F::instance_norm(x, rm), "instance_norm", "running_var", "[3, 2, 5]");
    REQUIRE_TG_ERROR(F::instance_norm(x, tg::zeros({3}, tg::kFloat64), tg::ones({3}, tg::kFloat64)), "instance_norm",
                     "running_mean", "[3]", "[3, 2, 5]");
    REQUIRE_TG_ERROR(F::instance_norm(x, {}, {}, {}, {}, false), "instance_norm", "use_input_stats", "[3, 2, 5]");
    REQUIRE_TG_ERROR(plain.forward(x4), "InstanceNorm1d", "[2, 2, 3, 3]");
}

TEST_CASE("interpolate: bilinear with align_corners true and false, nearest, scale factors") {
    auto x = tg::tensor({{0, 1}, {2, 3}}, tg::kFloat64).reshape({1, 1, 2, 2});
    using Opts = F::InterpolateFuncOptions;
    const auto bilinear = F::InterpolateMode::Bilinear;
    require_close(values(F::interpolate(x, Opts().size({3, 3}).mode(bilinear).align_corners(true))),
                {0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3});
    // without align_corners: source (o + 0.5) / 2 - 0.5 clamped to [0, 1] -> 0, .25, .75, 1
    std::vector<double> want;
    for (double r : {0.0, 0.25, 0.75, 1.0})
        for (double c : {0.0, 0.25, 0.75, 1.0}) want.push_back(2 * r + c);
    require_close(values(F::interpolate(x, Opts().size({4}).mode(bilinear))), want);
    require_close(values(F::interpolate(x, Opts().scale_factor({2.0}).mode(bilinear).align_corners(false))), want);
    require_close(values(F::interpolate(x, Opts().size({1, 1}).mode(bilinear))), {1.5});
    require_close(values(F::interpolate(x, Opts().size({1, 3}).mode(bilinear).align_corners(true))), {0, 0.5, 1});
    // nearest is upsample_nearest2d
    require_close(values(F::interpolate(x, Opts().size({4, 4}))), values(F::upsample_nearest2d(x, {4, 4})));
    require_close(values(F::interpolate(x, Opts().scale_factor({2.0, 3.0}))), values(F::upsample_nearest2d(x, 2.0, 3.0)));
    // float32, batches and channels
    auto many = tg::uniform({2, 3, 4, 5}, -1, 1);
    auto r = F::interpolate(many, Opts().size({7, 3}).mode(bilinear));
    CHECK(r.sizes() == tg::Shape{2, 3, 7, 3});
    CHECK(r.dtype() == tg::kFloat32);
    for (bool corners : {true, false}) {
        REQUIRE_GRADCHECK(
            [corners](const Inputs& in) {
                return F::interpolate(in[0].transpose(2, 3), Opts().size({5, 2}).mode(F::InterpolateMode::Bilinear).align_corners(corners));
            },
            (Inputs{leaf({2, 2, 3, 4})}));
        REQUIRE_GRADCHECK(
            [corners](const Inputs& in) {
                tg::AutoGradMode on(true);
                auto y = F::interpolate(in[0], Opts().scale_factor({1.5, 0.5}).mode(F::InterpolateMode::Bilinear).align_corners(corners));
                auto g = tg::autograd::grad({(y * y).sum()}, {in[0]}, {}, false, true)[0];
                return (g * g).sum();
            },
            (Inputs{leaf({1, 2, 3, 4})}));
    }
    REQUIRE_TG_ERROR(F::interpolate(x, Opts()), "interpolate", "exactly one", "[1, 1, 2, 2]");
    REQUIRE_TG_ERROR(F::interpolate(x, Opts().size({2}).scale_factor({2.0})), "interpolate", "exactly one");
    REQUIRE_TG_ERROR(F::interpolate(x, Opts().size({2}).align_corners(true)), "interpolate", "align_corners", "[1, 1, 2, 2]");
    REQUIRE_TG_ERROR(F::interpolate(tg::zeros({1, 2, 3}), Opts().size({2}).mode(bilinear)), "interpolate", "4-D", "[1, 2, 3]");
    REQUIRE_TG_ERROR(F::interpolate(x, Opts().size({2, 2, 2}).mode(bilinear)), "interpolate", "[2, 2, 2]", "[1, 1, 2, 2]");
    REQUIRE_TG_ERROR(F::interpolate(x, Opts().size({0, 2}).mode(bilinear)), "interpolate", "[0, 2]");
    REQUIRE_TG_ERROR(F::interpolate(x, Opts().scale_factor({-1.0}).mode(bilinear)), "interpolate", "scale_factor", "[1, 1, 2, 2]");
    REQUIRE_TG_ERROR(F::interpolate(x, Opts().scale_factor({0.1}).mode(bilinear)), "interpolate", "empty", "[1, 1, 2, 2]");
    REQUIRE_TG_ERROR(F::interpolate(tg::zeros({1, 1, 2, 2}, tg::kInt64), Opts().size({2})), "interpolate", "int64");
}

TEST_CASE("nn::Upsample with mode Bilinear is F::interpolate") {
    auto x = rnd({1, 2, 3, 3});
    tg::nn::Upsample up(tg::nn::UpsampleOptions().scale_factor(2.0).mode(F::InterpolateMode::Bilinear).align_corners(true));
    require_close(values(up.forward(x)),
                values(F::interpolate(x, F::InterpolateFuncOptions().scale_factor({2.0}).mode(F::InterpolateMode::Bilinear).align_corners(true))));
    std::ostringstream os;
    up.pretty_print(os);
    CHECK(os.str() == "Upsample(scale_factor=[2, 2], mode=bilinear, align_corners=true)");
    tg::nn::Upsample near(tg::nn::UpsampleOptions().size({6}));
    require_close(values(near.forward(x)), values(F::upsample_nearest2d(x, {6, 6})));
}
