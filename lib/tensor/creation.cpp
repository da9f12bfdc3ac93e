// Factories and the seedable random generator.
#include "tapegrad/creation.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <random>

#include "tensor/check.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"
#include "tensor/trace.hpp"

namespace tg {

namespace {

template <class F>
Tensor generate(const Shape& sizes, Dtype dtype, F&& value_at) {
    Tensor out = make_tensor(sizes, dtype);
    detail::visit_dtype(dtype, [&](auto v) {
        using T = decltype(v);
        T* p = impl_of(out).data_as<T>();
        const std::int64_t n = out.numel();
        for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(value_at(i));
    });
    return out;
}

// Random numbers come from one generator per thread, so two threads never share (and
// corrupt) a Mersenne-Twister state, and what a thread draws after manual_seed(s) is the
// same whatever other threads do meanwhile: a model trained on a thread reproduces the
// single-threaded run. A thread's generator starts from the seed most recently given to
// manual_seed (on any thread) when it first draws; manual_seed reseeds the calling thread's.
constexpr std::uint64_t kDefaultSeed = 0x7a9e9a4d;
std::atomic<std::uint64_t> g_seed{kDefaultSeed};

struct ThreadGenerator {
    std::mt19937_64 engine;
    // Box-Muller makes normals in pairs; the second waits here. Reseeding clears it, so a
    // seed alone decides what follows.
    bool has_spare = false;
    double spare = 0;

    explicit ThreadGenerator(std::uint64_t seed) : engine(seed) {}
    void reseed(std::uint64_t seed) {
        engine.seed(seed);
        has_spare = false;
    }
};

ThreadGenerator& thread_generator() {
    thread_local ThreadGenerator generator(g_seed.load(std::memory_order_relaxed));
    return generator;
}

std::mt19937_64& generator() { return thread_generator().engine; }

// Uniform double in [0, 1) from 53 random bits: identical on every platform, unlike
// std::uniform_real_distribution.
double next_uniform() { return static_cast<double>(generator()() >> 11) * 0x1.0p-53; }

// Standard normal by Box-Muller (portable, unlike std::normal_distribution).
double next_normal() {
    ThreadGenerator& g = thread_generator();
    if (g.has_spare) {
        g.has_spare = false;
        return g.spare;
    }
    double u1 = 0;
    while (u1 <= 0) u1 = next_uniform();
    const double u2 = next_uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    g.spare = r * std::sin(2 * M_PI * u2);
    g.has_spare = true;
    return r * std::cos(2 * M_PI * u2);
}

}  // namespace

Tensor empty(const Shape& sizes, Dtype dtype) { return make_tensor(sizes, dtype); }
Tensor zeros(const Shape& sizes, Dtype dtype) { return full(sizes, 0.0, dtype); }
Tensor ones(const Shape& sizes, Dtype dtype) { return full(sizes, 1.0, dtype); }
Tensor full(const Shape& sizes, double value, Dtype dtype) {
    return detail::traced_constant(generate(sizes, dtype, [value](std::int64_t) { return value; }));
}
Tensor zeros_like(const Tensor& like) { return zeros(like.sizes(), like.dtype()); }
Tensor ones_like(const Tensor& like) { return ones(like.sizes(), like.dtype()); }
Tensor full_like(const Tensor& like, double value) { return full(like.sizes(), value, like.dtype()); }
Tensor scalar_tensor(double value, Dtype dtype) { return full({}, value, dtype); }

Tensor arange(double start, double end, double step, Dtype dtype) {
    TG_CHECK(step != 0, "arange", "step must be non-zero");
    TG_CHECK((end - start) * step >= 0, "arange", "range [{}, {}) cannot be walked with step {}", start, end, step);
    const auto n = static_cast<std::int64_t>(std::ceil((end - start) / step));
    return detail::traced_constant(
        generate({n}, dtype, [=](std::int64_t i) { return start + static_cast<double>(i) * step; }));
}
Tensor arange(double end, Dtype dtype) { return arange(0, end, 1, dtype); }

Tensor eye(std::int64_t n, Dtype dtype) { return eye(n, n, dtype); }
Tensor eye(std::int64_t n, std::int64_t m, Dtype dtype) {
    TG_CHECK(n >= 0 && m >= 0, "eye", "sizes must be non-negative, got {} x {}", n, m);
    return detail::traced_constant(generate({n, m}, dtype, [m](std::int64_t i) { return i / m == i % m ? 1.0 : 0.0; }));
}

Tensor linspace(double start, double end, std::int64_t steps, Dtype dtype) {
    TG_CHECK(steps >= 0, "linspace", "steps must be non-negative, got {}", steps);
    const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
    return detail::traced_constant(
        generate({steps}, dtype, [=](std::int64_t i) { return start + static_cast<double>(i) * step; }));
}

namespace {
template <class T>
Tensor from_values(const std::vector<T>& values, const Shape& sizes) {
    const Shape shape = sizes.empty() ? Shape{static_cast<std::int64_t>(values.size())} : sizes;
    TG_CHECK(shape.numel() == static_cast<std::int64_t>(values.size()), "from_vector",
             "{} values cannot fill shape {} ({} elements)", values.size(), shape, shape.numel());
    return detail::traced_constant(
        generate(shape, dtype_of<T>::value, [&](std::int64_t i) { return values[static_cast<std::size_t>(i)]; }));
}
}  // namespace

Tensor from_vector(const std::vector<float>& v, const Shape& s) { return from_values(v, s); }
Tensor from_vector(const std::vector<double>& v, const Shape& s) { return from_values(v, s); }
Tensor from_vector(const std::vector<std::int64_t>& v, const Shape& s) { return from_values(v, s); }
Tensor from_vector(const std::vector<bool>& v, const Shape& s) { return from_values(v, s); }

Tensor tensor(double value, Dtype dtype) { return scalar_tensor(value, dtype); }

Tensor tensor(std::initializer_list<double> values, Dtype dtype) {
    std::vector<double> v(values);
    return detail::traced_constant(generate({static_cast<std::int64_t>(v.size())}, dtype,
                                            [&](std::int64_t i) { return v[static_cast<std::size_t>(i)]; }));
}

Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, Dtype dtype) {
    std::vector<double> v;
    const std::size_t cols = rows.size() ? rows.begin()->size() : 0;
    for (const auto& row : rows) {
        TG_CHECK(row.size() == cols, "tensor", "ragged rows: expected {} values per row, got {}", cols, row.size());
        v.insert(v.end(), row.begin(), row.end());
    }
    return detail::traced_constant(generate({static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(cols)},
                                            dtype, [&](std::int64_t i) { return v[static_cast<std::size_t>(i)]; }));
}

