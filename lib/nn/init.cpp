// tg::nn::init: in-place initializers. Each draws a new tensor from tg's generator and
// copies it in under NoGradGuard (so parameters that require grad can be filled).
#include "tapegrad/nn/init.hpp"

#include <cmath>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "nn/layer_init.hpp"
#include "tensor/check.hpp"

namespace tg::nn::init {

namespace {

void check_fillable(const Tensor& t, const char* op, bool floating) {
    detail::check_defined(t, op);
    if (floating) detail::check_floating(t, op);
}

Tensor fill_from(Tensor tensor, const Tensor& values) {
    NoGradGuard no_grad;
    tensor.copy_(values);
    return tensor;
}

double fan_for(const Tensor& t, FanMode mode, const char* op) {
    auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
    const std::int64_t fan = mode == FanMode::FanIn ? fan_in : fan_out;
    TG_CHECK(fan > 0, op, "tensor of shape {} has a zero fan", t.sizes());
    return static_cast<double>(fan);
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double param) {
    switch (nonlinearity) {
        case Nonlinearity::Tanh: return 5.0 / 3.0;
        case Nonlinearity::ReLU: return std::sqrt(2.0);
        case Nonlinearity::LeakyReLU: return std::sqrt(2.0 / (1.0 + param * param));
        case Nonlinearity::SELU: return 3.0 / 4.0;
        default: return 1.0;  // linear, conv, sigmoid
    }
}

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
    detail::check_defined(tensor, "calculate_fan_in_and_fan_out");
    TG_CHECK(tensor.dim() >= 2, "calculate_fan_in_and_fan_out",
             "tensor of shape {} has fewer than 2 dims (fans need (out, in, *kernel))",
             tensor.sizes());
    std::int64_t receptive = 1;
    for (std::int64_t d = 2; d < tensor.dim(); ++d) receptive *= tensor.size(d);
    return {tensor.size(1) * receptive, tensor.size(0) * receptive};
}

Tensor zeros_(Tensor tensor) { return constant_(std::move(tensor), 0.0); }
Tensor ones_(Tensor tensor) { return constant_(std::move(tensor), 1.0); }

Tensor constant_(Tensor tensor, double value) {
    check_fillable(tensor, "constant_", false);
    NoGradGuard no_grad;
    tensor.fill_(value);
    return tensor;
}

Tensor eye_(Tensor tensor) {
    check_fillable(tensor, "eye_", false);
    TG_CHECK(tensor.dim() == 2, "eye_", "expected a 2-D tensor, got shape {}", tensor.sizes());
    return fill_from(tensor, tg::eye(tensor.size(0), tensor.size(1), tensor.dtype()));
}

Tensor uniform_(Tensor tensor, double low, double high) {
    check_fillable(tensor, "uniform_", true);
    TG_CHECK(low <= high, "uniform_", "low {} is greater than high {}", low, high);
    return fill_from(tensor, tg::uniform(tensor.sizes(), low, high, tensor.dtype()));
}

Tensor normal_(Tensor tensor, double mean, double stddev) {
    check_fillable(tensor, "normal_", true);
    TG_CHECK(stddev >= 0, "normal_", "stddev {} is negative", stddev);
    return fill_from(tensor, tg::normal(tensor.sizes(), mean, stddev, tensor.dtype()));
}

Tensor truncated_normal_(Tensor tensor, double mean, double stddev) {
    check_fillable(tensor, "truncated_normal_", true);
    TG_CHECK(stddev >= 0, "truncated_normal_", "stddev {} is negative", stddev);
    const std::int64_t n = tensor.numel();
    std::vector<double> values = tg::normal({n}, 0.0, 1.0, kFloat64).to_vector<double>();
    // Redraw the values beyond 2 (in standard units); ~4.6% per round, so few rounds.
    std::vector<std::int64_t> outside;
    for (std::int64_t i = 0; i < n; ++i)
        if (std::abs(values[i]) > 2.0) outside.push_back(i);
    while (!outside.empty()) {
        const std::vector<double> redraw =
            tg::normal({static_cast<std::int64_t>(outside.size())}, 0.0, 1.0, kFloat64)
                .to_vector<double>();
        std::vector<std::int64_t> still;
        for (std::size_t k = 0; k < outside.size(); ++k) {
            values[outside[k]] = redraw[k];
            if (std::abs(redraw[k]) > 2.0) still.push_back(outside[k]);
        }
        outside.swap(still);
    }
    for (double& v : values) v = mean + stddev * v;
    return fill_from(tensor, tg::from_vector(values, tensor.sizes()));
}

namespace {

// fan_in + fan_out of a tensor Xavier/Glorot initialisation may fill (checked).
double xavier_fans(const Tensor& tensor, const char* op) {
    check_fillable(tensor, op, true);
    auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
    TG_CHECK(fan_in + fan_out > 0, op, "tensor of shape {} has zero fans", tensor.sizes());
    return static_cast<double>(fan_in + fan_out);
}

}  // namespace

Tensor xavier_uniform_(Tensor tensor, double gain) {
    const double bound = gain * std::sqrt(6.0 / xavier_fans(tensor, "xavier_uniform_"));
    return uniform_(std::move(tensor), -bound, bound);
}

Tensor xavier_normal_(Tensor tensor, double gain) {
    const double stddev = gain * std::sqrt(2.0 / xavier_fans(tensor, "xavier_normal_"));
    return normal_(std::move(tensor), 0.0, stddev);
}

Tensor kaiming_uniform_(Tensor tensor, double a, FanMode mode, Nonlinearity nonlinearity) {
    check_fillable(tensor, "kaiming_uniform_", true);
    const double stddev =
        calculate_gain(nonlinearity, a) / std::sqrt(fan_for(tensor, mode, "kaiming_uniform_"));
    const double bound = std::sqrt(3.0) * stddev;
    return uniform_(std::move(tensor), -bound, bound);
}

Tensor kaiming_normal_(Tensor tensor, double a, FanMode mode, Nonlinearity nonlinearity) {
    check_fillable(tensor, "kaiming_normal_", true);
    const double stddev =
        calculate_gain(nonlinearity, a) / std::sqrt(fan_for(tensor, mode, "kaiming_normal_"));
    return normal_(std::move(tensor), 0.0, stddev);
}

Tensor orthogonal_(Tensor tensor, double gain) {
    check_fillable(tensor, "orthogonal_", true);
    TG_CHECK(tensor.dim() >= 2, "orthogonal_", "expected at least 2 dims, got shape {}",
             tensor.sizes());
    const std::int64_t rows = tensor.size(0);
    const std::int64_t cols = tensor.numel() / rows;
    // Orthonormalise the columns of a tall m x n Gaussian matrix (m >= n); for a wide
    // tensor, do it for the transpose and transpose back.
    const bool wide = rows < cols;
    const std::int64_t m = wide ? cols : rows;
    const std::int64_t n = wide ? rows : cols;
    std::vector<double> a = tg::normal({m, n}, 0.0, 1.0, kFloat64).to_vector<double>();
    auto at = [&](std::int64_t i, std::int64_t j) -> double& { return a[i * n + j]; };
    // Modified Gram-Schmidt: each column's norm becomes R's (positive) diagonal, which is
    // the sign convention that makes Q Haar-distributed (libtorch multiplies by sign(diag R)).
    for (std::int64_t j = 0; j < n; ++j) {
        for (std::int64_t k = 0; k < j; ++k) {
            double dot = 0;
            for (std::int64_t i = 0; i < m; ++i) dot += at(i, k) * at(i, j);
            for (std::int64_t i = 0; i < m; ++i) at(i, j) -= dot * at(i, k);
        }
        double norm = 0;
        for (std::int64_t i = 0; i < m; ++i) norm += at(i, j) * at(i, j);
        norm = std::sqrt(norm);
        TG_CHECK(norm > 1e-12, "orthogonal_", "degenerate random draw for shape {}",
                 tensor.sizes());
        for (std::int64_t i = 0; i < m; ++i) at(i, j) /= norm;
    }
    std::vector<double> q(static_cast<std::size_t>(rows * cols));
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j)
            q[i * cols + j] = gain * (wide ? at(j, i) : at(i, j));
    return fill_from(tensor, tg::from_vector(q, tensor.sizes()));
}

