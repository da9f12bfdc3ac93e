// Thread-count invariance of the parallel kernels (lib/tensor/parallel.hpp): every op that
// is not a reduction gives the same bits at 1 and 2 threads; reductions give the same bits
// twice at one thread count and agree closely across counts; gradients check at 2 threads.
// Sizes are above the grains, so the 2-thread runs really split the work.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <omp.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tensor/cpu_load.hpp"
#include "test_support.hpp"

using tg::Tensor;
namespace F = tg::nn::functional;

namespace {

// Restores the thread count when a test ends.
struct ThreadCount {
    int before = tg::get_num_threads();
    explicit ThreadCount(int n) { tg::set_num_threads(n); }
    ~ThreadCount() { tg::set_num_threads(before); }
};

// The bits of every element (float32 -> float64 is exact, so equal bytes here are equal
// bits there, signed zeros and NaN payloads included).
std::vector<unsigned char> bytes_of(const Tensor& t) {
    const std::vector<double> v = t.to_vector<double>();
    std::vector<unsigned char> b(v.size() * sizeof(double));
    if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}

// The results of fn (a list of tensors) at 1 and at 2 threads.
using Results = std::vector<Tensor>;
std::pair<Results, Results> at_1_and_2(const std::function<Results()>& fn) {
    Results one, two;
    {
        ThreadCount t(1);
        one = fn();
    }
    {
        ThreadCount t(2);
        two = fn();
    }
    return {one, two};
}

void require_bitwise(const std::function<Results()>& fn) {
    const auto [one, two] = at_1_and_2(fn);
    REQUIRE(one.size() == two.size());
    for (std::size_t i = 0; i < one.size(); ++i) {
        INFO("result " << i << " of shape " << one[i].sizes());
        REQUIRE(one[i].sizes() == two[i].sizes());
        CHECK(bytes_of(one[i]) == bytes_of(two[i]));
    }
}

Tensor big(const tg::Shape& shape, tg::Dtype dtype = tg::kFloat32, std::uint64_t seed = 7) {
    tg::manual_seed(seed);
    return tg::uniform(shape, -2.0, 2.0, dtype);
}

}  // namespace

TEST_CASE("set_num_threads governs get_num_threads and the kernels' chunking") {
    ThreadCount t(2);
    CHECK(tg::get_num_threads() == 2);
    tg::set_num_threads(1);
    CHECK(tg::get_num_threads() == 1);
    REQUIRE_TG_ERROR(tg::set_num_threads(-3), "set_num_threads", "at least 1", "-3");
}

// Run by test/scripts/openmp_wait_policy.sh with TG_NUM_THREADS set.
TEST_CASE("TG_NUM_THREADS sets the thread count at start") {
    const char* env = std::getenv("TG_NUM_THREADS");
    if (env == nullptr) {
        SUCCEED("TG_NUM_THREADS not set");
        return;
    }
    CHECK(tg::get_num_threads() == std::atoi(env));
}

TEST_CASE("idle CPUs: other processes' busy time, averaged and rounded to whole CPUs") {
    using tg::detail::idle_cpus_of;
    CHECK(idle_cpus_of(2, 0.0, 0.1) == 2);
    CHECK(idle_cpus_of(2, -0.015, 0.1) == 2);  // tick-sampled busy time can fall below our own
    CHECK(idle_cpus_of(2, 0.04, 0.1) == 2);    // a neighbour at 0.4 CPU leaves both
    CHECK(idle_cpus_of(2, 0.06, 0.1) == 1);    // one at 0.6 takes one
    CHECK(idle_cpus_of(2, 0.1, 0.1) == 1);     // a busy loop
    CHECK(idle_cpus_of(2, 0.3, 0.1) == 1);     // never fewer than one
    CHECK(idle_cpus_of(8, 0.34, 0.1) == 5);
    CHECK(idle_cpus_of(8, 0.36, 0.1) == 4);
    CHECK(idle_cpus_of(2, 0.1, 0.0) == 0);     // no window: unknown
    CHECK(idle_cpus_of(0, 0.1, 0.1) == 0);
}

