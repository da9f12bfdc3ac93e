// The optimizer base: parameter groups, the step loop (non-finite check, lazy state,
// contiguous views for the fused update kernels), minimize, and state save/load.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <typeinfo>

#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/optim.hpp"
#include "autograd/anomaly.hpp"
#include "autograd/record.hpp"
#include "tensor/check.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::optim {

// ---- groups and state ---------------------------------------------------------------------

OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params) : params_(std::move(params)) {}

OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options)
    : params_(std::move(params)), options_(std::move(options)) {}

OptimizerParamGroup::OptimizerParamGroup(const OptimizerParamGroup& other)
    : params_(other.params_), options_(other.options_ ? other.options_->clone() : nullptr) {}

OptimizerParamGroup& OptimizerParamGroup::operator=(const OptimizerParamGroup& other) {
    if (this != &other) {
        params_ = other.params_;
        options_ = other.options_ ? other.options_->clone() : nullptr;
    }
    return *this;
}

OptimizerOptions& OptimizerParamGroup::options() {
    TG_CHECK(options_ != nullptr, "OptimizerParamGroup", "this group has no options yet");
    return *options_;
}
const OptimizerOptions& OptimizerParamGroup::options() const {
    TG_CHECK(options_ != nullptr, "OptimizerParamGroup", "this group has no options yet");
    return *options_;
}

Tensor* ParamState::find(std::string_view name) {
    for (auto& [n, t] : buffers)
        if (n == name) return &t;
    return nullptr;
}
const Tensor* ParamState::find(std::string_view name) const {
    for (const auto& [n, t] : buffers)
        if (n == name) return &t;
    return nullptr;
}
Tensor& ParamState::buffer(std::string_view name) {
    Tensor* t = find(name);
    TG_CHECK(t != nullptr, "ParamState", "no state buffer named '{}'", name);
    return *t;
}

// ---- construction -------------------------------------------------------------------------

Optimizer::Optimizer(std::unique_ptr<OptimizerOptions> defaults) : defaults_(std::move(defaults)) {}
Optimizer::~Optimizer() = default;

void Optimizer::init_groups(std::vector<OptimizerParamGroup> groups) {
    check_group_options(*defaults_);
    for (auto& group : groups) add_param_group(group);
}

// What every optimizer checks first: options of its own kind (the defaults' type) and a
// learning rate >= 0; then its own check_options.
void Optimizer::check_group_options(const OptimizerOptions& options) const {
    TG_CHECK(typeid(options) == typeid(*defaults_), name(),
             "a parameter group has options of another optimizer (expected {}Options)", name());
    TG_CHECK(options.get_lr() >= 0, name(), "invalid learning rate {} (expected >= 0)", options.get_lr());
    check_options(options);
}

void Optimizer::check_new_params(const std::vector<Tensor>& params, std::string_view what) const {
    std::unordered_set<const TensorImpl*> seen;
    for (const auto& group : groups_)
        for (const auto& p : group.params()) seen.insert(p.unsafe_impl());
    for (std::size_t i = 0; i < params.size(); ++i) {
        const Tensor& p = params[i];
        TG_CHECK(p.defined(), name(), "{} {} is an undefined tensor", what, i);
        TG_CHECK(p.is_floating_point(), name(), "{} {} (shape {}) is {}; only float32/float64 tensors can be optimized",
                 what, i, p.sizes(), dtype_name(p.dtype()));
        TG_CHECK(p.is_leaf(), name(), "{} {} (shape {}) is not a leaf tensor; optimize the leaves it is computed from",
                 what, i, p.sizes());
        TG_CHECK(seen.insert(p.unsafe_impl()).second, name(),
                 "{} {} (shape {}) is already optimized by this optimizer (a tensor may appear once)", what, i,
                 p.sizes());
    }
}

void Optimizer::add_param_group(const OptimizerParamGroup& group) {
    check_new_params(group.params(), "parameter");
    OptimizerParamGroup added(group.params(), group.has_options() ? group.options().clone() : defaults_->clone());
    check_group_options(added.options());
    groups_.push_back(std::move(added));
}

const ParamState* Optimizer::state(const Tensor& param) const {
    auto it = state_.find(param.unsafe_impl());
    return it == state_.end() ? nullptr : &it->second;
}

// ---- stepping -----------------------------------------------------------------------------

