// execute(): find or make the plan for this run's key, then run its steps. A plan's first
// run records the blocks each step takes (memory_plan.hpp); its later runs place them in
// the plan's arena. docs/graphs-and-onnx.md, "Executor"; docs/design.md, "The executor's arena".
#include "jit/executor.hpp"

#include <algorithm>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "jit/kernels.hpp"
#include "jit/memory_plan.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"
#include "tensor/packed_linear.hpp"
#include "tensor/tensor_impl.hpp"
#include "tensor/trace.hpp"

namespace tg::jit::detail {

// A linear step of an optimize_for_inference graph: its packed kernel, made by the first
// run (which knows the input's rows), and whether the ReLU that read its output joined it.
struct PackedLinearStep {
    bool relu = false;
    std::once_flag made;
    std::unique_ptr<tg::detail::PackedLinear> kernel;
    std::int64_t rows = 0;
};

// One step of a plan: a node, or a fused chain (run at its last member's place).
struct PlanStep {
    int node = -1;                 // the node, or the fused group's last member
    const Kernel* kernel = nullptr;  // null for a fused group
    int group = -1;                // index in plan.groups, or -1
    std::vector<int> inputs;       // value ids the step reads (-1: an absent optional input)
    std::vector<int> outputs;      // value ids it defines (-1: unused)
    std::vector<int> release;      // values read here for the last time (and not fetched)
    std::shared_ptr<PackedLinearStep> packed;  // a linear step on packed weights, or null
};

struct ExecutionPlan {
    // The key: names as the caller gave them (a later run finds its plan without looking a
    // name up in the graph), the feeds' shapes, dtypes and contiguity, the thread count
    // (ops may allocate by it).
    bool all_outputs = false;  // run(feeds): the graph's outputs, whatever their names
    std::vector<std::string> fetch_names, fed_names;
    std::vector<Shape> fed_shapes;
    std::vector<Dtype> fed_dtypes;
    std::vector<bool> fed_contiguous;
    int threads = 0;
    std::vector<int> fetch_ids, fed_ids;

    std::vector<PlanStep> steps;
    std::vector<std::size_t> initializer_slots;  // graph.initializers() the steps read
    std::vector<FusedGroup> groups;
    std::size_t node_count = 0;

