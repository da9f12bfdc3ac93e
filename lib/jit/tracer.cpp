// trace(): runs the function once with a GraphTracer installed (tensor/trace.hpp) and
// turns what the ops reported into a Graph, pruned to what the outputs need.
//
// How an op without a hook is caught: the tracer knows every tensor it was told about
// (inputs, parameters, factory constants, op outputs; it keeps them alive so an address
// is never reused for another tensor). A tensor reaching a traced op or the outputs that
// it does not know, and that was made during the trace (the tracer hears of every new
// TensorImpl; addresses of tensors alive before the trace cannot be reused while they live),
// was made by something that did not report: an error naming the consumer and, when the
// tensor is on the tape, the op that made it.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "autograd/scope.hpp"
#include "jit/kernels.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/error.hpp"
#include "tensor/check.hpp"
#include "tapegrad/jit.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/tensor_impl.hpp"
#include "tensor/trace.hpp"

namespace tg::jit {

namespace {

// Kinds whose "shape" attribute may carry the batch size (see infer_batch_entry).
bool is_reshape(std::string_view kind) { return kind == "reshape" || kind == "view"; }

class GraphTracer final : public tg::detail::Tracer {
public:
    GraphTracer(const TraceOptions& options, std::int64_t batch) : options_(options), batch_(batch) {
        for (const auto& [name, t] : options.parameters)
            if (t.defined()) parameter_names_.emplace(&impl_of(t), name);
    }

    int add_input(const Tensor& t, const std::string& name) {
        const int id = graph_.add_value({name, t.sizes(), t.dtype(), options_.dynamic_batch && t.dim() > 0});
        graph_.add_input(id);
        remember(t, id);
        if (options_.dynamic_batch) batch_dependent_.insert(id);
        return id;
    }

    void op(std::string_view kind, std::vector<Tensor> inputs, std::vector<Tensor> outputs,
            tg::detail::TraceAttrs attrs) override {
        Suspend suspend;
        TG_CHECK(detail::find_kernel(kind) != nullptr, "trace",
                 "op '{}' reports itself to the tracer but the graph executor has no kernel for it "
                 "(lib/jit/kernels.cpp)",
                 kind);
        Node node;
        node.kind = std::string(kind);
        bool dynamic = false;  // depends on a placeholder with a dynamic batch
        for (const auto& t : inputs) {
            const int id = value_of(t, kind);
            node.inputs.push_back(id);
            if (id >= 0 && batch_dependent_.count(id)) dynamic = true;
        }
        for (auto& [name, attr] : attrs) node.attributes.emplace_back(name, std::move(attr.value));
        if (dynamic && is_reshape(kind)) infer_batch_entry(node);
        const std::string base = unique_name(kind);
        for (std::size_t k = 0; k < outputs.size(); ++k) {
            const Tensor& out = outputs[k];
            if (!out.defined()) {
                node.outputs.push_back(-1);
                continue;
            }
            const bool batch_dim = dynamic && out.dim() > 0 && out.size(0) == batch_;
            const std::string name = k == 0 ? base : fmt::format("{}:{}", base, k);
            const int id = graph_.add_value({name, out.sizes(), out.dtype(), batch_dim});
            node.outputs.push_back(id);
            remember(out, id);
            if (dynamic) batch_dependent_.insert(id);
        }
        graph_.add_node(std::move(node));
    }

    void created(const TensorImpl* impl) override { created_.insert(impl); }

    void constant(const Tensor& t) override {
        Suspend suspend;
        constants_.emplace(&impl_of(t), Constant{t, t.clone()});
    }

    void assigned(const Tensor& target, const Tensor& value) override {
        Suspend suspend;
        remember(target, value_of(value, "an in-place write"));
    }

    void untraceable(std::string_view what, const Tensor& t) override {
        Suspend suspend;
        if (!t.defined() || constant_or_outside(t)) return;  // reading a constant is fine
        throw Error(fmt::format(
            "trace: {}() reads the value of a traced tensor of shape {}: control flow or sizes that depend on "
            "data cannot be recorded in a graph (the graph would replay this example's branch for every "
            "input); compute it outside the traced function or with tensor ops (where, masks)",
            what, t.sizes()));
    }

    // The function's outputs; then the graph is pruned to what they need.
    Graph finish(const std::vector<Tensor>& outputs) {
        Suspend suspend;
        for (std::size_t k = 0; k < outputs.size(); ++k) {
            TG_CHECK(outputs[k].defined(), "trace", "output {} of the traced function is an undefined tensor", k);
            const int id = value_of(outputs[k], "output");
            graph_.add_output(id);
        }
        return prune();
    }

private:
    // While the tracer works (clones, comparisons) the ops it calls are not traced.
    struct Suspend {
        Suspend() : previous(tg::detail::exchange_tracer(nullptr)) {}
        ~Suspend() { tg::detail::exchange_tracer(previous); }
        tg::detail::Tracer* previous;
    };
    struct Known {
        int id;
        Tensor keep;  // held so that the address is not reused during the trace
        std::uint64_t version;
    };
    struct Constant {
        Tensor keep, snapshot;
    };

