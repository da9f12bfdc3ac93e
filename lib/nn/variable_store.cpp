// TF-1 variable scopes: a per-thread stack of scope names over a VariableStore.
#include "tapegrad/variable_store.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <sstream>

#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "autograd/scope.hpp"
#include "tensor/check.hpp"

namespace tg {

namespace {

struct ScopeFrame {
    std::string full_name;
    Reuse reuse;
    VariableStore* store;
};

std::vector<ScopeFrame>& scope_stack() {
    thread_local std::vector<ScopeFrame> stack;
    return stack;
}

std::string join_scope(const std::string& scope, const std::string& name) {
    return scope.empty() ? name : scope + "/" + name;
}

// TF-1's glorot_uniform_initializer: fans from the TF layout (..., in, out) with the
// leading dims as the receptive field; a vector uses its length for both fans.
void tf_glorot_uniform(Tensor& t) {
    double fan_in = 1, fan_out = 1;
    const std::int64_t rank = t.dim();
    if (rank == 1) {
        fan_in = fan_out = static_cast<double>(t.size(0));
    } else if (rank >= 2) {
        double receptive = 1;
        for (std::int64_t d = 0; d < rank - 2; ++d) receptive *= static_cast<double>(t.size(d));
        fan_in = receptive * static_cast<double>(t.size(rank - 2));
        fan_out = receptive * static_cast<double>(t.size(rank - 1));
    }
    const double limit = std::sqrt(6.0 / std::max(1.0, fan_in + fan_out));
    nn::init::uniform_(t, -limit, limit);
}

}  // namespace

// ---- VariableList -----------------------------------------------------------------------------

std::vector<Tensor> VariableList::tensors() const {
    std::vector<Tensor> out;
    for (const VariableInfo& v : entries_) out.push_back(v.tensor);
    return out;
}

std::int64_t VariableList::total_numel() const {
    std::int64_t total = 0;
    for (const VariableInfo& v : entries_) total += v.shape.numel();
    return total;
}

std::string VariableList::table() const {
    const std::vector<std::string> header = {"name", "shape", "dtype", "trainable", "numel"};
    std::vector<std::vector<std::string>> rows;
    for (const VariableInfo& v : entries_)
        rows.push_back({v.name, v.shape.str(), std::string(dtype_name(v.dtype)),
                        v.trainable ? "yes" : "no", std::to_string(v.shape.numel())});
    std::vector<std::size_t> width(header.size());
    for (std::size_t c = 0; c < header.size(); ++c) {
        width[c] = header[c].size();
        for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
    }
    std::ostringstream os;
    auto line = [&](const std::vector<std::string>& cells) {
        for (std::size_t c = 0; c < cells.size(); ++c) {
            const bool numeric = c == cells.size() - 1;  // right-align the counts
            const std::string pad(width[c] - cells[c].size(), ' ');
            os << (numeric ? pad + cells[c] : cells[c] + pad);
            os << (c + 1 < cells.size() ? "  " : "\n");
        }
    };
    line(header);
    std::size_t total_width = 2 * (header.size() - 1);
    for (std::size_t w : width) total_width += w;
    os << std::string(total_width, '-') << "\n";
    for (const auto& row : rows) line(row);
    os << entries_.size() << (entries_.size() == 1 ? " variable, " : " variables, ")
       << total_numel() << " elements\n";
    return os.str();
}

std::ostream& operator<<(std::ostream& os, const VariableList& variables) {
    return os << variables.table();
}

// ---- VariableStore ----------------------------------------------------------------------------

VariableStore& VariableStore::global() {
    static VariableStore store;
    return store;
}

Tensor VariableStore::get_variable(const std::string& full_name, const Shape& shape,
                                   const Initializer& initializer, Dtype dtype, bool trainable,
                                   Reuse reuse) {
    TG_CHECK(!full_name.empty() && full_name.back() != '/', "get_variable",
             "invalid variable name '{}'", full_name);
    auto found = index_.find(full_name);
    if (found != index_.end()) {
        const VariableInfo& v = variables_[found->second];
        TG_CHECK(reuse != Reuse::No, "get_variable",
                 "variable '{}' already exists (shape {}); open its scope with reuse=true "
                 "(or AUTO_REUSE) to share it, or choose another name",
                 full_name, v.shape);
        TG_CHECK(v.shape == shape, "get_variable",
                 "variable '{}' exists with shape {}, but shape {} was asked for", full_name,
                 v.shape, shape);
        TG_CHECK(v.dtype == dtype, "get_variable",
                 "variable '{}' exists with dtype {}, but dtype {} was asked for", full_name,
                 dtype_name(v.dtype), dtype_name(dtype));
        return v.tensor;
    }
    TG_CHECK(reuse != Reuse::Yes, "get_variable",
             "variable '{}' does not exist, and its scope has reuse=true (create it first in "
             "a scope with reuse=false, or use AUTO_REUSE)",
             full_name);
    for (std::int64_t d : shape)
        TG_CHECK(d >= 0, "get_variable", "variable '{}': invalid shape {}", full_name, shape);
    TG_CHECK(!trainable || is_floating_point(dtype), "get_variable",
             "variable '{}': a trainable variable needs a floating dtype, got {}", full_name,
             dtype_name(dtype));

    Tensor tensor = zeros(shape, dtype);
    try {
        if (initializer)
            initializer(tensor);
        else if (is_floating_point(dtype))
            tf_glorot_uniform(tensor);
    } catch (const Error& e) {
        detail::fail("get_variable", fmt::format("initializing variable '{}' of shape {}: {}",
                                                 full_name, shape, e.what()));
    }
    TG_CHECK(tensor.sizes() == shape && tensor.dtype() == dtype, "get_variable",
             "the initializer of variable '{}' changed its shape or dtype", full_name);
    tensor.requires_grad_(trainable);
    tensor.set_name(full_name);
    index_.emplace(full_name, variables_.size());
    variables_.push_back({full_name, shape, dtype, trainable, tensor});
    return tensor;
}

bool VariableStore::contains(const std::string& full_name) const {
    return index_.count(full_name) != 0;
}

Tensor VariableStore::get(const std::string& full_name) const {
    auto found = index_.find(full_name);
    TG_CHECK(found != index_.end(), "VariableStore::get", "no variable named '{}'", full_name);
    return variables_[found->second].tensor;
}

VariableList VariableStore::variables() const { return VariableList(variables_); }

VariableList VariableStore::trainable_variables() const {
    std::vector<VariableInfo> out;
    for (const VariableInfo& v : variables_)
        if (v.trainable) out.push_back(v);
    return VariableList(std::move(out));
}

void VariableStore::clear() {
    variables_.clear();
    index_.clear();
}

// ---- scopes -----------------------------------------------------------------------------------

variable_scope::variable_scope(const std::string& name, bool reuse) {
    enter(nullptr, name, reuse ? Reuse::Yes : Reuse::No);
}

variable_scope::variable_scope(const std::string& name, AutoReuse) {
    enter(nullptr, name, Reuse::Auto);
}

variable_scope::variable_scope(VariableStore& store, const std::string& name, bool reuse) {
    enter(&store, name, reuse ? Reuse::Yes : Reuse::No);
}

variable_scope::variable_scope(VariableStore& store, const std::string& name, AutoReuse) {
    enter(&store, name, Reuse::Auto);
}

void variable_scope::enter(VariableStore* store, const std::string& name, Reuse reuse) {
    TG_CHECK(!name.empty(), "variable_scope", "the scope name must not be empty");
    auto& stack = scope_stack();
    const ScopeFrame* outer = stack.empty() ? nullptr : &stack.back();
    full_name_ = join_scope(outer ? outer->full_name : std::string(), name);
    // TF-1: reuse is inherited; an inner scope cannot switch it back off.
    reuse_ = (reuse == Reuse::No && outer) ? outer->reuse : reuse;
    if (store == nullptr) store = outer ? outer->store : &VariableStore::global();
    stack.push_back({full_name_, reuse_, store});
    detail::push_scope(name);  // ops recorded inside are named by the scope too
}

variable_scope::~variable_scope() {
    detail::pop_scope();
    scope_stack().pop_back();
}

std::string current_variable_scope() {
    const auto& stack = scope_stack();
    return stack.empty() ? std::string() : stack.back().full_name;
}

Reuse current_reuse() {
    const auto& stack = scope_stack();
    return stack.empty() ? Reuse::No : stack.back().reuse;
}

VariableStore& current_variable_store() {
    const auto& stack = scope_stack();
    return stack.empty() ? VariableStore::global() : *stack.back().store;
}

Tensor get_variable(const std::string& name, const Shape& shape, const Initializer& initializer,
                    Dtype dtype, bool trainable) {
    TG_CHECK(!name.empty(), "get_variable", "the variable name must not be empty (scope '{}')",
             current_variable_scope());
    return current_variable_store().get_variable(join_scope(current_variable_scope(), name),
                                                 shape, initializer, dtype, trainable,
                                                 current_reuse());
}

VariableList global_variables() { return current_variable_store().variables(); }
VariableList trainable_variables() { return current_variable_store().trainable_variables(); }

Tensor dense(const Tensor& input, std::int64_t units, const std::string& name,
             const std::function<Tensor(const Tensor&)>& activation, bool use_bias,
             const Initializer& kernel_initializer, const Initializer& bias_initializer) {
    detail::check_defined(input, "dense");
    detail::check_floating(input, "dense");
    TG_CHECK(input.dim() == 2, "dense", "expected input of shape (N, in), got {}",
             input.sizes());
    TG_CHECK(units > 0, "dense", "units must be positive, got {}", units);
    variable_scope scope(name);
    Tensor kernel = get_variable("kernel", {input.size(1), units}, kernel_initializer,
                                 input.dtype());
    Tensor out = matmul(input, kernel);
    if (use_bias) {
        Tensor bias = get_variable("bias", {units},
                                   bias_initializer ? bias_initializer : nn::init::zeros(),
                                   input.dtype());
        out = out + bias;
    }
    return activation ? activation(out) : out;
}

}  // namespace tg