    // The memory plan: recorded by the first run that gets `busy`, used by later ones.
    std::atomic<bool> busy{false};
    bool recorded = false;
    Arena arena;
};

ExecutorState::ExecutorState() = default;
ExecutorState::~ExecutorState() = default;

std::string shape_text(const Value& v) {
    std::vector<std::string> dims;
    for (std::size_t d = 0; d < v.shape.size(); ++d)
        dims.push_back(d == 0 && v.dynamic_batch ? std::string("N") : std::to_string(v.shape[d]));
    return fmt::format("{}[{}]", dtype_name(v.dtype), fmt::join(dims, ", "));
}

namespace {

// Which nodes the fetches need: walk back from them, stopping at fed values.
std::vector<bool> needed_nodes(const Graph& g, const std::vector<int>& fetch_ids, const std::vector<bool>& fed) {
    const auto& nodes = g.nodes();
    std::vector<bool> needed_value(g.values().size(), false), runs(nodes.size(), false);
    for (int id : fetch_ids) needed_value[static_cast<std::size_t>(id)] = true;
    for (std::size_t n = nodes.size(); n-- > 0;) {
        for (int id : nodes[n].outputs)
            if (id >= 0 && needed_value[static_cast<std::size_t>(id)] && !fed[static_cast<std::size_t>(id)]) runs[n] = true;
        if (!runs[n]) continue;
        for (int id : nodes[n].inputs)
            if (id >= 0) needed_value[static_cast<std::size_t>(id)] = true;
    }
    return runs;
}

// optimize_for_inference: a linear step whose weight (and bias) are initializers the run
// does not feed gets a packed kernel; a ReLU step that is the sole reader of its output
// (not fetched) joins it and is dropped.
void pack_linear_steps(const Graph& g, std::vector<PlanStep>& steps, const std::vector<bool>& fed,
                       const std::vector<bool>& fetched) {
    std::vector<bool> frozen(g.values().size(), false);
    for (const auto& [id, data] : g.initializers())
        frozen[static_cast<std::size_t>(id)] = !fed[static_cast<std::size_t>(id)] && data.defined() && data.dtype() == kFloat32;
    std::vector<int> readers(g.values().size(), 0);
    for (const PlanStep& step : steps)
        for (int id : step.inputs)
            if (id >= 0) ++readers[static_cast<std::size_t>(id)];
    auto kind = [&](const PlanStep& step) -> const std::string& { return g.nodes()[static_cast<std::size_t>(step.node)].kind; };
    std::vector<bool> dropped(steps.size(), false);
    for (std::size_t s = 0; s < steps.size(); ++s) {
        PlanStep& step = steps[s];
        if (step.kernel == nullptr || kind(step) != "linear" || step.inputs.size() != 3 || step.outputs.size() != 1) continue;
        const int w = step.inputs[1], b = step.inputs[2], y = step.outputs[0];
        if (w < 0 || !frozen[static_cast<std::size_t>(w)] || (b >= 0 && !frozen[static_cast<std::size_t>(b)]) || y < 0) continue;
        step.packed = std::make_shared<PackedLinearStep>();
        if (fetched[static_cast<std::size_t>(y)] || readers[static_cast<std::size_t>(y)] != 1) continue;
        for (std::size_t r = s + 1; r < steps.size(); ++r) {
            PlanStep& reader = steps[r];
            if (std::find(reader.inputs.begin(), reader.inputs.end(), y) == reader.inputs.end()) continue;
            if (reader.kernel != nullptr && kind(reader) == "relu" && reader.outputs.size() == 1 && reader.outputs[0] >= 0) {
                step.packed->relu = true;
                step.outputs = reader.outputs;
                dropped[r] = true;
            }
            break;
        }
    }
    std::size_t kept = 0;
    for (std::size_t s = 0; s < steps.size(); ++s) {
        if (dropped[s]) continue;
        if (kept != s) steps[kept] = std::move(steps[s]);  // (a self-move would empty its vectors)
        ++kept;
    }
    steps.resize(kept);
}

// The packed step's output, or an undefined tensor when the packed kernel cannot serve
// these arguments (the caller then runs the node's eager kernel).
Tensor run_packed_linear(PackedLinearStep& packed, const std::vector<Tensor>& args) {
    const Tensor &x = args[0], &w = args[1], &b = args[2];
    auto plain_float = [](const Tensor& t, std::int64_t dims) {
        return t.defined() && t.dtype() == kFloat32 && t.is_contiguous() && (dims < 0 || t.dim() == dims);
    };
    if (!plain_float(x, -1) || x.dim() < 1 || !plain_float(w, 2) || w.size(0) <= 0 || w.size(1) <= 0 ||
        x.size(-1) != w.size(1) || (b.defined() && (!plain_float(b, 1) || b.size(0) != w.size(0))))
        return {};
    const std::int64_t rows = x.numel() / w.size(1);
    std::call_once(packed.made, [&] {
        packed.kernel = tg::detail::PackedLinear::make(rows, w.size(1), w.size(0), b.defined(), packed.relu);
        packed.rows = rows;
    });
    if (!packed.kernel || packed.rows != rows) return {};
    Shape shape = x.sizes();
    shape[shape.size() - 1] = w.size(0);
    Tensor y = empty(shape, kFloat32);
    if (!packed.kernel->run(x.data_ptr<float>(), impl_of(w).storage(), w.data_ptr<float>(),
                            b.defined() ? b.data_ptr<float>() : nullptr, y.data_ptr<float>()))
        return {};
    return y;
}

std::unique_ptr<ExecutionPlan> make_plan(const Graph& g, std::vector<int> fetch_ids, std::vector<int> fed_ids) {
    auto plan = std::make_unique<ExecutionPlan>();
    const std::size_t V = g.values().size();
    const auto& nodes = g.nodes();
    std::vector<bool> fed(V, false), fetched(V, false);
    for (int id : fed_ids) fed[static_cast<std::size_t>(id)] = true;
    for (int id : fetch_ids) fetched[static_cast<std::size_t>(id)] = true;
    const std::vector<bool> runs = needed_nodes(g, fetch_ids, fed);

    std::vector<bool> read(V, false);
    for (std::size_t n = 0; n < nodes.size(); ++n)
        if (runs[n])
            for (int id : nodes[n].inputs)
                if (id >= 0) read[static_cast<std::size_t>(id)] = true;
    for (int id : fetch_ids) read[static_cast<std::size_t>(id)] = true;
    for (int id : g.inputs())
        TG_CHECK(!read[static_cast<std::size_t>(id)] || fed[static_cast<std::size_t>(id)], "jit",
                 "placeholder '{}' ({}) must be fed: the fetches depend on it", g.value(id).name, shape_text(g.value(id)));
    const auto& inits = g.initializers();
    for (std::size_t k = 0; k < inits.size(); ++k)
        if (read[static_cast<std::size_t>(inits[k].first)] && !fed[static_cast<std::size_t>(inits[k].first)])
            plan->initializer_slots.push_back(k);

    // Steps: each node that runs, except fused members, which run as their group at its last member.
    plan->groups = fusion_groups(g, runs, fetched);
    std::vector<int> group_at(nodes.size(), -1);
    std::vector<bool> in_group(nodes.size(), false);
    for (std::size_t k = 0; k < plan->groups.size(); ++k) {
        for (int m : plan->groups[k].members) in_group[static_cast<std::size_t>(m)] = true;
        group_at[static_cast<std::size_t>(plan->groups[k].members.back())] = static_cast<int>(k);
    }
    for (std::size_t n = 0; n < nodes.size(); ++n) {
        if (!runs[n]) continue;
        ++plan->node_count;
        PlanStep step;
        step.node = static_cast<int>(n);
        if (group_at[n] >= 0) {
            const FusedGroup& group = plan->groups[static_cast<std::size_t>(group_at[n])];
            step.group = group_at[n];
            step.inputs = group.externals;
            step.outputs = {group.output};
        } else if (in_group[n]) {
            continue;
        } else {
            step.kernel = find_kernel(nodes[n].kind);
            TG_CHECK(step.kernel != nullptr, "jit", "node kind '{}' has no executor kernel", nodes[n].kind);
            step.inputs = nodes[n].inputs;
            step.outputs = nodes[n].outputs;
        }
        for (int& id : step.outputs)
            if (id >= 0 && fed[static_cast<std::size_t>(id)]) id = -1;  // a fed value keeps its feed
        plan->steps.push_back(std::move(step));
    }
    if (g.optimized_for_inference()) pack_linear_steps(g, plan->steps, fed, fetched);
    // Release points: after the last step that reads a value; a value no step reads, after
    // the step that makes it. Fetched values stay.
    std::vector<int> last_reader(V, -1);
    for (std::size_t s = 0; s < plan->steps.size(); ++s) {
        for (int id : plan->steps[s].inputs)
            if (id >= 0) last_reader[static_cast<std::size_t>(id)] = static_cast<int>(s);
        for (int id : plan->steps[s].outputs)
            if (id >= 0 && last_reader[static_cast<std::size_t>(id)] < 0) last_reader[static_cast<std::size_t>(id)] = static_cast<int>(s);
    }
    for (std::size_t id = 0; id < V; ++id)
        if (last_reader[id] >= 0 && !fetched[id])
            plan->steps[static_cast<std::size_t>(last_reader[id])].release.push_back(static_cast<int>(id));

    plan->fetch_ids = std::move(fetch_ids);
    plan->fed_ids = std::move(fed_ids);
    return plan;
}

bool matches(const ExecutionPlan& plan, const Feeds& feeds, const std::vector<std::string>* fetches, int threads) {
    if (plan.threads != threads || plan.all_outputs != (fetches == nullptr) || plan.fed_names.size() != feeds.size() ||
        (fetches != nullptr && plan.fetch_names != *fetches))
        return false;
    std::size_t k = 0;
    for (const auto& [name, t] : feeds) {
        if (plan.fed_names[k] != name || !t.defined() || plan.fed_shapes[k] != t.sizes() || plan.fed_dtypes[k] != t.dtype() ||
            plan.fed_contiguous[k] != t.is_contiguous())
            return false;
        ++k;
    }
    return true;
}

// Checks the feeds against their values and makes the plan for them.
std::unique_ptr<ExecutionPlan> plan_for(const Graph& g, const Feeds& feeds, const std::vector<std::string>* fetches,
                                        int threads) {
    std::vector<int> fed_ids, fetch_ids;
    for (const auto& [name, tensor] : feeds) {
        const int id = g.find(name);
        const Value& v = g.value(id);
        TG_CHECK(tensor.defined(), "jit", "the feed for '{}' is an undefined tensor", name);
        bool shape_ok = tensor.dim() == static_cast<std::int64_t>(v.shape.size()) && tensor.dtype() == v.dtype;
        for (std::size_t d = 0; shape_ok && d < v.shape.size(); ++d)
            shape_ok = tensor.sizes()[d] == v.shape[d] || (d == 0 && v.dynamic_batch);
        TG_CHECK(shape_ok, "jit", "the feed for '{}' is {}{}, expected {}", name, dtype_name(tensor.dtype()), tensor.sizes(),
                 shape_text(v));
        fed_ids.push_back(id);
    }
    if (fetches == nullptr) fetch_ids = g.outputs();
    else
        for (const auto& name : *fetches) fetch_ids.push_back(g.find(name));
    auto plan = make_plan(g, std::move(fetch_ids), std::move(fed_ids));
    plan->all_outputs = fetches == nullptr;
    if (fetches != nullptr) plan->fetch_names = *fetches;
    for (const auto& [name, t] : feeds) {
        plan->fed_names.push_back(name);
        plan->fed_shapes.push_back(t.sizes());
        plan->fed_dtypes.push_back(t.dtype());
        plan->fed_contiguous.push_back(t.is_contiguous());
    }
    plan->threads = threads;
    return plan;
}

// Holds the plan's arena for this run, if no other run has it.
class ArenaClaim {
public:
    explicit ArenaClaim(ExecutionPlan& plan) : plan_(plan), owned_(!plan.busy.exchange(true, std::memory_order_acquire)) {}
    ~ArenaClaim() {
        if (owned_) plan_.busy.store(false, std::memory_order_release);
    }
    ArenaClaim(const ArenaClaim&) = delete;
    ArenaClaim& operator=(const ArenaClaim&) = delete;
    bool owned() const { return owned_; }

private:
    ExecutionPlan& plan_;
    bool owned_;
};

const void* storage_data(const Tensor& t) { return impl_of(t).storage()->data; }

}  // namespace

std::vector<Tensor> execute(const Graph& g, ExecutorState& state, const Feeds& feeds, const std::vector<std::string>* fetches) {
    TG_CHECK(!tg::detail::active_tracer(), "jit", "Graph::run inside trace() is not traceable");
    const std::size_t V = g.values().size();
    ExecutionPlan* plan = nullptr;
    {
        const int threads = get_num_threads();
        std::lock_guard<std::mutex> lock(state.mutex);
        for (const auto& p : state.plans)
            if (matches(*p, feeds, fetches, threads)) plan = p.get();
        if (plan == nullptr) {
            state.plans.push_back(plan_for(g, feeds, fetches, threads));
            plan = state.plans.back().get();
        }
    }

    std::vector<Tensor> env(V);
    std::size_t k = 0;
    for (const auto& [name, tensor] : feeds)
        env[static_cast<std::size_t>(plan->fed_ids[k++])] = tensor.requires_grad() ? tensor.detach() : tensor;
    for (std::size_t slot : plan->initializer_slots) {
        const auto& [id, data] = g.initializers()[slot];
        env[static_cast<std::size_t>(id)] = data;
    }

    // The arena: recorded on the plan's first run, used on the later ones; a run that finds
    // another run holding it allocates as eager code does.
    ArenaClaim claim(*plan);
    std::unique_ptr<BlockRecorder> recorder;
    tg::detail::BlockSource* source = nullptr;
    if (claim.owned()) {
        if (!plan->recorded) {
            recorder = std::make_unique<BlockRecorder>();
            source = recorder.get();
        } else {
            plan->arena.rewind();
            source = &plan->arena;
        }
    }
    // Which block each value's storage came from (the recording run only).
    std::vector<int> block_of_value(recorder ? V : 0, -1);

    NoGradGuard no_grad;
    std::vector<Tensor> args, results;
    {
        tg::detail::ScopedBlockSource scoped(source);
        for (std::size_t s = 0; s < plan->steps.size(); ++s) {
            const PlanStep& step = plan->steps[s];
            if (recorder) recorder->begin_step(static_cast<int>(s));
            const bool arena_clean = source == &plan->arena && !plan->arena.diverged();
            args.clear();
            for (int id : step.inputs) args.push_back(id >= 0 ? env[static_cast<std::size_t>(id)] : Tensor());
            results.clear();
            if (step.group >= 0) {
                const FusedGroup& group = plan->groups[static_cast<std::size_t>(step.group)];
                Tensor out = run_fused(group, args);
                if (out.defined()) {
                    results.push_back(std::move(out));
                } else {  // inputs not of the fused shapes: the members one by one
                    std::vector<Tensor> local(V);
                    for (std::size_t e = 0; e < group.externals.size(); ++e) local[static_cast<std::size_t>(group.externals[e])] = args[e];
                    for (int m : group.members) {
                        const Node& node = g.nodes()[static_cast<std::size_t>(m)];
                        std::vector<Tensor> in;
                        for (int id : node.inputs) in.push_back(local[static_cast<std::size_t>(id)]);
                        local[static_cast<std::size_t>(node.outputs[0])] = (*find_kernel(node.kind))(node, in)[0];
                    }
                    results.push_back(local[static_cast<std::size_t>(group.output)]);
                }
            } else if (Tensor y = step.packed ? run_packed_linear(*step.packed, args) : Tensor(); y.defined()) {
                results.push_back(std::move(y));
            } else {
                const Node& node = g.nodes()[static_cast<std::size_t>(step.node)];
                results = (*step.kernel)(node, args);
                TG_CHECK(results.size() >= node.outputs.size(), "jit", "kernel '{}' returned {} tensors, the node has {} outputs",
                         node.kind, results.size(), node.outputs.size());
                if (step.packed && step.packed->relu) results[0] = relu(results[0]);  // the ReLU it absorbed
            }
            args.clear();
            bool diverged_here = false;
            if (arena_clean) {
                plan->arena.end_step(static_cast<int>(s));
                diverged_here = plan->arena.diverged();
            }
            for (std::size_t k = 0; k < step.outputs.size(); ++k) {
                const int id = step.outputs[k];
                if (id < 0 || !results[k].defined()) continue;
                Tensor& slot = env[static_cast<std::size_t>(id)];
                slot = std::move(results[k]);
                // A step that took other blocks than recorded may have put its output where a
                // shorter-lived block was planned: move it out of the arena.
                if (diverged_here && plan->arena.holds(storage_data(slot))) slot = slot.clone();
                if (recorder) block_of_value[static_cast<std::size_t>(id)] = recorder->block_of(storage_data(slot));
            }
            for (int id : step.release) env[static_cast<std::size_t>(id)] = Tensor();
        }
    }
    state.last_run_nodes.store(plan->node_count, std::memory_order_relaxed);

    if (recorder) {
        // Lifetimes: a block lives until the last step reading a value held in it; a block
        // holding a fetched value leaves the arena (it goes to the caller).
        auto& blocks = recorder->blocks();
        std::vector<int> last_read(V, -1);
        for (std::size_t s = 0; s < plan->steps.size(); ++s)
            for (int id : plan->steps[s].inputs)
                if (id >= 0) last_read[static_cast<std::size_t>(id)] = static_cast<int>(s);
        for (std::size_t id = 0; id < V; ++id) {
            const int b = block_of_value[id];
            if (b < 0) continue;
            PlannedBlock& block = blocks[static_cast<std::size_t>(b)];
            block.last_step = std::max(block.last_step, last_read[id]);
        }
        for (int id : plan->fetch_ids)
            if (const int b = block_of_value[static_cast<std::size_t>(id)]; b >= 0) blocks[static_cast<std::size_t>(b)].offset = -1;
        plan->arena.lay_out(std::move(blocks));
        plan->recorded = true;
    } else if (source == &plan->arena && plan->arena.diverged()) {
        plan->recorded = false;  // record again on the next run
    }

    std::vector<Tensor> out;
    out.reserve(plan->fetch_ids.size());
    for (int id : plan->fetch_ids) out.push_back(env[static_cast<std::size_t>(id)]);
    return out;
}

std::vector<FusedGroup> output_fusion(const Graph& g) {
    std::vector<bool> fed(g.values().size(), false), fetched(g.values().size(), false);
    for (int id : g.inputs()) fed[static_cast<std::size_t>(id)] = true;
    for (int id : g.outputs()) fetched[static_cast<std::size_t>(id)] = true;
    return fusion_groups(g, needed_nodes(g, g.outputs(), fed), fetched);
}

std::shared_ptr<ExecutorState> new_executor_state() { return std::make_shared<ExecutorState>(); }

}  // namespace tg::jit::detail
