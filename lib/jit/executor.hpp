// The graph executor: plans per (fetch set, fed set, feed shapes), each made by the first
// run that needs it and reused by the next (schedule, resolved kernels, release points,
// fused chains, the memory plan). Graph::run is a thin call into execute().
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "jit/fusion.hpp"
#include "tapegrad/jit.hpp"

namespace tg::jit::detail {

struct ExecutionPlan;

struct ExecutorState {
    ExecutorState();
    ~ExecutorState();
    std::mutex mutex;  // guards `plans` (a plan, once made, is never changed but by the run that owns its arena)
    std::vector<std::unique_ptr<ExecutionPlan>> plans;
    std::atomic<std::size_t> last_run_nodes{0};
};

// "float32[N, 784]": a value's dtype and shape, N for a dynamic batch (errors, printing).
std::string shape_text(const Value& v);

// fetches null: the graph's outputs.
std::vector<Tensor> execute(const Graph& graph, ExecutorState& state, const Feeds& feeds,
                            const std::vector<std::string>* fetches);

// The chains fused when every output is fetched and only the placeholders are fed (what
// Graph::str and to_dot show).
std::vector<FusedGroup> output_fusion(const Graph& graph);

}  // namespace tg::jit::detail