TEST_CASE("idle CPUs: two spinning processes read as busy neighbours") {
    cpu_set_t mask;
    CPU_ZERO(&mask);
    REQUIRE(sched_getaffinity(0, sizeof mask, &mask) == 0);
    const int cpus = CPU_COUNT(&mask);
    if (cpus < 2) {
        SUCCEED("one CPU: nothing to take away");
        return;
    }
    // Two children spin for at most two seconds (bounded even if this test dies first).
    std::vector<pid_t> children;
    for (int i = 0; i < 2; ++i) {
        const pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
            volatile unsigned long spins = 0;
            while (std::chrono::steady_clock::now() < end) spins = spins + 1;
            _exit(0);
        }
        children.push_back(pid);
    }
    // Windows of at least 100 ms: the first read may only start one.
    int idle = 0;
    for (int read = 0; read < 4; ++read) {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        idle = tg::detail::idle_cpus();
    }
    for (const pid_t pid : children) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
    }
    INFO("CPUs " << cpus << ", idle read " << idle);
    CHECK(idle >= 1);
    CHECK(idle <= cpus - 1);  // at least one CPU's worth taken by the two spinners
}

TEST_CASE("elementwise maps and their broadcasts: same bits at 1 and 2 threads") {
    const Tensor a = big({300, 1000}), b = big({300, 1000}, tg::kFloat32, 8), row = big({1000}, tg::kFloat32, 9);
    // an offset view: its data does not start on a 64-byte boundary
    const Tensor shifted = tg::narrow(tg::reshape(a, {300000}), 0, 3, 200000);
    require_bitwise([&] {
        return Results{a + b,        a * row,          a - 2.0,         tg::exp(a),     tg::log(tg::abs(a) + 1.0),
                       tg::tanh(a),  tg::sigmoid(a),   tg::relu(a),     tg::exp(shifted), tg::sqrt(tg::abs(shifted)),
                       tg::pow(a, 3.0), a.transpose(0, 1) * 2.0, tg::gelu(a), a.to(tg::kFloat64)};
    });
}

TEST_CASE("in-place maps equal their out-of-place forms bit for bit, also when operands overlap") {
    // In place, the kernels take another loop (restrict-qualified rows, elementwise.hpp):
    // it must give the very bits of the out-of-place op, at either thread count, from the
    // first element to the last partial vector.
    for (std::int64_t n : {1, 7, 4099, 200003}) {
        INFO("n = " << n);
        const Tensor a = big({n}), b = big({n}, tg::kFloat32, 8), d = big({n}, tg::kFloat64, 9);
        require_bitwise([&] {
            Tensor sum = a.clone(), product = a.clone(), scaled = a.clone(), shifted = a.clone(), wide = d.clone();
            sum.add_(b, 0.5);
            product.mul_(b);
            scaled.mul_(3.0);
            shifted.add_(-1.25);
            wide.sub_(d * 2.0);
            CHECK(bytes_of(sum) == bytes_of(a + b * 0.5));
            CHECK(bytes_of(product) == bytes_of(a * b));
            CHECK(bytes_of(scaled) == bytes_of(a * 3.0));
            CHECK(bytes_of(shifted) == bytes_of(a - 1.25));
            CHECK(bytes_of(wide) == bytes_of(d - d * 2.0));
            return Results{sum, product, scaled, shifted, wide};
        });
    }
    // An operand that is the target itself, or overlaps it, takes the general loop.
    Tensor self = tg::arange(0, 10, 1, tg::kFloat32);
    self.add_(self);
    CHECK(self.to_vector<float>() == std::vector<float>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18});
}

