// The MPI test program run by test/scripts/mpi.sh under `mpirun -np 2` (not a Catch2
// program: tools/check runs test/test_* directly, without mpirun).
//
//   mpi_check basic   collectives' values, the sampler's shards, and DistributedDataParallel:
//                     2 ranks × batch b for k steps == 1 process × batch 2b (each rank also
//                     trains the single-process reference itself and compares)
//   mpi_check die     rank 1 exits at once without finalize; rank 0 enters an all_reduce
//   mpi_check stall   rank 1 stays alive but never joins rank 0's all_reduce
// The last two must make the job fail with a clear message within the timeout.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "tapegrad/distributed.hpp"
#include "tapegrad/tapegrad.hpp"

using namespace tg;
namespace dist = tg::distributed;
namespace F = tg::nn::functional;

namespace {

int failures = 0;
int checks = 0;

void check(bool ok, const std::string& what) {
    ++checks;
    if (!ok) {
        ++failures;
        std::fprintf(stderr, "rank %d: FAIL %s\n", dist::rank(), what.c_str());
    }
}

bool close(const Tensor& a, const Tensor& b, double rtol) {
    const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
    if (va.size() != vb.size()) return false;
    double scale = 0, err = 0;
    for (std::size_t i = 0; i < va.size(); ++i) {
        scale = std::max(scale, std::fabs(vb[i]));
        err = std::max(err, std::fabs(va[i] - vb[i]));
    }
    return err <= rtol * std::max(scale, 1e-30);
}

void test_collectives() {
    const int r = dist::rank(), n = dist::world_size();
    const double rr = r + 1;  // 1, 2, ...
    Tensor f = from_vector(std::vector<float>{static_cast<float>(rr), static_cast<float>(-rr), 0.5f}, {3});
    dist::all_reduce(f);  // sum over ranks of r+1 = n(n+1)/2
    const double s = n * (n + 1) / 2.0;
    check(f.to_vector<double>() == std::vector<double>{s, -s, 0.5 * n}, "all_reduce Sum float32");
    Tensor d = full({2, 2}, rr, kFloat64);
    dist::all_reduce(d, dist::ReduceOp::Mean);
    check(d.to_vector<double>() == std::vector<double>(4, s / n), "all_reduce Mean float64");
    Tensor i = from_vector(std::vector<std::int64_t>{r, -r, 3}, {3});
    Tensor i2 = i.clone();
    dist::all_reduce(i, dist::ReduceOp::Max);
    dist::all_reduce(i2, dist::ReduceOp::Min);
    check(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{n - 1, 0, 3}, "all_reduce Max int64");
    check(i2.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, -(n - 1), 3}, "all_reduce Min int64");
    Tensor p = full({1}, rr, kFloat64);
    dist::all_reduce(p, dist::ReduceOp::Product);
    double fact = 1;
    for (int k = 1; k <= n; ++k) fact *= k;
    check(p.item<double>() == fact, "all_reduce Product");
    Tensor b = from_vector(std::vector<bool>{r == 0, false}, {2});
    dist::all_reduce(b, dist::ReduceOp::Max);
    check(b.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0}, "all_reduce Max bool");
    // A non-contiguous view is reduced in place.
    Tensor m = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}) * rr;
    Tensor mt = m.t();
    dist::all_reduce(mt);
    check(m.to_vector<double>() == std::vector<double>{s, 2 * s, 3 * s, 4 * s}, "all_reduce of a transposed view");
    bool threw = false;
    try {
        Tensor bad = from_vector(std::vector<std::int64_t>{1}, {1});
        dist::all_reduce(bad, dist::ReduceOp::Mean);
    } catch (const Error& e) {
        threw = std::string(e.what()).find("Mean needs a floating tensor") != std::string::npos;
    }
    check(threw, "all_reduce Mean of int64 throws");

    Tensor c = full({3}, 10.0 * r, kFloat64);
    dist::broadcast(c, n - 1);
    check(c.to_vector<double>() == std::vector<double>(3, 10.0 * (n - 1)), "broadcast from the last rank");

    manual_seed(1000 + static_cast<std::uint64_t>(r));  // different weights on every rank
    nn::Sequential net(nn::Linear(4, 3), nn::BatchNorm1d(3));
    dist::broadcast_parameters(net);
    NamedTensors state = net.named_parameters();
    for (auto& nb : net.named_buffers()) state.push_back(nb);
    for (auto& [name, t] : state) {
        Tensor mine = t.to(kFloat64).clone();
        Tensor root = mine.clone();
        dist::broadcast(root, 0);
        check(mine.to_vector<double>() == root.to_vector<double>(), "broadcast_parameters " + name);
    }
    dist::barrier();
}

