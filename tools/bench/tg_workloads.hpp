// Registry of tapegrad's benchmark workloads: each tg_bench_*.cpp file registers the
// workloads it implements, so workloads live in files of their own (nn, rnn, data, ...)
// and tg_bench.cpp only dispatches.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "bench_common.hpp"

namespace bench {

using Workload = std::function<void(const Options&)>;

inline std::map<std::string, Workload>& workloads() {
    static std::map<std::string, Workload> registry;
    return registry;
}

// `static bench::Register r("mlp", run_mlp);` at namespace scope in a workload file.
struct Register {
    Register(const std::string& name, Workload fn) { workloads()[name] = std::move(fn); }
};

constexpr const char* kTapegrad = "tapegrad";

}  // namespace bench
