// Threads: two threads each training their own model and drawing random numbers at the same
// time get bit-identical results to the same runs made alone on one thread. The random
// generator is per thread (tg::manual_seed); everything else a step touches belongs to its
// model. Under tools/check --sanitize this is also the race check of the shared pieces
// (allocator cache, grad mode, the thread pool).
#include "test_support.hpp"

#include <cstdint>
#include <latch>
#include <thread>
#include <vector>

using namespace tgtest;
namespace nn = tg::nn;
namespace F = tg::nn::functional;

namespace {

// What a run produced: every loss, the trained parameters and draws of each random kind.
struct Run {
    std::vector<double> losses;
    std::vector<std::vector<double>> parameters;
    std::vector<std::vector<double>> draws;
};

// Fits y = sum(x) with an MLP that uses dropout (random masks every step), from `seed`.
// With `start`, waits there first, so that threads started together really overlap.
Run train(std::uint64_t seed, std::latch* start = nullptr) {
    if (start != nullptr) start->arrive_and_wait();
    tg::manual_seed(seed);
    auto model = nn::Sequential(nn::Linear(8, 16), nn::Tanh(), nn::Dropout(0.2), nn::Linear(16, 1));
    tg::optim::SGD opt(model.parameters(), tg::optim::SGDOptions(0.05).momentum(0.9));
    const tg::Tensor x = tg::randn({32, 8});
    const tg::Tensor y = x.sum({1}, true);
    Run run;
    for (int step = 0; step < 200; ++step) {
        const tg::Tensor batch = x + 0.01 * tg::randn({32, 8});  // noise drawn every step
        tg::Tensor loss = F::mse_loss(model.forward(batch), y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        run.losses.push_back(loss.item<double>());
    }
    for (const tg::Tensor& p : model.parameters()) run.parameters.push_back(values(p));
    run.draws = {values(tg::rand({500})), values(tg::randn({501}, tg::kFloat64)), values(tg::randint(0, 7, {500})),
                 values(tg::bernoulli({500}, 0.3)), values(tg::randperm(200))};
    return run;
}

void check_same(const Run& got, const Run& expected) {
    CHECK(got.losses == expected.losses);
    CHECK(got.parameters == expected.parameters);
    CHECK(got.draws == expected.draws);
}

}  // namespace

TEST_CASE("two threads training their own models match the single-threaded runs bit for bit") {
    const Run alone_a = train(1);
    const Run alone_b = train(2);
    REQUIRE(alone_a.losses.back() < alone_a.losses.front() / 4);  // it does train
    REQUIRE(alone_a.losses != alone_b.losses);                    // and the seeds differ

    for (int round = 0; round < 3; ++round) {
        INFO("round " << round);
        Run a, b;
        std::latch start(2);
        std::thread ta([&] { a = train(1, &start); });
        std::thread tb([&] { b = train(2, &start); });
        ta.join();
        tb.join();
        check_same(a, alone_a);
        check_same(b, alone_b);
    }
}

TEST_CASE("a thread's generator starts from the last manual_seed; reseeding one thread leaves others alone") {
    tg::manual_seed(42);
    const auto on_main = values(tg::randn({64}));
    std::vector<double> on_thread;
    std::thread([&] { on_thread = values(tg::randn({64})); }).join();
    CHECK(on_thread == on_main);  // a fresh thread starts where manual_seed(42) starts

    // Reseeding on another thread does not disturb this thread's sequence.
    tg::manual_seed(5);
    const auto first = values(tg::rand({16}));
    std::thread([] {
        tg::manual_seed(99);
        tg::rand({1000});
    }).join();
    const auto second = values(tg::rand({16}));
    tg::manual_seed(5);
    CHECK(values(tg::rand({16})) == first);
    CHECK(values(tg::rand({16})) == second);
}

TEST_CASE("many threads drawing at once each get their seed's sequence") {
    constexpr int kThreads = 4;
    auto draws = [](std::uint64_t seed) {
        tg::manual_seed(seed);
        std::vector<std::vector<double>> out;
        for (int i = 0; i < 200; ++i) out.push_back(values(tg::randn({1000})));  // many short draws
        return out;
    };
    std::vector<std::vector<std::vector<double>>> expected(kThreads), got(kThreads);
    for (int t = 0; t < kThreads; ++t) expected[static_cast<std::size_t>(t)] = draws(100 + static_cast<std::uint64_t>(t));
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            got[static_cast<std::size_t>(t)] = draws(100 + static_cast<std::uint64_t>(t));
        });
    for (auto& th : threads) th.join();
    CHECK(got == expected);
}
