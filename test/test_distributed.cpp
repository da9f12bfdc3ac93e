// tg::distributed without mpirun (tools/check runs this directly): the sampler's shards for
// simulated ranks, the engine's end-of-backward callback DistributedDataParallel relies on,
// and the single-process behaviour before init(). The multi-process tests: test/scripts/mpi.sh.
#include <algorithm>
#include <set>

#include "tapegrad/distributed.hpp"
#include "test_support.hpp"

using namespace tg;
namespace dist = tg::distributed;

TEST_CASE("DistributedSampler: same seed and epoch give disjoint shards covering the set") {
    for (const int world : {1, 2, 3, 4}) {
        for (const std::int64_t size : {0, 1, 7, 12, 101}) {
            INFO("world " << world << ", size " << size);
            std::multiset<std::int64_t> seen;
            std::vector<std::int64_t> lengths;
            for (int r = 0; r < world; ++r) {
                auto s = dist::DistributedSampler::for_rank(size, world, r, true, 42);
                s.set_epoch(5);
                const auto mine = s.indices();
                CHECK(static_cast<std::int64_t>(mine.size()) == s.per_rank());
                lengths.push_back(static_cast<std::int64_t>(mine.size()));
                seen.insert(mine.begin(), mine.end());
            }
            // Same number of steps everywhere; every index at least once; repeats only as padding.
            CHECK(std::adjacent_find(lengths.begin(), lengths.end(), std::not_equal_to<>()) == lengths.end());
            for (std::int64_t i = 0; i < size; ++i) CHECK(seen.count(i) >= 1);
            CHECK(static_cast<std::int64_t>(seen.size()) == (size + world - 1) / world * world);
            for (auto v : seen) CHECK((v >= 0 && v < size));
            // drop_last: disjoint, size - size % world of them.
            std::set<std::int64_t> dropped;
            std::size_t total = 0;
            for (int r = 0; r < world; ++r) {
                const auto mine = dist::DistributedSampler::for_rank(size, world, r, true, 42, true).indices();
                total += mine.size();
                dropped.insert(mine.begin(), mine.end());
            }
            CHECK(total == dropped.size());
            CHECK(static_cast<std::int64_t>(total) == size / world * world);
        }
    }
    auto a = dist::DistributedSampler::for_rank(100, 2, 0, true, 1);
    auto b = dist::DistributedSampler::for_rank(100, 2, 0, true, 1);
    b.set_epoch(1);
    CHECK(a.indices() != b.indices());  // reshuffled per epoch
    CHECK(b.sampler()(0) == a.indices());  // the DataLoader hook takes the epoch
    CHECK(dist::DistributedSampler::for_rank(5, 2, 1, false).indices() == std::vector<std::int64_t>{1, 3, 0});
    REQUIRE_TG_ERROR(dist::DistributedSampler::for_rank(5, 2, 2), "DistributedSampler", "rank 2 is not in [0, 2)");
    REQUIRE_TG_ERROR(dist::DistributedSampler::for_rank(-1, 2, 0), "DistributedSampler", "non-negative");
}

TEST_CASE("autograd::queue_callback runs once after the last node of the current pass") {
    Tensor w = tgtest::leaf({3});
    std::vector<std::string> events;
    w.register_hook([&](const Tensor& g) {
        events.push_back("hook");
        autograd::queue_callback([&, g] {
            // By now the gradient has been accumulated into w.grad().
            events.push_back(w.grad().defined() && w.grad().to_vector<double>() == g.to_vector<double>()
                                 ? "callback after accumulation"
                                 : "callback too early");
            autograd::queue_callback([&] { events.push_back("queued by a callback"); });
        });
        return Tensor();
    });
    (w * w).sum().backward();
    CHECK(events == std::vector<std::string>{"hook", "callback after accumulation", "queued by a callback"});
    events.clear();
    autograd::grad({(w * 2.0).sum()}, {w});
    CHECK(events.size() == 3);  // autograd::grad runs them too
    REQUIRE_TG_ERROR(autograd::queue_callback([] {}), "queue_callback", "no backward pass is running");
}

TEST_CASE("tg::distributed before init(): a world of one process") {
    CHECK(dist::rank() == 0);
    CHECK(dist::world_size() == 1);
    CHECK(dist::is_main_process());
    CHECK(!dist::is_initialized());
    if (dist::available()) {
        Tensor t = ones({2});
        REQUIRE_TG_ERROR(dist::all_reduce(t), "distributed::all_reduce", "init() has not been called");
        REQUIRE_TG_ERROR(dist::DistributedDataParallel(std::make_shared<nn::Linear>(2, 2)),
                         "DistributedDataParallel", "init() has not been called");
    } else {
        Tensor t = ones({2});
        dist::all_reduce(t, dist::ReduceOp::Mean);
        CHECK(t.to_vector<double>() == std::vector<double>{1, 1});
        REQUIRE_TG_ERROR(dist::init(), "distributed::init", "built without MPI");
    }
    REQUIRE_TG_ERROR(dist::set_timeout(std::chrono::milliseconds(0)), "set_timeout", "positive");
}
