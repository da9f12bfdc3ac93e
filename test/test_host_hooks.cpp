// What interactive hosts hook into: tg::display (rich output) and tg::request_interrupt
// (Ctrl-C stops the running input at its next op).
#include <atomic>
#include <chrono>
#include <csignal>
#include <sstream>
#include <thread>

#include "test_support.hpp"

TEST_CASE("tg::display: a host's handler gets the bundle; without one, text/plain goes to std::cout") {
    std::vector<tg::DisplayData> received;
    auto previous = tg::set_display_handler([&](const tg::DisplayData& d) { received.push_back(d); });
    CHECK_FALSE(previous);  // no handler was installed
    tg::display({{"text/plain", "x"}, {"image/png", std::string("\x89PNG\0raw", 8)}});
    REQUIRE(received.size() == 1);
    CHECK(received[0].at("text/plain") == "x");
    CHECK(received[0].at("image/png").size() == 8);  // binary content intact, NUL included

    auto mine = tg::set_display_handler({});  // back to the default
    CHECK(mine);
    std::ostringstream captured;
    auto* old_buffer = std::cout.rdbuf(captured.rdbuf());
    tg::display({{"text/html", "<b>no</b>"}, {"text/plain", "plain text"}});
    tg::display({{"text/html", "<b>only html</b>"}});  // nothing to print
    std::cout.rdbuf(old_buffer);
    CHECK(captured.str() == "plain text\n");
    CHECK(received.size() == 1);
}

TEST_CASE("request_interrupt: the next op inside an InterruptibleScope throws tg::Interrupted, once") {
    auto x = tg::tensor({1.0, 2.0});
    tg::request_interrupt();
    CHECK((x + 1).sum().item<double>() == 5.0);  // outside a scope: nothing stops
    {
        tg::InterruptibleScope scope;  // clears the request made before it
        CHECK((x * 2).sum().item<double>() == 6.0);
        tg::request_interrupt();
        REQUIRE_THROWS_AS(x * 2, tg::Interrupted);
        CHECK((x * 3).sum().item<double>() == 9.0);  // one request, one exception
        try {
            tg::request_interrupt();
            (void)tg::exp(x);
            FAIL("no exception");
        } catch (const tg::Error& e) {  // an Interrupted is a tg::Error: hosts report it as one
            CHECK(std::string(e.what()) == "interrupted (Ctrl-C)");
        }
    }
    tg::request_interrupt();
    CHECK((x - 1).sum().item<double>() == 1.0);  // the scope ended: not interruptible again
}

TEST_CASE("request_interrupt stops only the interruptible thread") {
    tg::InterruptibleScope scope;
    tg::request_interrupt();
    double other_thread_sum = 0;
    std::thread other([&] { other_thread_sum = (tg::ones({4}) * 2).sum().item<double>(); });
    other.join();
    CHECK(other_thread_sum == 8.0);  // a worker thread computes on
    REQUIRE_THROWS_AS(tg::ones({4}) * 2, tg::Interrupted);
}

namespace {
extern "C" void interrupt_on_signal(int) { tg::request_interrupt(); }
}  // namespace

TEST_CASE("Ctrl-C (SIGINT) stops an endless training loop; the model and optimizer stay usable") {
    tg::manual_seed(3);
    tg::nn::Linear model(4, 1);
    tg::optim::SGD opt(model.parameters(), 0.01);
    auto x = tg::randn({16, 4});
    auto y = x.sum({1}, true);
    auto previous = std::signal(SIGINT, interrupt_on_signal);
    std::atomic<long> steps{0};
    // The "user" presses Ctrl-C after a few steps: the signal goes to this process.
    std::thread presser([&] {
        while (steps.load() < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::raise(SIGINT);
    });
    bool interrupted = false;
    try {
        tg::InterruptibleScope scope;
        for (;;) {  // never ends by itself
            opt.zero_grad();
            auto loss = tg::nn::functional::mse_loss(model(x), y);
            loss.backward();
            opt.step();
            ++steps;
        }
    } catch (const tg::Interrupted&) {
        interrupted = true;
    }
    presser.join();
    std::signal(SIGINT, previous);
    CHECK(interrupted);
    CHECK(steps.load() >= 5);
    // Training goes on from where it stopped, and still learns.
    auto loss_before = tg::nn::functional::mse_loss(model(x), y).item<double>();
    for (int i = 0; i < 200; ++i) {
        opt.zero_grad();
        auto loss = tg::nn::functional::mse_loss(model(x), y);
        loss.backward();
        opt.step();
    }
    auto loss_after = tg::nn::functional::mse_loss(model(x), y).item<double>();
    CHECK(std::isfinite(loss_after));
    CHECK(loss_after < loss_before);
}