    // A reshape of a batch-dependent value whose target has exactly one entry equal to the
    // traced batch size gets -1 there, so the graph reshapes any batch (x.reshape({x.size(0),
    // -1}) traced at batch 8 records [8, 784]; replayed at batch 3 that would be wrong).
    void infer_batch_entry(Node& node) const {
        for (auto& [name, attr] : node.attributes) {
            if (name != "shape") continue;
            auto& shape = std::get<std::vector<std::int64_t>>(attr);
            const auto hits = std::count(shape.begin(), shape.end(), batch_);
            if (hits == 1) *std::find(shape.begin(), shape.end(), batch_) = -1;
        }
    }

    void remember(const Tensor& t, int id) { known_[&impl_of(t)] = Known{id, t, t.version()}; }

    bool constant_or_outside(const Tensor& t) const {
        const TensorImpl* impl = &impl_of(t);
        if (known_.count(impl)) {
            const int id = known_.at(impl).id;
            return initializer_ids_.count(id) != 0;
        }
        return constants_.count(impl) || !created_.count(impl);
    }

    std::string unique_name(std::string_view kind) {
        const auto& scope = tg::detail::current_scope_path();
        const std::string stem = scope && !scope->empty() ? *scope + "/" + std::string(kind) : std::string(kind);
        return fmt::format("{}_{}", stem, counters_[stem]++);
    }

    // `data` (default: t itself, sharing its storage) becomes the initializer's value.
    int add_initializer(const Tensor& t, std::string name, const Tensor& data = {}) {
        const int id = graph_.add_value({std::move(name), t.sizes(), t.dtype(), false});
        graph_.add_initializer(id, data.defined() ? data : t.detach());
        initializer_ids_.insert(id);
        remember(t, id);
        return id;
    }

    int value_of(const Tensor& t, std::string_view consumer) {
        if (!t.defined()) return -1;
        const TensorImpl* impl = &impl_of(t);
        if (auto it = known_.find(impl); it != known_.end()) {
            if (it->second.version == t.version()) return it->second.id;
            return poisoned(t, fmt::format(
                "trace: '{}' reads a tensor of shape {} that was modified in place after '{}' produced it, by an op "
                "the tracer did not see; use the out-of-place op inside traced functions",
                consumer, t.sizes(), graph_.value(it->second.id).name));
        }
        if (auto it = parameter_names_.find(impl); it != parameter_names_.end())
            return add_initializer(t, it->second);
        if (auto it = constants_.find(impl); it != constants_.end()) {
            if (!tg::equal(t, it->second.snapshot))
                return poisoned(t, fmt::format(
                    "trace: '{}' reads a tensor of shape {} made by a factory (zeros, full, ...) and then written by "
                    "an op without a trace hook or through data_ptr; the graph cannot record that write",
                    consumer, t.sizes()));
            // The value it was made with: an in-place write the function does later (traced as
            // its out-of-place op) must not reach the constant through shared storage.
            return add_initializer(t, fmt::format("const_{}", constant_count_++), it->second.snapshot);
        }
        if (!created_.count(impl)) return add_initializer(t, fmt::format("const_{}", constant_count_++));
        const auto& fn = t.grad_fn();
        return poisoned(t, fmt::format(
            "trace: '{}' reads a tensor of shape {} ({}) that no traced op produced{}: the op that made it has "
            "no trace hook (TG_TRACE, tensor/trace.hpp) or wrote it through data_ptr, so the graph cannot "
            "record it. Traceable kinds: see tg::jit::traceable_kinds()",
            consumer, t.sizes(), dtype_name(t.dtype()),
            fn ? fmt::format(" (it was made by '{}')", fn->name()) : std::string()));
    }

    // A value the graph cannot reproduce. Inside a composite op (whose own node replaces
    // its inner ones) that is harmless; it is an error only if the outputs depend on it.
    int poisoned(const Tensor& t, std::string why) {
        const int id = graph_.add_value({fmt::format("untraced_{}", poison_.size()), t.sizes(), t.dtype(), false});
        poison_.emplace(id, std::move(why));
        remember(t, id);
        return id;
    }