void test_sampler() {
    const int r = dist::rank(), n = dist::world_size();
    for (const auto& [size, drop_last] : std::vector<std::pair<std::int64_t, bool>>{{10, false}, {11, false},
                                                                                     {11, true}, {1, false}}) {
        dist::DistributedSampler sampler(size, /*shuffle=*/true, /*seed=*/7, drop_last);
        sampler.set_epoch(3);
        const auto mine = sampler.indices();
        check(static_cast<std::int64_t>(mine.size()) == sampler.per_rank(), "sampler per_rank");
        Tensor counts = zeros({size}, kInt64);
        for (std::int64_t idx : mine) {
            check(idx >= 0 && idx < size, "sampler index in range");
            auto* p = counts.data_ptr<std::int64_t>();
            p[idx] += 1;
        }
        dist::all_reduce(counts);
        const auto c = counts.to_vector<std::int64_t>();
        std::int64_t total = 0, missing = 0, repeated = 0;
        for (auto v : c) {
            total += v;
            missing += v == 0;
            repeated += v > 1 ? v - 1 : 0;
        }
        const std::string tag = " (size " + std::to_string(size) + (drop_last ? ", drop_last)" : ")");
        if (drop_last) {
            check(repeated == 0, "sampler shards disjoint" + tag);
            check(total == (size / n) * n, "sampler drop_last count" + tag);
        } else {
            check(missing == 0, "sampler shards cover the set" + tag);
            check(total == sampler.per_rank() * n && repeated == total - size, "sampler padding only" + tag);
        }
        // Same epoch, same shard; another epoch, another order (for a set of 10+).
        auto again = dist::DistributedSampler::for_rank(size, n, r, true, 7, drop_last);
        again.set_epoch(3);
        check(again.indices() == mine, "sampler deterministic" + tag);
        if (size >= 10) {
            again.set_epoch(4);
            check(again.indices() != mine, "sampler reshuffles per epoch" + tag);
        }
    }
    // Unshuffled: rank r takes r, r + n, ...
    auto plain = dist::DistributedSampler::for_rank(6, 2, 1, false);
    check(plain.indices() == std::vector<std::int64_t>{1, 3, 5}, "sampler unshuffled strided");
}

std::shared_ptr<nn::Sequential> make_net() {
    return std::make_shared<nn::Sequential>(nn::Linear(12, 32), nn::ReLU(), nn::Linear(32, 16), nn::Tanh(),
                                            nn::Linear(16, 5));
}