namespace {

// Index of the first NaN/Inf element of `t`, or -1.
std::int64_t first_non_finite(const Tensor& t) {
    const Tensor c = t.contiguous();
    return detail::visit_floating(c.dtype(), "step", [&](auto v) -> std::int64_t {
        using T = decltype(v);
        const T* p = impl_of(c).data_as<T>();
        const std::int64_t n = c.numel();
        for (std::int64_t i = 0; i < n; ++i)
            if (!std::isfinite(p[i])) return i;
        return -1;
    });
}

}  // namespace

void Optimizer::zero_grad(bool set_to_none) {
    for (auto& group : groups_)
        for (auto& p : group.params()) p.zero_grad(set_to_none);
}

void Optimizer::step() { step_params(nullptr); }

void Optimizer::step_params(const std::unordered_set<const TensorImpl*>* only) {
    NoGradGuard no_grad;
    auto selected = [&](const Tensor& p) { return only == nullptr || only->count(p.unsafe_impl()) != 0; };

    // Check all gradients before the first write, so an error or a skip leaves both the
    // parameters and the state exactly as they were.
    if (non_finite_grad_ != NonFiniteGrad::Propagate) {
        for (std::size_t g = 0; g < groups_.size(); ++g) {
            const auto& params = groups_[g].params();
            for (std::size_t i = 0; i < params.size(); ++i) {
                if (!selected(params[i])) continue;
                const Tensor grad = params[i].grad();
                if (!grad.defined()) continue;
                // The vectorised scan first; the element-wise search only on the error path.
                if (*detail::nonfinite_kind(grad) == '\0') continue;
                const std::int64_t bad = first_non_finite(grad);
                if (non_finite_grad_ == NonFiniteGrad::Skip) {
                    ++skipped_steps_;
                    return;
                }
                const double value = grad.contiguous().reshape({-1})[bad].item<double>();
                TG_CHECK(false, name(),
                         "non-finite gradient ({}) at element {} of parameter {} in group {} (shape {}); "
                         "parameters and optimizer state are unchanged (set_non_finite_grad(NonFiniteGrad::Skip) "
                         "skips such steps instead)",
                         value, bad, i, g, params[i].sizes());
            }
        }
    }

    for (auto& group : groups_) {
        const OptimizerOptions& options = group.options();
        for (Tensor& param : group.params()) {
            if (!selected(param)) continue;
            Tensor grad = param.grad();
            if (!grad.defined()) continue;
            TG_CHECK(grad.sizes() == param.sizes(), name(), "gradient of shape {} for a parameter of shape {}",
                     grad.sizes(), param.sizes());
            if (grad.dtype() != param.dtype()) grad = grad.to(param.dtype());
            if (!grad.is_contiguous()) grad = grad.contiguous();

            auto it = state_.find(param.unsafe_impl());
            if (it == state_.end()) it = state_.emplace(param.unsafe_impl(), init_state(options, param)).first;
            ParamState& state = it->second;
            ++state.step;
            if (param.is_contiguous()) {
                update(options, param, grad, state);
                detail::bump_version(param);
            } else {  // the kernels want dense data: update a copy, write it back
                Tensor work = param.contiguous();
                update(options, work, grad, state);
                param.copy_(work);
            }
        }
    }
}

namespace {
// "var_list[1] 'bias' (shape [10])": the position the caller knows, the set_name if any.
std::string describe_variable(const std::string& label, const Tensor& v) {
    const std::string name = v.name();
    return name.empty() ? fmt::format("{} (shape {})", label, v.sizes())
                        : fmt::format("{} '{}' (shape {})", label, name, v.sizes());
}

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
    return out;
}
}  // namespace

void Optimizer::check_gradients_reached(const std::vector<Tensor>& variables, const std::vector<std::string>& labels) {
    std::vector<std::string> missing;
    for (std::size_t k = 0; k < variables.size(); ++k)
        if (!variables[k].grad().defined()) missing.push_back(describe_variable(labels[k], variables[k]));
    TG_CHECK(missing.size() < variables.size() || variables.empty(), "minimize",
             "no gradients provided for any variable: the loss does not depend on {} (check that the loss is "
             "computed from these tensors, not from copies or detached values)",
             join(missing));
    if (!missing.empty() && !reported_unused_ && unused_variable_log != nullptr) {
        *unused_variable_log << "tapegrad: minimize: the loss does not depend on " << join(missing)
                             << "; they are not updated (said once per optimizer)" << std::endl;
        reported_unused_ = true;
    }
}