TEST_CASE("backward of elementwise ops: same bits at 1 and 2 threads") {
    const Tensor a0 = big({400, 500}), b0 = big({500}, tg::kFloat32, 3);
    require_bitwise([&] {
        const Tensor a = a0.detach().requires_grad_(), b = b0.detach().requires_grad_();
        tg::sum(tg::tanh(a * b) + tg::exp(a) * 0.5).backward();
        return Results{a.grad(), b.grad()};
    });
}

TEST_CASE("sum over kept dims: same bits; full sums deterministic per thread count") {
    const Tensor a = big({600, 700}, tg::kFloat32);
    require_bitwise([&] { return Results{tg::sum(a, {0}), tg::sum(a, {1}), tg::mean(a, {0}, true)}; });
    Tensor first, again;
    {
        ThreadCount t(2);
        first = tg::sum(a);
        again = tg::sum(a);
    }
    CHECK(bytes_of(first) == bytes_of(again));
    ThreadCount t(1);
    CHECK(tg::sum(a).item<double>() == Approx(first.item<double>()).epsilon(1e-6));
    // the partial sums of a full reduction add up to the exact total of a known input
    ThreadCount t2(2);
    CHECK(tg::sum(tg::ones({1000, 1000})).item<double>() == 1e6);
}

TEST_CASE("softmax, log_softmax, logsumexp, cross_entropy: same bits at 1 and 2 threads") {
    const Tensor x = big({512, 300}), cols = big({64, 300, 8});
    tg::manual_seed(1);
    const Tensor targets = tg::randint(0, 300, {512});
    require_bitwise([&] {
        const Tensor logits = x.detach().requires_grad_();
        const Tensor loss = F::cross_entropy(logits, targets);
        loss.backward();
        return Results{tg::softmax(x, 1), tg::log_softmax(x, -1), tg::logsumexp(x, 1), tg::softmax(cols, 1),
                       tg::log_softmax(cols, 1), loss, logits.grad()};
    });
}

TEST_CASE("batch_norm and layer_norm forward and backward: thread-count invariant") {
    const Tensor x0 = big({64, 32, 12, 12}), w0 = big({32}, tg::kFloat32, 4), ln_x0 = big({256, 384});
    const Tensor ln_w0 = big({384}, tg::kFloat32, 5);
    require_bitwise([&] {
        const Tensor x = x0.detach().requires_grad_(), w = w0.detach().requires_grad_();
        const Tensor b = tg::zeros({32}).requires_grad_();
        const Tensor y = F::batch_norm(x, Tensor(), Tensor(), w, b, true);
        tg::sum(y * y).backward();
        const Tensor lx = ln_x0.detach().requires_grad_();
        const Tensor ly = F::layer_norm(lx, {384}, ln_w0);
        tg::sum(ly * ly).backward();
        return Results{y, x.grad(), w.grad(), b.grad(), ly, lx.grad()};
    });
    // layer_norm's weight gradient sums over rows in fixed chunks: deterministic per count
    auto ln_weight_grad = [&] {
        const Tensor lw = ln_w0.detach().requires_grad_();
        tg::sum(F::layer_norm(ln_x0, {384}, lw) * ln_x0).backward();
        return lw.grad();
    };
    ThreadCount t(2);
    const Tensor g1 = ln_weight_grad(), g2 = ln_weight_grad();
    CHECK(bytes_of(g1) == bytes_of(g2));
    ThreadCount t1(1);
    const Tensor serial = ln_weight_grad();
    CHECK(tg::allclose(g1, serial, 1e-5, 1e-5));
}