    // Keeps the nodes the outputs depend on (a composite op's inner nodes drop out here:
    // the composite's own node replaced their outputs) and renumbers the values.
    Graph prune() {
        std::vector<bool> live(graph_.values().size(), false);
        for (int id : graph_.outputs()) live[static_cast<std::size_t>(id)] = true;
        const auto& nodes = graph_.nodes();
        std::vector<bool> keep(nodes.size(), false);
        for (std::size_t n = nodes.size(); n-- > 0;) {
            for (int id : nodes[n].outputs)
                if (id >= 0 && live[static_cast<std::size_t>(id)]) keep[n] = true;
            if (!keep[n]) continue;
            for (int id : nodes[n].inputs)
                if (id >= 0) live[static_cast<std::size_t>(id)] = true;
        }
        for (const auto& [id, why] : poison_)
            if (live[static_cast<std::size_t>(id)]) throw Error(why);
        Graph out;
        std::vector<int> remap(graph_.values().size(), -1);
        auto map = [&](int id) {
            if (id < 0) return -1;
            auto& r = remap[static_cast<std::size_t>(id)];
            if (r < 0) r = out.add_value(graph_.value(id));
            return r;
        };
        // Placeholders are kept even when unused, so feeds keep their meaning.
        for (int id : graph_.inputs()) out.add_input(map(id));
        for (const auto& [id, data] : graph_.initializers())
            if (live[static_cast<std::size_t>(id)]) out.add_initializer(map(id), data);
        for (std::size_t n = 0; n < nodes.size(); ++n) {
            if (!keep[n]) continue;
            Node node = nodes[n];
            for (int& id : node.inputs) id = map(id);
            for (int& id : node.outputs) id = live[static_cast<std::size_t>(id)] || id >= 0 ? map(id) : -1;
            out.add_node(std::move(node));
        }
        for (int id : graph_.outputs()) out.add_output(map(id));
        return out;
    }

    const TraceOptions& options_;
    std::int64_t batch_;
    Graph graph_;
    std::unordered_set<const TensorImpl*> created_;
    std::unordered_map<const TensorImpl*, Known> known_;
    std::unordered_map<const TensorImpl*, Constant> constants_;
    std::unordered_map<const TensorImpl*, std::string> parameter_names_;
    std::unordered_set<int> initializer_ids_;
    std::unordered_set<int> batch_dependent_;
    std::map<int, std::string> poison_;
    std::map<std::string, int> counters_;
    int constant_count_ = 0;
};

// Installs the tracer for the scope of one trace (restored on exceptions too).
struct ActiveTracer {
    explicit ActiveTracer(tg::detail::Tracer* tracer) : previous(tg::detail::exchange_tracer(tracer)) {}
    ~ActiveTracer() { tg::detail::exchange_tracer(previous); }
    tg::detail::Tracer* previous;
};

std::string nth_name(const std::vector<std::string>& names, std::size_t k, const char* stem) {
    if (k < names.size()) return names[k];
    return k == 0 ? std::string(stem) : fmt::format("{}_{}", stem, k);
}

}  // namespace

Graph trace(const TracedFunction& fn, const std::vector<Tensor>& example_inputs, const TraceOptions& options) {
    TG_CHECK(!tg::detail::active_tracer(), "trace", "trace() cannot be nested inside another trace");
    TG_CHECK(!example_inputs.empty(), "trace", "expected at least one example input");
    std::int64_t batch = -1;
    for (const auto& t : example_inputs) {
        TG_CHECK(t.defined(), "trace", "an example input is an undefined tensor");
        if (options.dynamic_batch) {
            TG_CHECK(t.dim() > 0, "trace", "dynamic_batch needs inputs with a batch dim, got shape {}", t.sizes());
            TG_CHECK(batch < 0 || batch == t.size(0), "trace",
                     "dynamic_batch needs inputs of one batch size, got {} and {}", batch, t.size(0));
            batch = t.size(0);
        }
    }
    GraphTracer tracer(options, batch);
    // Each input is traced through a fresh handle of its own, so a tensor passed twice, or
    // also captured by the function, stays one placeholder.
    std::vector<Tensor> inputs;
    for (std::size_t k = 0; k < example_inputs.size(); ++k) {
        inputs.push_back(example_inputs[k].detach());
        tracer.add_input(inputs.back(), nth_name(options.input_names, k, "input"));
    }
    std::vector<Tensor> outputs;
    {
        ActiveTracer active(&tracer);
        outputs = fn(inputs);
    }
    Graph graph = tracer.finish(outputs);
    // Output values get the requested names ("output", "output_1", ... by default) unless
    // one is an input or an initializer passed straight through.
    for (std::size_t k = 0; k < graph.outputs().size(); ++k) {
        const int id = graph.outputs()[k];
        const bool produced = std::any_of(graph.nodes().begin(), graph.nodes().end(), [&](const Node& n) {
            return std::find(n.outputs.begin(), n.outputs.end(), id) != n.outputs.end();
        });
        if (produced) graph.rename(id, nth_name(options.output_names, k, "output"));
    }
    graph.validate();
    return graph;
}

Graph trace(nn::Module& module, const Tensor& example_input, const TraceOptions& options) {
    TraceOptions with_names = options;
    for (auto& p : module.named_parameters()) with_names.parameters.push_back(p);
    for (auto& b : module.named_buffers()) with_names.parameters.push_back(b);
    return trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{module.forward(in[0])}; },
                 {example_input}, with_names);
}

std::vector<std::string> traceable_kinds() { return detail::kernel_kinds(); }

}  // namespace tg::jit
