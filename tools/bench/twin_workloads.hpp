// The workloads whose code reads the same against tapegrad and libtorch, written once so
// that the two sides cannot drift apart: (a) overhead, (b) logreg, (c) matmul, (i) startup.
// tg_bench.cpp and torch/torch_bench.cpp include it inside their anonymous namespace after
// `namespace lib = tg;` (or torch), `kLib` and `extra_fields()`. C++17, like torch_bench.

// (a) per-op overhead on 1-element tensors.
void run_overhead(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 30, 3, 2000);

    auto a = lib::randn({1}).requires_grad_();
    auto b = lib::randn({1}).requires_grad_();

    auto with_grad = bench::time_reps(warmup, reps, inner, [&] {
        auto c = a * b + a;
        c.backward();
    });
    bench::report(kLib, o.workload, "us_per_iter", bench::scaled(with_grad, 1e6),
                  "us/iter (a*b+a, backward)", extra_fields());

    lib::NoGradGuard no_grad;
    lib::Tensor sink;
    auto fwd = bench::time_reps(warmup, reps, inner * 10, [&] { sink = a * b + a; });
    bench::report(kLib, o.workload, "fwd_nograd_us_per_iter", bench::scaled(fwd, 1e6),
                  "us/iter (a*b+a, NoGradGuard)", extra_fields());
    if (sink.numel() != 1) std::abort();
}

// (b) logistic regression, batch 100, manual SGD.
void run_logreg(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 30, 3, 20);
    const float lr = 0.1f;

    auto x = lib::randn({100, 784});
    auto y = lib::randint(0, 10, {100}, lib::kInt64);
    auto W = (lib::randn({784, 10}) * 0.01).requires_grad_();
    auto b = lib::zeros({10}).requires_grad_();

    float last_loss = 0;
    auto step = [&] {
        auto logits = lib::matmul(x, W) + b;
        auto loss = lib::nn::functional::cross_entropy(logits, y);
        loss.backward();
        {
            lib::NoGradGuard no_grad;
            // plain SGD on the leaves, then reset the grads
            W.sub_(lr * W.grad());
            b.sub_(lr * b.grad());
            W.grad().zero_();
            b.grad().zero_();
        }
        last_loss = loss.item<float>();
    };
    auto s = bench::time_reps(warmup, reps, inner, step);
    bench::report(kLib, o.workload, "ms_per_step", bench::scaled(s, 1e3), "ms/step", extra_fields());
    bench::report(kLib, o.workload, "steps_per_s", bench::rate(s, 1.0), "steps/s", extra_fields());
    std::printf("final loss %.4f\n", last_loss);
}

// (c) 1024^3 sgemm.
void run_matmul(const bench::Options& o) {
    const auto [reps, warmup, inner] = bench::runs_of(o, 20, 3, 1);
    const int64_t n = 1024;

    auto A = lib::randn({n, n});
    auto B = lib::randn({n, n});
    lib::Tensor C;
    auto s = bench::time_reps(warmup, reps, inner, [&] { C = lib::matmul(A, B); });
    const double flops = 2.0 * double(n) * double(n) * double(n);
    bench::report(kLib, o.workload, "gflops", bench::rate(s, flops * 1e-9), "GFLOP/s", extra_fields());
    bench::report(kLib, o.workload, "ms_per_mm", bench::scaled(s, 1e3), "ms/mm", extra_fields());
}

// (i) trivial autograd program: the runner measures process wall time and RSS.
void run_startup() {
    auto a = lib::randn({2, 2}).requires_grad_();
    (a * a).sum().backward();
    std::printf("startup ok, grad sum %.4f\n", a.grad().sum().item<float>());
}