TEST_CASE("pooling and nearest upsampling, forward, backward and double backward: same bits at 1 and 2 threads") {
    const Tensor x0 = big({16, 32, 24, 24});  // 512 planes, each written by one thread
    require_bitwise([&] {
        const Tensor x = x0.detach().requires_grad_();
        const Tensor mp = F::max_pool2d(x, {2, 2});
        const Tensor mp3 = F::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});  // padded windows
        const Tensor ap = F::avg_pool2d(x, {3, 3}, {2, 2}, {1, 1});
        const Tensor aap = F::adaptive_avg_pool2d(x, {5, 7});
        const Tensor up = F::upsample_nearest2d(x, {40, 52});
        const Tensor loss = tg::sum(mp * mp) + tg::sum(mp3 * mp3) + tg::sum(ap * ap) + tg::sum(aap * aap) +
                            tg::sum(up * up);
        // create_graph: the backward's own nodes (the scatters, the window adjoints) run twice
        const Tensor gx = tg::autograd::grad({loss}, {x}, {.create_graph = true})[0];
        const Tensor ggx = tg::autograd::grad({tg::sum(gx * x0)}, {x})[0];
        return Results{mp, mp3, ap, aap, up, gx, ggx};
    });
}

TEST_CASE("embedding, cat/stack (collation), optimizers: same bits at 1 and 2 threads") {
    const Tensor table0 = big({5000, 64});
    tg::manual_seed(2);
    const Tensor idx = tg::randint(0, 5000, {4096});  // repeated indices: the scatter adds
    std::vector<Tensor> items;
    for (int i = 0; i < 256; ++i) items.push_back(big({1, 28, 28}, tg::kFloat32, 100 + i));
    require_bitwise([&] {
        const Tensor table = table0.detach().requires_grad_();
        const Tensor e = F::embedding(idx, table);
        tg::sum(e * e).backward();
        Tensor p = table0.clone().requires_grad_(), q = table0.clone().requires_grad_();
        tg::optim::Adam adam({p}, tg::optim::AdamOptions(1e-2));
        tg::optim::SGD sgd({q}, tg::optim::SGDOptions(0.1).momentum(0.9));
        for (int step = 0; step < 3; ++step) {
            adam.zero_grad();
            sgd.zero_grad();
            tg::sum(tg::sin(p)).backward();
            tg::sum(q * q).backward();
            adam.step();
            sgd.step();
        }
        return Results{e, table.grad(), tg::stack(items), tg::cat(items, 0), p.detach(), q.detach()};
    });
}

// Adam's vectorised update (lib/optim/adam.cpp): an odd length, so chunks end in partial
// vectors; AMSGrad and AdamW's decoupled decay take the other template paths. The values
// are checked against the update written out per element in float64 (torch.optim.Adam's
// formula), and the bits at 1 and 2 threads against each other.
TEST_CASE("Adam, AdamW with amsgrad: vectorised update matches the formula, same bits at 1 and 2 threads") {
    const std::int64_t n = 100003;
    const Tensor p0 = big({n}, tg::kFloat32, 11), g0 = big({n}, tg::kFloat32, 12);
    auto run = [&](bool decoupled, bool amsgrad) {
        Tensor p = p0.clone().requires_grad_();
        std::unique_ptr<tg::optim::Optimizer> opt;
        if (decoupled)
            opt = std::make_unique<tg::optim::AdamW>(std::vector<Tensor>{p},
                                                     tg::optim::AdamWOptions(1e-2).weight_decay(0.1).amsgrad(amsgrad));
        else
            opt = std::make_unique<tg::optim::Adam>(std::vector<Tensor>{p},
                                                    tg::optim::AdamOptions(1e-2).weight_decay(0.05).amsgrad(amsgrad));
        for (int step = 1; step <= 2; ++step) {
            p.set_grad(g0 * (step == 1 ? 1.0 : -0.5));
            opt->step();
        }
        return p.detach();
    };
    for (const bool decoupled : {false, true})
        for (const bool amsgrad : {false, true}) {
            INFO("decoupled " << decoupled << ", amsgrad " << amsgrad);
            require_bitwise([&] { return Results{run(decoupled, amsgrad)}; });
            // the same two steps in float64, element by element
            const std::vector<double> p_in = p0.to_vector<double>(), g_in = g0.to_vector<double>();
            const std::vector<double> got = run(decoupled, amsgrad).to_vector<double>();
            const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = decoupled ? 0.1 : 0.05;
            double worst = 0;
            for (std::int64_t i = 0; i < n; i += 997) {
                double p = p_in[i], m = 0, v = 0, vmax = 0;
                for (int step = 1; step <= 2; ++step) {
                    const double g = g_in[i] * (step == 1 ? 1.0 : -0.5);
                    if (decoupled) p *= 1 - lr * wd;
                    const double d = decoupled ? g : g + wd * p;
                    m = b1 * m + (1 - b1) * d;
                    v = b2 * v + (1 - b2) * d * d;
                    vmax = std::max(vmax, v);
                    const double second = amsgrad ? vmax : v;
                    const double bias1 = 1 - std::pow(b1, step), bias2 = 1 - std::pow(b2, step);
                    p -= lr / bias1 * m / (std::sqrt(second) / std::sqrt(bias2) + eps);
                }
                worst = std::max(worst, std::abs(got[i] - p));
            }
            CHECK(worst < 1e-5);
        }
}

