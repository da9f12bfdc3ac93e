// nn::model_summary: Keras' model.summary() for a tapegrad module, from one example forward
// pass watched through Module::operator() (the module-call observers of scope.hpp).
#include <algorithm>
#include <array>
#include <ostream>
#include <sstream>
#include <unordered_set>

#include "autograd/scope.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/debug.hpp"
#include "tensor/check.hpp"

namespace tg::nn {

namespace {

struct Recorder final : detail::ModuleCallObserver {
    const Module* root = nullptr;
    std::string root_path;
    bool root_seen = false;
    std::vector<LayerSummary> rows;
    std::vector<std::size_t> open;  // rows whose forward is running (a stack)

    std::string relative(const std::string& path) const {
        if (root_path.empty()) return path;
        if (path.size() > root_path.size() && path.compare(0, root_path.size(), root_path) == 0 &&
            path[root_path.size()] == '/')
            return path.substr(root_path.size() + 1);
        return path;
    }

    void on_enter(const Module& module, const std::string& path) override {
        if (&module == root && !root_seen) {
            root_seen = true;
            root_path = path;
            open.push_back(static_cast<std::size_t>(-1));
            return;
        }
        LayerSummary row;
        row.path = relative(path);
        row.type = module.type_name();
        for (const Tensor& p : module.parameters(/*recurse=*/false)) {
            row.params += p.numel();
            if (p.requires_grad()) row.trainable_params += p.numel();
        }
        row.depth = static_cast<int>(open.size());
        open.push_back(rows.size());
        rows.push_back(std::move(row));
    }

    void on_call(const Module&, const std::string&, const Tensor&, const Tensor& output) override {
        if (open.empty()) return;
        const std::size_t index = open.back();
        open.pop_back();
        if (index != static_cast<std::size_t>(-1) && output.defined())
            rows[index].output_shape = output.sizes();
    }
};

struct ObserverGuard {
    detail::ModuleCallObserver* observer;
    explicit ObserverGuard(detail::ModuleCallObserver* o) : observer(o) { detail::add_module_observer(o); }
    ~ObserverGuard() { detail::remove_module_observer(observer); }
};

std::string with_commas(std::int64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    const int len = static_cast<int>(digits.size());
    for (int i = 0; i < len; ++i) {
        if (i > 0 && (len - i) % 3 == 0) out += ',';
        out += digits[static_cast<std::size_t>(i)];
    }
    return out;
}

}  // namespace

ModelSummary model_summary(Module& model, const Tensor& example_input) {
    detail::check_defined(example_input, "nn::model_summary");
    ModelSummary result;
    result.model_type = model.type_name();
    result.input_shape = example_input.sizes();
    Recorder recorder;
    recorder.root = &model;
    // Run in eval mode (BatchNorm's running statistics must not move, Dropout draws
    // nothing; shapes are the same), then put every module back in its own mode.
    std::vector<std::pair<Module*, bool>> modes{{&model, model.is_training()}};
    for (const auto& [name, child] : model.named_modules()) modes.emplace_back(child.get(), child->is_training());
    struct RestoreModes {
        std::vector<std::pair<Module*, bool>>& modes;
        ~RestoreModes() {
            for (auto& [m, on] : modes) m->train(on);  // pre-order: descendants last
        }
    } restore{modes};
    model.eval();
    {
        NoGradGuard no_grad;
        ObserverGuard guard(&recorder);
        Tensor output = model(example_input);
        if (output.defined()) result.output_shape = output.sizes();
    }
    result.layers = std::move(recorder.rows);
    // Totals over the model's parameters, each tensor once (shared / tied weights).
    std::unordered_set<const void*> seen;
    for (const Tensor& p : model.parameters()) {
        if (!seen.insert(p.unsafe_impl()).second) continue;
        result.total_params += p.numel();
        (p.requires_grad() ? result.trainable_params : result.non_trainable_params) += p.numel();
    }
    for (const Tensor& b : model.buffers()) result.buffer_elements += b.numel();
    return result;
}

std::string ModelSummary::table() const {
    std::vector<std::array<std::string, 3>> cells;
    for (const LayerSummary& layer : layers) {
        std::string name = std::string(static_cast<std::size_t>(2 * (layer.depth - 1)), ' ');
        const auto slash = layer.path.rfind('/');
        name += (slash == std::string::npos ? layer.path : layer.path.substr(slash + 1));
        name += " (" + layer.type + ")";
        cells.push_back({name, fmt::format("{}", layer.output_shape), with_commas(layer.params)});
    }
    std::size_t w0 = std::string("Layer (type)").size(), w1 = std::string("Output Shape").size();
    for (const auto& row : cells) {
        w0 = std::max(w0, row[0].size());
        w1 = std::max(w1, row[1].size());
    }
    w0 += 4;
    w1 += 4;
    const std::size_t width = std::max<std::size_t>(w0 + w1 + 12, 40);
    const std::string rule(width, '_'), double_rule(width, '=');
    std::ostringstream os;
    os << "Model: \"" << model_type << "\"\n" << rule << "\n";
    os << fmt::format(" {:<{}}{:<{}}{}\n", "Layer (type)", w0 - 1, "Output Shape", w1, "Param #");
    os << double_rule << "\n";
    for (std::size_t i = 0; i < cells.size(); ++i) {
        os << fmt::format(" {:<{}}{:<{}}{}\n", cells[i][0], w0 - 1, cells[i][1], w1, cells[i][2]);
        if (i + 1 < cells.size() && layers[i + 1].depth == 1) os << "\n";
    }
    os << double_rule << "\n";
    os << "Total params: " << with_commas(total_params) << "\n";
    os << "Trainable params: " << with_commas(trainable_params) << "\n";
    os << "Non-trainable params: " << with_commas(non_trainable_params) << "\n";
    if (buffer_elements > 0) os << "Buffers (not trained): " << with_commas(buffer_elements) << "\n";
    os << fmt::format("Input shape: {}  Output shape: {}\n", input_shape, output_shape);
    os << rule << "\n";
    return os.str();
}

std::ostream& operator<<(std::ostream& os, const ModelSummary& summary) { return os << summary.table(); }

}  // namespace tg::nn