// 2 ranks × batch b == 1 process × batch n·b, for both bucket modes.
void test_ddp(bool overlap, bool accumulate) {
    const int r = dist::rank(), n = dist::world_size();
    const std::int64_t b = 6, steps = 5;
    const std::string tag = std::string(overlap ? " (overlap" : " (no overlap") + (accumulate ? ", accumulate)" : ")");

    manual_seed(77 + static_cast<std::uint64_t>(r));  // DDP must broadcast rank 0's weights
    auto model = make_net();
    dist::DistributedDataParallelOptions options;
    options.bucket_bytes = 1024;  // several buckets on this small net
    options.overlap = overlap;
    dist::DistributedDataParallel ddp(model, options);
    check(ddp.bucket_count() > 2, "several buckets" + tag);

    auto reference = make_net();  // the single-process run, from the same start
    {
        NoGradGuard no_grad;
        auto src = model->parameters(), dst = reference->parameters();
        for (std::size_t k = 0; k < src.size(); ++k) dst[k].copy_(src[k]);
    }
    optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
    optim::SGD ref_opt(reference->parameters(), optim::SGDOptions(0.1).momentum(0.9));

    manual_seed(5);  // the same data on every rank
    for (std::int64_t step = 0; step < steps; ++step) {
        Tensor x = uniform({n * b, 12}, -1, 1);
        Tensor y = randint(0, 5, {n * b});
        Tensor xs = x.narrow(0, r * b, b), ys = y.narrow(0, r * b, b);
        model->zero_grad();
        F::cross_entropy(ddp.forward(xs), ys).backward();
        if (accumulate) F::cross_entropy(ddp.forward(xs * 0.5), ys).backward();  // grads add up
        opt.step();

        reference->zero_grad();
        F::cross_entropy(reference->forward(x), y).backward();
        if (accumulate) F::cross_entropy(reference->forward(x * 0.5), y).backward();
        ref_opt.step();
    }
    const auto got = model->named_parameters(), want = reference->named_parameters();
    for (std::size_t k = 0; k < got.size(); ++k)
        check(close(got[k].second, want[k].second, 2e-5), "DDP parameter " + got[k].first + tag);
    check(ddp.stats().steps == steps * (accumulate ? 2 : 1), "DDP step count" + tag);
    if (!overlap) {  // buffers: rank-local until broadcast_buffers()
        auto bn = std::make_shared<nn::Sequential>(nn::Linear(3, 4), nn::BatchNorm1d(4));
        dist::DistributedDataParallel bn_ddp(bn);
        bn_ddp.forward(uniform({5, 3}, -1, 1) + static_cast<double>(r));  // different batch statistics
        Tensor mean = bn->named_buffers()[0].second;
        Tensor root = mean.clone();
        dist::broadcast(root, 0);
        check(r == 0 || root.to_vector<double>() != mean.to_vector<double>(), "running stats differ per rank");
        bn_ddp.broadcast_buffers();
        check(root.to_vector<double>() == mean.to_vector<double>(), "broadcast_buffers");
    }
    // Every rank holds the same parameters.
    for (const auto& [name, t] : got) {
        Tensor root = t.detach().clone();
        dist::broadcast(root, 0);
        check(root.to_vector<double>() == t.to_vector<double>(), "DDP ranks agree on " + name + tag);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "basic";
    dist::Context mpi(&argc, &argv);
    const int r = dist::rank(), n = dist::world_size();
    if (mode == "die") {
        if (r == 1) {
            std::fprintf(stderr, "rank 1: exiting early on purpose\n");
            std::_Exit(3);
        }
        Tensor t = ones({4});
        dist::all_reduce(t);  // never completes
        std::printf("rank %d: all_reduce returned although rank 1 died\n", r);
        return 0;
    }
    if (mode == "stall") {
        if (r == 1) {
            std::fprintf(stderr, "rank 1: stalling on purpose\n");
            std::this_thread::sleep_for(std::chrono::seconds(60));
            return 0;
        }
        Tensor t = ones({4});
        dist::all_reduce(t);
        std::printf("rank %d: all_reduce returned although rank 1 stalled\n", r);
        return 0;
    }
    if (n < 2) {
        std::fprintf(stderr, "mpi_check: run under mpirun -np 2 (world size is %d)\n", n);
        return 2;
    }
    try {
        test_collectives();
        test_sampler();
        test_ddp(true, false);
        test_ddp(false, false);
        test_ddp(true, true);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rank %d: exception: %s\n", r, e.what());
        ++failures;
        dist::abort("mpi_check: aborting after an exception");
    }
    Tensor total = from_vector(std::vector<std::int64_t>{failures}, {1});
    dist::all_reduce(total);
    if (dist::is_main_process())
        std::printf("mpi_check basic: %d checks per rank, %lld failures over %d ranks\n", checks,
                    static_cast<long long>(total.item<std::int64_t>()), n);
    return total.item<std::int64_t>() == 0 ? 0 : 1;
}
