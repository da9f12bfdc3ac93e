// tg::nn::init: fill a tensor in place with a chosen distribution (libtorch's torch::nn::init,
// plus TF-1's truncated_normal). Each runs under NoGradGuard, so it works on parameters that
// require grad, and returns the tensor. Random draws come from tg's generator (manual_seed).
//
//   tg::nn::init::kaiming_normal_(conv.weight, 0.0, FanMode::FanOut, Nonlinearity::ReLU);
//   tg::nn::Linear fc(tg::nn::LinearOptions(784, 10).weight_init(tg::nn::init::xavier_uniform()));
//
// The functions ending in '_' fill a tensor now; the ones without (xavier_uniform(), ...)
// return an Initializer for later: what layer options and tg::get_variable take.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>

#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::nn::init {

// Fills its argument in place.
using Initializer = std::function<void(Tensor&)>;

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, Conv1D, Conv2D, Conv3D, Sigmoid, Tanh, ReLU, LeakyReLU, SELU };

// The gain that keeps activations' variance through `nonlinearity`: 1 for linear/conv/sigmoid,
// 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + param^2)) for leaky_relu (param = slope),
// 3/4 for selu.
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);
// (fan_in, fan_out) of a weight of shape (out, in, *kernel): fan_in = in * prod(kernel),
// fan_out = out * prod(kernel). Needs at least 2 dims.
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

Tensor zeros_(Tensor tensor);
Tensor ones_(Tensor tensor);
Tensor constant_(Tensor tensor, double value);
Tensor eye_(Tensor tensor);  // 2-D: the identity (rectangular allowed)
Tensor uniform_(Tensor tensor, double low = 0.0, double high = 1.0);
Tensor normal_(Tensor tensor, double mean = 0.0, double stddev = 1.0);
// TF-1's truncated_normal: normal(mean, stddev) with every value farther than 2 stddev
// from the mean drawn again until it lies within (so the result's std is ~0.88 stddev).
Tensor truncated_normal_(Tensor tensor, double mean = 0.0, double stddev = 1.0);
// Glorot: uniform(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)); normal with
// std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_uniform_(Tensor tensor, double gain = 1.0);
Tensor xavier_normal_(Tensor tensor, double gain = 1.0);
// He: std = gain(nonlinearity, a) / sqrt(fan); uniform bound = sqrt(3) * std. The defaults
// (a = 0, fan in, leaky_relu) are libtorch's; layers use a = sqrt(5), i.e. the bound
// 1 / sqrt(fan_in).
Tensor kaiming_uniform_(Tensor tensor, double a = 0.0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);
Tensor kaiming_normal_(Tensor tensor, double a = 0.0, FanMode mode = FanMode::FanIn,
                       Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);
// A (semi-)orthogonal matrix times gain, over the tensor viewed as (size(0), numel/size(0)):
// the Q of a Gaussian matrix (modified Gram-Schmidt, signs fixed so the draw is uniform over
// orthogonal matrices). Rows are orthonormal when rows <= cols, columns otherwise.
Tensor orthogonal_(Tensor tensor, double gain = 1.0);

// ---- the same as Initializers ---------------------------------------------------------
Initializer zeros();
Initializer ones();
Initializer constant(double value);
Initializer uniform(double low = 0.0, double high = 1.0);
Initializer normal(double mean = 0.0, double stddev = 1.0);
Initializer truncated_normal(double mean = 0.0, double stddev = 1.0);
Initializer xavier_uniform(double gain = 1.0);
Initializer xavier_normal(double gain = 1.0);
Initializer kaiming_uniform(double a = 0.0, FanMode mode = FanMode::FanIn,
                            Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);
Initializer kaiming_normal(double a = 0.0, FanMode mode = FanMode::FanIn,
                           Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);
Initializer orthogonal(double gain = 1.0);
// TF-1 spellings.
inline Initializer glorot_uniform(double gain = 1.0) { return xavier_uniform(gain); }
inline Initializer glorot_normal(double gain = 1.0) { return xavier_normal(gain); }

}  // namespace tg::nn::init

TG_PUBLIC_END
