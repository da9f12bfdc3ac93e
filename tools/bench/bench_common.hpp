// Shared timing harness for the tapegrad and libtorch benchmark twins.
//
// Header-only and C++17 so that both tg_bench.cpp (C++20, tapegrad) and
// torch/torch_bench.cpp (C++17, libtorch) measure and report identically.
//
// CLI of both programs:  PROG WORKLOAD [--reps N] [--warmup N] [--inner N]
// Output: human-readable lines plus, per metric, one machine-readable line
//   RESULT lib=LIB workload=W metric=M median=X min=X max=X reps=N [k=v ...]
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

namespace bench {

struct Options {
    std::string workload;
    int reps = -1;    // -1: workload default
    int warmup = -1;  // -1: workload default
    int inner = -1;   // -1: workload default (iterations timed together as one rep)
};

inline void usage(const char* prog, const char* workloads) {
    std::fprintf(stderr,
                 "usage: %s WORKLOAD [--reps N] [--warmup N] [--inner N]\n"
                 "workloads: %s\n",
                 prog, workloads);
}

inline bool parse_args(int argc, char** argv, Options& o, const char* workloads) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next_int = [&](int& dst) {
            if (i + 1 >= argc) return false;
            dst = std::atoi(argv[++i]);
            return dst >= 0;
        };
        if (a == "--reps") {
            if (!next_int(o.reps) || o.reps < 1) return false;
        } else if (a == "--warmup") {
            if (!next_int(o.warmup)) return false;
        } else if (a == "--inner") {
            if (!next_int(o.inner) || o.inner < 1) return false;
        } else if (a == "-h" || a == "--help") {
            usage(argv[0], workloads);
            std::exit(0);
        } else if (!a.empty() && a[0] != '-' && o.workload.empty()) {
            o.workload = a;
        } else {
            return false;
        }
    }
    if (o.workload.empty()) return false;
    return true;
}

// parse_args, printing the usage when the command line is wrong (then exit with status 2).
inline bool parse_or_usage(int argc, char** argv, Options& o, const char* workloads) {
    if (parse_args(argc, argv, o, workloads)) return true;
    usage(argv[0], workloads);
    return false;
}

struct Stats {
    double median = 0, min = 0, max = 0;
    int reps = 0;
};

inline Stats stats_of(std::vector<double> v) {
    Stats s;
    s.reps = static_cast<int>(v.size());
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    const size_t n = v.size();
    s.median = (n % 2) ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return s;
}

// Seconds on the clock the samples use: wall time, or with BENCH_CLOCK=cpu the CPU time of
// every thread of the process. On a machine busy with other work a single-threaded
// workload's CPU time stays close to its quiet wall time while its wall time grows with the
// load, so BENCH_CLOCK=cpu compares one-thread runs there (not multi-thread ones: their
// CPU time adds the threads up, spinning included).
inline double clock_seconds() {
    static const bool cpu = [] {
        const char* v = std::getenv("BENCH_CLOCK");
        return v && std::strcmp(v, "cpu") == 0;
    }();
    if (cpu) {
        timespec t{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs `body` warmup*inner times untimed, then reps times `inner` iterations,
// timing each block of `inner` iterations. Returns seconds per iteration, one
// sample per rep.
inline std::vector<double> time_reps(int warmup, int reps, int inner,
                                     const std::function<void()>& body) {
    for (int w = 0; w < warmup; ++w)
        for (int i = 0; i < inner; ++i) body();
    std::vector<double> samples;
    samples.reserve(static_cast<size_t>(reps));
    for (int r = 0; r < reps; ++r) {
        const double t0 = clock_seconds();
        for (int i = 0; i < inner; ++i) body();
        const double t1 = clock_seconds();
        samples.push_back((t1 - t0) / inner);
    }
    return samples;
}

inline std::vector<double> scaled(std::vector<double> v, double k) {
    for (auto& x : v) x *= k;
    return v;
}

// Converts seconds-per-unit samples into a rate (`work` units per second).
inline std::vector<double> rate(std::vector<double> secs, double work) {
    for (auto& x : secs) x = work / x;
    return secs;
}

inline void report(const char* lib, const std::string& workload, const char* metric,
                   const std::vector<double>& samples, const char* human_unit,
                   const std::string& extra = "") {
    Stats s = stats_of(samples);
    std::printf("%-10s %-12s %-24s median %12.4f  min %12.4f  max %12.4f  %s  (%d reps)\n",
                lib, workload.c_str(), metric, s.median, s.min, s.max, human_unit, s.reps);
    std::printf("RESULT lib=%s workload=%s metric=%s median=%.6g min=%.6g max=%.6g reps=%d%s%s\n",
                lib, workload.c_str(), metric, s.median, s.min, s.max, s.reps,
                extra.empty() ? "" : " ", extra.c_str());
    std::fflush(stdout);
}

inline int pick(int requested, int dflt) { return requested >= 0 ? requested : dflt; }

// A workload's repetition counts: its own defaults unless --reps / --warmup / --inner say.
struct Runs {
    int reps, warmup, inner;
};
inline Runs runs_of(const Options& o, int reps, int warmup, int inner) {
    return {pick(o.reps, reps), pick(o.warmup, warmup), pick(o.inner, inner)};
}

inline std::string env_or(const char* name, const char* dflt) {
    const char* v = std::getenv(name);
    return v ? v : dflt;
}

// The key=value field every RESULT line of both twins carries.
inline std::string openblas_threads_field() {
    return "openblas_threads=" + env_or("OPENBLAS_NUM_THREADS", "default");
}

}  // namespace bench
