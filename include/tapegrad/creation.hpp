// Factories: new tensors filled with constants, ranges, data or random numbers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

Tensor empty(const Shape& sizes, Dtype dtype = kFloat32);  // uninitialised
Tensor zeros(const Shape& sizes, Dtype dtype = kFloat32);
Tensor ones(const Shape& sizes, Dtype dtype = kFloat32);
Tensor full(const Shape& sizes, double value, Dtype dtype = kFloat32);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor full_like(const Tensor& like, double value);
Tensor scalar_tensor(double value, Dtype dtype = kFloat32);  // 0-dim
// [start, end) in steps of `step`; int64 unless asked otherwise.
Tensor arange(double start, double end, double step = 1, Dtype dtype = kInt64);
Tensor arange(double end, Dtype dtype = kInt64);
Tensor eye(std::int64_t n, Dtype dtype = kFloat32);
Tensor eye(std::int64_t n, std::int64_t m, Dtype dtype = kFloat32);
Tensor linspace(double start, double end, std::int64_t steps, Dtype dtype = kFloat32);

// Copies `values` (row-major) into a new tensor of `sizes` (1-D when sizes is empty).
Tensor from_vector(const std::vector<float>& values, const Shape& sizes = {});
Tensor from_vector(const std::vector<double>& values, const Shape& sizes = {});
Tensor from_vector(const std::vector<std::int64_t>& values, const Shape& sizes = {});
Tensor from_vector(const std::vector<bool>& values, const Shape& sizes = {});
// tg::tensor({1, 2, 3}) is float32; tg::tensor({{1, 2}, {3, 4}}) is 2-D; tg::tensor(5.0) is
// 0-d (libtorch's torch::tensor(5.0), the same as scalar_tensor), while tg::tensor({5.0}) is
// 1-d with one element (the braced list wins, as in libtorch).
Tensor tensor(double value, Dtype dtype = kFloat32);
Tensor tensor(std::initializer_list<double> values, Dtype dtype = kFloat32);
Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, Dtype dtype = kFloat32);

// ---- random (tg::manual_seed; a generator per thread, see docs/design.md "Random numbers") ---
void manual_seed(std::uint64_t seed);
Tensor rand(const Shape& sizes, Dtype dtype = kFloat32);   // uniform [0, 1)
Tensor randn(const Shape& sizes, Dtype dtype = kFloat32);  // standard normal
Tensor uniform(const Shape& sizes, double low, double high, Dtype dtype = kFloat32);
Tensor normal(const Shape& sizes, double mean, double stddev, Dtype dtype = kFloat32);
// Integers uniform in [low, high).
Tensor randint(std::int64_t low, std::int64_t high, const Shape& sizes, Dtype dtype = kInt64);
Tensor bernoulli(const Shape& sizes, double p, Dtype dtype = kFloat32);  // 1 with probability p
Tensor randperm(std::int64_t n);  // a random permutation of 0..n-1, int64

}  // namespace tg

TG_PUBLIC_END