// The optimizer's scan of every gradient for NaN/Inf before a step (lib/autograd/anomaly.cpp)
// runs in chunks: a bad value in the last chunk, or only in its final partial vector, is
// still found at 2 threads.
TEST_CASE("non-finite gradient scan: found in any chunk at 2 threads") {
    ThreadCount t(2);
    const std::int64_t n = 300001;
    for (const std::int64_t at : {std::int64_t{0}, n / 2 + 1, n - 1}) {
        for (const double bad : {std::nan(""), -std::numeric_limits<double>::infinity()}) {
            INFO("at " << at << ", value " << bad);
            Tensor p = tg::zeros({n}).requires_grad_();
            tg::optim::SGD opt({p}, tg::optim::SGDOptions(0.1));
            std::vector<float> g(static_cast<std::size_t>(n), 1.0f);
            g[static_cast<std::size_t>(at)] = static_cast<float>(bad);
            p.set_grad(tg::from_vector(g, {n}));
            REQUIRE_TG_ERROR(opt.step(), "SGD", std::isnan(bad) ? "non-finite gradient (nan)" : "non-finite gradient (-inf)",
                             "at element " + std::to_string(at));
            CHECK(tg::sum(p).item<double>() == 0.0);  // unchanged
        }
    }
    // an Inf early and a NaN in the last chunk: the first non-finite element is reported
    Tensor p = tg::zeros({n}).requires_grad_();
    tg::optim::SGD opt({p}, tg::optim::SGDOptions(0.1));
    std::vector<float> g(static_cast<std::size_t>(n), 1.0f);
    g[5] = std::numeric_limits<float>::infinity();
    g[static_cast<std::size_t>(n - 1)] = std::nanf("");
    p.set_grad(tg::from_vector(g, {n}));
    REQUIRE_TG_ERROR(opt.step(), "SGD", "non-finite gradient (inf)", "at element 5");
    // a finite gradient steps
    p.set_grad(tg::ones({n}));
    opt.step();
    CHECK(tg::sum(p).item<double>() == Approx(-0.1 * static_cast<double>(n)).epsilon(1e-6));
}