// ---- Initializers ---------------------------------------------------------------------------
Initializer zeros() { return [](Tensor& t) { zeros_(t); }; }
Initializer ones() { return [](Tensor& t) { ones_(t); }; }
Initializer constant(double value) { return [value](Tensor& t) { constant_(t, value); }; }
Initializer uniform(double low, double high) {
    return [low, high](Tensor& t) { uniform_(t, low, high); };
}
Initializer normal(double mean, double stddev) {
    return [mean, stddev](Tensor& t) { normal_(t, mean, stddev); };
}
Initializer truncated_normal(double mean, double stddev) {
    return [mean, stddev](Tensor& t) { truncated_normal_(t, mean, stddev); };
}
Initializer xavier_uniform(double gain) { return [gain](Tensor& t) { xavier_uniform_(t, gain); }; }
Initializer xavier_normal(double gain) { return [gain](Tensor& t) { xavier_normal_(t, gain); }; }
Initializer kaiming_uniform(double a, FanMode mode, Nonlinearity nonlinearity) {
    return [=](Tensor& t) { kaiming_uniform_(t, a, mode, nonlinearity); };
}
Initializer kaiming_normal(double a, FanMode mode, Nonlinearity nonlinearity) {
    return [=](Tensor& t) { kaiming_normal_(t, a, mode, nonlinearity); };
}
Initializer orthogonal(double gain) { return [gain](Tensor& t) { orthogonal_(t, gain); }; }

void reset_layer_parameters(Tensor& weight, Tensor& bias, const Initializer& weight_init,
                            const Initializer& bias_init) {
    if (weight_init)
        weight_init(weight);
    else
        kaiming_uniform_(weight, std::sqrt(5.0));
    if (!bias.defined()) return;
    if (bias_init) {
        bias_init(bias);
    } else {
        const auto fan_in = calculate_fan_in_and_fan_out(weight).first;
        const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
        uniform_(bias, -bound, bound);
    }
}

}  // namespace tg::nn::init