void Optimizer::minimize(const Tensor& loss) {
    TG_CHECK(loss.defined() && loss.numel() == 1, "minimize", "the loss must be a one-element tensor, got shape {}",
             loss.defined() ? loss.sizes() : Shape{});
    zero_grad(true);
    loss.backward();
    std::vector<Tensor> params;
    std::vector<std::string> labels;
    for (std::size_t g = 0; g < groups_.size(); ++g)
        for (std::size_t i = 0; i < groups_[g].params().size(); ++i) {
            params.push_back(groups_[g].params()[i]);
            labels.push_back(fmt::format("param_groups[{}][{}]", g, i));
        }
    check_gradients_reached(params, labels);
    step();
}

void Optimizer::minimize(const Tensor& loss, const std::vector<Tensor>& var_list) {
    TG_CHECK(loss.defined() && loss.numel() == 1, "minimize", "the loss must be a one-element tensor, got shape {}",
             loss.defined() ? loss.sizes() : Shape{});
    TG_CHECK(!var_list.empty(), "minimize", "var_list is empty");
    std::unordered_set<const TensorImpl*> known;
    for (const auto& group : groups_)
        for (const auto& p : group.params()) known.insert(p.unsafe_impl());
    std::vector<Tensor> newcomers;
    std::unordered_set<const TensorImpl*> only;
    for (std::size_t k = 0; k < var_list.size(); ++k) {
        const Tensor& v = var_list[k];
        TG_CHECK(v.defined() && v.requires_grad(), "minimize", "var_list[{}] (shape {}) does not require grad", k,
                 v.defined() ? v.sizes() : Shape{});
        TG_CHECK(only.insert(v.unsafe_impl()).second, "minimize", "var_list[{}] (shape {}) appears twice", k,
                 v.sizes());
        if (!known.count(v.unsafe_impl())) newcomers.push_back(v);
    }
    if (!newcomers.empty()) check_new_params(newcomers, "var_list variable");
    std::vector<Tensor> grads = autograd::grad({loss}, var_list, {.allow_unused = true});
    std::vector<std::string> labels;
    std::vector<std::string> missing;
    for (std::size_t k = 0; k < var_list.size(); ++k) {
        labels.push_back(fmt::format("var_list[{}]", k));
        if (!grads[k].defined()) missing.push_back(describe_variable(labels.back(), var_list[k]));
    }
    // Checked before a variable joins a group or a grad() is set: a loss that reaches none of
    // them changes nothing.
    TG_CHECK(missing.size() < var_list.size(), "minimize",
             "no gradients provided for any variable: the loss does not depend on {} (check that the loss is "
             "computed from these tensors, not from copies or detached values)",
             join(missing));
    if (!newcomers.empty()) {
        if (groups_.empty())
            add_param_group(OptimizerParamGroup(newcomers));
        else
            for (auto& v : newcomers) groups_.front().params().push_back(v);
    }
    for (std::size_t k = 0; k < var_list.size(); ++k) {
        Tensor v = var_list[k];
        Tensor g = grads[k];
        if (g.defined() && !g.is_contiguous()) g = g.contiguous();
        v.set_grad(g);
    }
    check_gradients_reached(var_list, labels);
    step_params(&only);
}

// ---- state_dict ---------------------------------------------------------------------------

namespace {

Tensor int64_scalar(std::int64_t v) { return scalar_tensor(static_cast<double>(v), kInt64); }

// Parses a non-negative decimal index at the start of `s`; advances s past it.
bool parse_index(std::string_view& s, std::size_t* out) {
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, *out);
    if (ec != std::errc() || ptr == s.data()) return false;
    s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
    return true;
}

bool consume(std::string_view& s, std::string_view prefix) {
    if (s.substr(0, prefix.size()) != prefix) return false;
    s.remove_prefix(prefix.size());
    return true;
}

}  // namespace

NamedTensors Optimizer::state_dict() const {
    NamedTensors out;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        const auto& group = groups_[g];
        const std::string prefix = fmt::format("group.{}.", g);
        out.emplace_back(prefix + "num_params", int64_scalar(static_cast<std::int64_t>(group.params().size())));
        for (const auto& [option, value] : group.options().values())
            out.emplace_back(prefix + option, scalar_tensor(value, kFloat64));
        for (std::size_t i = 0; i < group.params().size(); ++i) {
            const ParamState* s = state(group.params()[i]);
            if (!s) continue;
            const std::string param_prefix = fmt::format("{}param.{}.", prefix, i);
            out.emplace_back(param_prefix + "step", int64_scalar(s->step));
            // Copies: the live buffers keep changing with every step.
            for (const auto& [buffer, t] : s->buffers) out.emplace_back(param_prefix + buffer, t.clone());
        }
    }
    return out;
}