// oneDNN convolutions keep one plan per thread count (lib/tensor/direct_conv.cpp): switching
// the count back and forth in one process runs each count's own plan. At 2 threads a batch
// of 8 runs as 8 one-sample pieces, one of 11 as five pieces of 2 and a last of 1
// (batch_pieces), and a weight gradient sums the pieces' partial gradients. The forward
// gives the same bits at 1 and 2 threads; the gradients may sum in another order, so each
// count repeats its own bits and both agree with float64 (im2col and dgemm, not oneDNN) to
// float32 rounding of the largest element.
TEST_CASE("conv2d forward and backward: plans per thread count, results per count repeat") {
    const std::int64_t batch = GENERATE(8, 11);
    INFO("batch " << batch);
    const Tensor x0 = big({batch, 16, 20, 20}), w0 = big({32, 16, 3, 3}, tg::kFloat32, 8), b0 = big({32}, tg::kFloat32, 9);
    auto run = [&](int threads, tg::Dtype dtype) {
        ThreadCount t(threads);
        const Tensor x = x0.to(dtype).detach().requires_grad_(), w = w0.to(dtype).detach().requires_grad_(),
                     b = b0.to(dtype).detach().requires_grad_();
        const Tensor y = F::conv2d(x, w, b, {1, 1}, {1, 1});
        tg::sum(y * y).backward();
        return Results{y.detach(), x.grad(), w.grad(), b.grad()};
    };
    const Results exact = run(1, tg::kFloat64);
    const Results one = run(1, tg::kFloat32), two = run(2, tg::kFloat32), one_again = run(1, tg::kFloat32),
                  two_again = run(2, tg::kFloat32);
    CHECK(bytes_of(one[0]) == bytes_of(two[0]));
    for (std::size_t i = 0; i < one.size(); ++i) {
        INFO("result " << i);
        CHECK(bytes_of(one[i]) == bytes_of(one_again[i]));
        CHECK(bytes_of(two[i]) == bytes_of(two_again[i]));
        const double scale = tg::max(tg::abs(exact[i])).item<double>();
        CHECK(tg::max(tg::abs(one[i].to(tg::kFloat64) - exact[i])).item<double>() <= 1e-5 * scale);
        CHECK(tg::max(tg::abs(two[i].to(tg::kFloat64) - exact[i])).item<double>() <= 1e-5 * scale);
    }
}

// A GEMM below the grain runs with the calling thread's OpenMP count at 1, and convolution
// pieces are built at 1 (LibraryThreads); the count the thread had comes back afterwards,
// so a caller's own OpenBLAS or OpenMP work after ours runs with the count it set.
TEST_CASE("library calls give the calling thread its OpenMP count back") {
    ThreadCount t(2);
    REQUIRE(omp_get_max_threads() == 2);
    const Tensor small = tg::mm(big({8, 16}), big({16, 8}, tg::kFloat32, 8));
    CHECK(small.size(0) == 8);
    CHECK(omp_get_max_threads() == 2);
    const Tensor x = big({8, 4, 12, 12}).requires_grad_(), w = big({8, 4, 3, 3}, tg::kFloat32, 8).requires_grad_();
    tg::sum(F::conv2d(x, w, Tensor(), {1, 1}, {1, 1})).backward();
    CHECK(omp_get_max_threads() == 2);
    omp_set_num_threads(3);  // a thread's own count, not tapegrad's, is what comes back
    (void)tg::mm(big({8, 16}), big({16, 8}, tg::kFloat32, 8));
    CHECK(omp_get_max_threads() == 3);
    omp_set_num_threads(2);
}

TEST_CASE("gradchecks pass at 2 threads through the parallel kernels") {
    ThreadCount t(2);
    // A few float64 inputs that vary, inside tensors large enough to be split among threads.
    const Tensor bulk = big({200, 400}, tg::kFloat64);
    const Tensor x = tgtest::leaf({1, 400});
    auto softmax_sigmoid = [&](const std::vector<Tensor>& in) {
        const Tensor all = tg::cat({in[0], bulk}, 0);  // (201, 400)
        return tg::sum(tg::log_softmax(tg::tanh(all) * 3.0, 1) * all) + tg::sum(tg::sigmoid(all) * all);
    };
    REQUIRE_GRADCHECK(softmax_sigmoid, std::vector<Tensor>{x});
    const Tensor w = tgtest::leaf({400});
    auto norm = [&](const std::vector<Tensor>& in) {
        const Tensor all = tg::cat({in[0], bulk}, 0);
        return tg::sum(F::layer_norm(all, {400}, in[1]) * all);
    };
    REQUIRE_GRADCHECK(norm, (std::vector<Tensor>{x, w}));
}