void manual_seed(std::uint64_t seed) {
    g_seed.store(seed, std::memory_order_relaxed);
    thread_generator().reseed(seed);
}

Tensor rand(const Shape& sizes, Dtype dtype) { return uniform(sizes, 0.0, 1.0, dtype); }
Tensor randn(const Shape& sizes, Dtype dtype) { return normal(sizes, 0.0, 1.0, dtype); }

Tensor uniform(const Shape& sizes, double low, double high, Dtype dtype) {
    TG_CHECK(is_floating_point(dtype), "uniform", "expected a float dtype, got {}", dtype_name(dtype));
    return generate(sizes, dtype, [=](std::int64_t) { return low + (high - low) * next_uniform(); });
}

Tensor normal(const Shape& sizes, double mean, double stddev, Dtype dtype) {
    TG_CHECK(is_floating_point(dtype), "normal", "expected a float dtype, got {}", dtype_name(dtype));
    TG_CHECK(stddev >= 0, "normal", "stddev must be non-negative, got {}", stddev);
    return generate(sizes, dtype, [=](std::int64_t) { return mean + stddev * next_normal(); });
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& sizes, Dtype dtype) {
    TG_CHECK(low < high, "randint", "expected low < high, got [{}, {})", low, high);
    const auto span = static_cast<std::uint64_t>(high - low);
    return generate(sizes, dtype, [=](std::int64_t) {
        return static_cast<double>(low + static_cast<std::int64_t>(generator()() % span));
    });
}

Tensor bernoulli(const Shape& sizes, double p, Dtype dtype) {
    TG_CHECK(p >= 0 && p <= 1, "bernoulli", "probability must be in [0, 1], got {}", p);
    return generate(sizes, dtype, [=](std::int64_t) { return next_uniform() < p ? 1.0 : 0.0; });
}

Tensor randperm(std::int64_t n) {
    TG_CHECK(n >= 0, "randperm", "n must be non-negative, got {}", n);
    Tensor out = arange(static_cast<double>(n));
    auto* p = impl_of(out).data_as<std::int64_t>();
    for (std::int64_t i = n - 1; i > 0; --i)  // Fisher-Yates
        std::swap(p[i], p[static_cast<std::int64_t>(generator()() % static_cast<std::uint64_t>(i + 1))]);
    return out;
}

}  // namespace tg