void Optimizer::load_state_dict(const NamedTensors& entries) {
    const std::string op = fmt::format("{}.load_state_dict", name());
    struct Loaded {
        const Tensor* step = nullptr;
        std::map<std::string, const Tensor*> buffers;
    };
    std::vector<std::unique_ptr<OptimizerOptions>> options;
    for (const auto& group : groups_) options.push_back(group.options().clone());
    std::vector<bool> has_count(groups_.size(), false);
    std::map<std::pair<std::size_t, std::size_t>, Loaded> loaded;
    const std::vector<std::string> known = all_state_names();

    auto scalar_of = [&](const std::string& entry, const Tensor& t, Dtype dtype) {
        TG_CHECK(t.defined() && t.dim() == 0 && t.dtype() == dtype, op,
                 "entry '{}' must be a 0-dim {} tensor, got shape {} and dtype {}", entry, dtype_name(dtype),
                 t.defined() ? t.sizes() : Shape{}, t.defined() ? dtype_name(t.dtype()) : "undefined");
        return t.item<double>();
    };

    for (const auto& [entry, t] : entries) {
        std::string_view rest = entry;
        std::size_t g = 0;
        TG_CHECK(consume(rest, "group.") && parse_index(rest, &g) && consume(rest, "."), op,
                 "unexpected entry '{}' (expected names like group.0.lr or group.0.param.3.step)", entry);
        TG_CHECK(g < groups_.size(), op, "entry '{}' is for group {}, but this {} has {} group(s)", entry, g, name(),
                 groups_.size());
        const std::size_t num_params = groups_[g].params().size();
        if (rest == "num_params") {
            const double n = scalar_of(entry, t, kInt64);
            TG_CHECK(n == static_cast<double>(num_params), op,
                     "group {} had {} parameter(s) when saved, this optimizer's has {}", g, n, num_params);
            has_count[g] = true;
        } else if (consume(rest, "param.")) {
            std::size_t i = 0;
            TG_CHECK(parse_index(rest, &i) && consume(rest, "."), op, "unexpected entry '{}'", entry);
            TG_CHECK(i < num_params, op, "entry '{}' is for parameter {}, but group {} has {}", entry, i, g,
                     num_params);
            Loaded& slot = loaded[{g, i}];
            if (rest == "step") {
                TG_CHECK(scalar_of(entry, t, kInt64) >= 0, op, "entry '{}' holds a negative step count", entry);
                slot.step = &t;
            } else {
                TG_CHECK(std::find(known.begin(), known.end(), rest) != known.end(), op,
                         "entry '{}': {} keeps no state buffer named '{}'", entry, name(), rest);
                const Tensor& p = groups_[g].params()[i];
                TG_CHECK(t.defined() && t.sizes() == p.sizes() && t.dtype() == p.dtype(), op,
                         "entry '{}' has shape {} and dtype {}, but the parameter has shape {} and dtype {}", entry,
                         t.defined() ? t.sizes() : Shape{}, t.defined() ? dtype_name(t.dtype()) : "undefined",
                         p.sizes(), dtype_name(p.dtype()));
                slot.buffers[std::string(rest)] = &t;
            }
        } else {
            const double value = scalar_of(entry, t, kFloat64);
            TG_CHECK(options[g]->set_value(rest, value), op, "entry '{}': {} has no option named '{}'", entry,
                     name(), rest);
        }
    }
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        TG_CHECK(has_count[g], op, "entry 'group.{}.num_params' is missing", g);
        check_group_options(*options[g]);
    }
    for (const auto& [key, slot] : loaded) {
        const auto [g, i] = key;
        TG_CHECK(slot.step != nullptr, op, "entry 'group.{}.param.{}.step' is missing", g, i);
        for (const std::string& required : state_names(*options[g]))
            TG_CHECK(slot.buffers.count(required) != 0, op, "entry 'group.{}.param.{}.{}' is missing", g, i,
                     required);
    }

    // Everything checked: replace options and state.
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        groups_[g].set_options(std::move(options[g]));
        for (const auto& p : groups_[g].params()) state_.erase(p.unsafe_impl());
    }
    for (const auto& [key, slot] : loaded) {
        ParamState s;
        s.step = slot.step->item<std::int64_t>();
        for (const auto& [buffer, t] : slot.buffers) s.buffers.emplace_back(buffer, t->contiguous().clone());
        state_[groups_[key.first].params()[key.second].unsafe_impl()] = std::move(s);
    }
}

void Optimizer::save(const std::string& path) const { tg::save(state_dict(), path); }

void Optimizer::load(const std::string& path) { load_state_dict(tg::load(path)); }

}  // namespace tg::optim
