// Debugging aids (see docs/debugging.md): anomaly mode, the tape as text / Graphviz,
// nn::model_summary (Keras' model.summary), gradient and activation statistics.
//
//   tg::autograd::DetectAnomalyGuard anomaly;   // NaN/Inf -> tg::Error naming the op
//   tg::print_tape(loss, std::cout);            // what backward() will run
//   std::ofstream("tape.dot") << tg::to_dot(loss);   // dot -Tpng tape.dot -o tape.png
//   std::cout << tg::nn::model_summary(model, x);     // layers, output shapes, parameter counts
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/serialize.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

namespace summary {
class SummaryWriter;
}

namespace autograd {

// Anomaly detection (libtorch's): while enabled, the first recorded op whose forward
// output holds NaN/Inf, or whose backward produces a NaN/Inf gradient for an input, throws
// tg::Error naming the op, its input shapes, its scope / module path and the user-given
// names (Tensor::set_name) of its inputs. Off by default; when off it costs one load of a
// flag per recorded op. Global (all threads), like libtorch's.
struct AnomalyMode {
    static bool is_enabled();
    static void set_enabled(bool enabled);
};

// Turns anomaly mode on for its lifetime (restores the previous state after).
class DetectAnomalyGuard {
public:
    DetectAnomalyGuard() : previous_(AnomalyMode::is_enabled()) { AnomalyMode::set_enabled(true); }
    ~DetectAnomalyGuard() { AnomalyMode::set_enabled(previous_); }
    DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
    DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

private:
    bool previous_;
};

}  // namespace autograd

// The tape behind `output` (what backward() would run), in creation order, one line per
// node:
//   %0 = leaf 'fc1.weight' [3, 4] float32
//   %1 = mm(-, %0) -> [2, 4] float32  saved 96 B  scope encoder/fc1
// An input that requires grad shows the node producing it (%id); one that needs no gradient
// shows as "-". Leaves (variables) are named from `parameters` (dotted names), else from
// the variable store (tg::global_variables()). `output` must require grad.
void print_tape(const Tensor& output, std::ostream& os, const NamedTensors& parameters = {});
std::string tape_string(const Tensor& output, const NamedTensors& parameters = {});
// The same graph in Graphviz DOT: one box per op (op, scope, output shape, dtype, which
// inputs require grad, saved bytes), ellipses for leaves, edges input -> consumer
// labelled with the input's position. Render: `dot -Tpng tape.dot -o tape.png`.
std::string to_dot(const Tensor& output, const NamedTensors& parameters = {});

namespace nn {

// One row of model_summary(): a module that was called during the example forward pass.
struct LayerSummary {
    std::string path;        // "encoder/conv1" (module path, '/'-separated)
    std::string type;        // "Conv2d"
    Shape output_shape;
    std::int64_t params = 0;            // its own parameters (not its children's)
    std::int64_t trainable_params = 0;
    int depth = 0;                      // nesting depth (1 = direct child of the model)
};

struct ModelSummary {
    std::string model_type;
    std::vector<LayerSummary> layers;   // in call order
    Shape input_shape;
    Shape output_shape;
    std::int64_t total_params = 0;      // every parameter of the model
    std::int64_t trainable_params = 0;
    std::int64_t non_trainable_params = 0;
    std::int64_t buffer_elements = 0;   // BatchNorm running stats etc. (not parameters)
    // The Keras-style table.
    std::string table() const;
};
std::ostream& operator<<(std::ostream& os, const ModelSummary& summary);

// Runs `model(example_input)` once (no grad, in eval mode so BatchNorm's running
// statistics do not move; each module's train/eval mode is restored after) and
// records every module called through operator() with its output shape and parameter
// count (Keras' model.summary(); TF-1's tf.global_variables() listing).
ModelSummary model_summary(Module& model, const Tensor& example_input);

}  // namespace nn

namespace debug {

// The L2 norm of each parameter's .grad() (dotted names; parameters without a gradient
// are left out), e.g. after backward() to spot vanishing / exploding gradients.
std::vector<std::pair<std::string, double>> grad_norms(const nn::Module& model);
// Prints the grad norms as a table.
std::string grad_norms_table(const nn::Module& model);
// Logs each grad norm as the scalar "<prefix>/<name>" (dots become '/').
void log_grad_norms(const nn::Module& model, summary::SummaryWriter& writer, std::int64_t step,
                    const std::string& prefix = "grad_norm");

// Watches every module of `model` whose type is in `types` (default: ReLU) while alive:
// each call through operator() adds its output's element count and zero count
// (the seed's "dead / saturated units"). Per thread; not copyable.
class ActivationStats {
public:
    struct Entry {
        std::string type;
        std::int64_t calls = 0;
        std::int64_t elements = 0;
        std::int64_t zeros = 0;
        double zero_fraction() const {
            return elements == 0 ? 0.0 : static_cast<double>(zeros) / static_cast<double>(elements);
        }
    };

    explicit ActivationStats(const nn::Module& model, std::vector<std::string> types = {"ReLU"});
    ~ActivationStats();
    ActivationStats(const ActivationStats&) = delete;
    ActivationStats& operator=(const ActivationStats&) = delete;

    // By module path ("encoder/act"); modules not called yet have no entry.
    const std::map<std::string, Entry>& entries() const;
    void reset();
    std::string table() const;
    // Logs "<prefix>/<path>/zero_fraction" for each watched module.
    void log(summary::SummaryWriter& writer, std::int64_t step,
             const std::string& prefix = "activations") const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};
std::ostream& operator<<(std::ostream& os, const ActivationStats& stats);

}  // namespace debug
}  // namespace tg

TG_PUBLIC_END
