// Gradient and activation statistics (the seed's "saturating activations" advice):
// per-parameter gradient norms, and the fraction of zero outputs of ReLU-like modules.
#include <algorithm>
#include <cmath>
#include <ostream>
#include <sstream>
#include <unordered_map>

#include <fmt/ranges.h>

#include "autograd/scope.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/debug.hpp"
#include "tapegrad/summary.hpp"
#include "tensor/check.hpp"

namespace tg::debug {

namespace {

std::string slash_path(std::string name) {
    std::replace(name.begin(), name.end(), '.', '/');
    return name;
}

double l2_norm(const Tensor& t) {
    double sum = 0;
    for (double v : t.to_vector<double>()) sum += v * v;
    return std::sqrt(sum);
}

}  // namespace

std::vector<std::pair<std::string, double>> grad_norms(const nn::Module& model) {
    std::vector<std::pair<std::string, double>> out;
    for (const auto& [name, p] : model.named_parameters()) {
        const Tensor g = p.grad();
        if (g.defined()) out.emplace_back(name, l2_norm(g));
    }
    return out;
}

std::string grad_norms_table(const nn::Module& model) {
    const auto norms = grad_norms(model);
    std::size_t width = std::string("parameter").size();
    for (const auto& [name, norm] : norms) width = std::max(width, name.size());
    std::ostringstream os;
    os << fmt::format("{:<{}}  {:>12}\n", "parameter", width, "grad norm");
    for (const auto& [name, norm] : norms) os << fmt::format("{:<{}}  {:>12.6g}\n", name, width, norm);
    if (norms.empty()) os << "(no parameter has a gradient: run backward() first)\n";
    return os.str();
}

void log_grad_norms(const nn::Module& model, summary::SummaryWriter& writer, std::int64_t step,
                    const std::string& prefix) {
    for (const auto& [name, norm] : grad_norms(model))
        writer.add_scalar(prefix + "/" + slash_path(name), norm, step);
}

// ---- ActivationStats -------------------------------------------------------------------------

struct ActivationStats::Impl final : detail::ModuleCallObserver {
    std::unordered_map<const nn::Module*, std::string> watched;  // module -> type
    std::map<std::string, Entry> entries;

    void on_call(const nn::Module& module, const std::string& path, const Tensor&,
                 const Tensor& output) override {
        auto it = watched.find(&module);
        if (it == watched.end() || !output.defined()) return;
        Entry& entry = entries[path];
        entry.type = it->second;
        ++entry.calls;
        entry.elements += output.numel();
        for (double v : output.to_vector<double>())
            if (v == 0.0) ++entry.zeros;
    }
};

ActivationStats::ActivationStats(const nn::Module& model, std::vector<std::string> types)
    : impl_(std::make_unique<Impl>()) {
    auto consider = [&](const nn::Module& m) {
        const std::string type = m.type_name();
        if (std::find(types.begin(), types.end(), type) != types.end()) impl_->watched[&m] = type;
    };
    consider(model);
    for (const auto& [name, child] : model.named_modules()) consider(*child);
    TG_CHECK(!impl_->watched.empty(), "ActivationStats",
             "{} has no module of the watched types ({}); name a type it has (type_name(), e.g. "
             "\"ReLU\")",
             model.type_name(), fmt::join(types, ", "));
    detail::add_module_observer(impl_.get());
}

ActivationStats::~ActivationStats() { detail::remove_module_observer(impl_.get()); }

const std::map<std::string, ActivationStats::Entry>& ActivationStats::entries() const {
    return impl_->entries;
}

void ActivationStats::reset() { impl_->entries.clear(); }

std::string ActivationStats::table() const {
    std::size_t width = std::string("module").size();
    for (const auto& [path, e] : impl_->entries) width = std::max(width, path.size() + e.type.size() + 3);
    std::ostringstream os;
    os << fmt::format("{:<{}}  {:>6}  {:>12}  {:>10}\n", "module", width, "calls", "elements", "zero frac");
    for (const auto& [path, e] : impl_->entries)
        os << fmt::format("{:<{}}  {:>6}  {:>12}  {:>10.4f}\n", path + " (" + e.type + ")", width,
                          e.calls, e.elements, e.zero_fraction());
    return os.str();
}

void ActivationStats::log(summary::SummaryWriter& writer, std::int64_t step,
                          const std::string& prefix) const {
    for (const auto& [path, e] : impl_->entries)
        writer.add_scalar(prefix + "/" + (path.empty() ? e.type : path) + "/zero_fraction",
                          e.zero_fraction(), step);
}

std::ostream& operator<<(std::ostream& os, const ActivationStats& stats) { return os << stats.table(); }

}  // namespace tg::debug
