// tg::nn::Module: registration, traversal with dotted names, train/eval, printing.
#include "tapegrad/nn/module.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <ostream>
#include <string_view>
#include <typeinfo>

#include "autograd/scope.hpp"
#include "tensor/check.hpp"

namespace tg::nn {

namespace {

// "tg::nn::Linear" -> "Linear"; a user's "app::Net" stays "app::Net", but the noise of an
// anonymous namespace ("(anonymous namespace)::Net") is dropped.
std::string demangled_type_name(const std::type_info& type) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> raw(
        abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
    std::string name = (status == 0 && raw) ? std::string(raw.get()) : std::string(type.name());
    for (std::string_view prefix : {"tg::nn::", "(anonymous namespace)::"}) {
        if (name.rfind(prefix, 0) == 0) name.erase(0, prefix.size());
    }
    return name;
}

bool has_name(const NamedTensors& tensors, const std::string& name) {
    for (const auto& [n, t] : tensors)
        if (n == name) return true;
    return false;
}

}  // namespace

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

std::string Module::type_name() const {
    return type_name_.empty() ? demangled_type_name(typeid(*this)) : type_name_;
}

Tensor Module::forward(const Tensor& input) {
    (void)input;
    detail::fail("Module::forward",
                 fmt::format("{} has no single-input forward (it cannot be called with one "
                             "tensor or chained in a Sequential)",
                             type_name()));
}

Tensor Module::operator()(const Tensor& input) {
    detail::ScopeGuard scope(scope_name_);
    if (detail::module_observers().empty()) return forward(input);
    // Watched (nn::model_summary, debug::ActivationStats): tell the observers about the call.
    const auto& path = detail::current_scope_path();
    const std::string where = path ? *path : std::string();
    const auto observers = detail::module_observers();  // an observer may remove itself
    for (detail::ModuleCallObserver* observer : observers) observer->on_enter(*this, where);
    Tensor output = forward(input);
    for (detail::ModuleCallObserver* observer : observers)
        observer->on_call(*this, where, input, output);
    return output;
}

void Module::check_new_name(const std::string& name, const char* what) const {
    TG_CHECK(!name.empty(), what, "{}: the name must not be empty", type_name());
    TG_CHECK(name.find('.') == std::string::npos, what,
             "{}: name '{}' contains '.', which separates nested module names", type_name(),
             name);
    const char* kind = has_name(parameters_, name) ? "a parameter"
                       : has_name(buffers_, name)  ? "a buffer"
                                                   : nullptr;
    for (const auto& [n, m] : children_)
        if (n == name) kind = "a submodule";
    TG_CHECK(kind == nullptr, what, "{} already has {} named '{}'", type_name(), kind, name);
}

Tensor Module::register_parameter(std::string name, Tensor tensor, bool requires_grad) {
    check_new_name(name, "register_parameter");
    TG_CHECK(tensor.defined(), "register_parameter", "{}: parameter '{}' is an undefined tensor",
             type_name(), name);
    TG_CHECK(!requires_grad || tensor.is_floating_point(), "register_parameter",
             "{}: parameter '{}' of dtype {} cannot require grad (floating dtypes only)",
             type_name(), name, dtype_name(tensor.dtype()));
    if (!tensor.is_leaf()) tensor = tensor.detach();
    tensor.requires_grad_(requires_grad);
    parameters_.emplace_back(std::move(name), tensor);
    return tensor;
}

Tensor Module::register_buffer(std::string name, Tensor tensor) {
    check_new_name(name, "register_buffer");
    TG_CHECK(tensor.defined(), "register_buffer", "{}: buffer '{}' is an undefined tensor",
             type_name(), name);
    if (tensor.requires_grad()) tensor = tensor.detach();
    buffers_.emplace_back(std::move(name), tensor);
    return tensor;
}

void Module::add_child(std::string name, ModulePtr module) {
    check_new_name(name, "register_module");
    TG_CHECK(module != nullptr, "register_module", "{}: submodule '{}' is a null pointer",
             type_name(), name);
    TG_CHECK(module.get() != this, "register_module", "{}: cannot register itself as '{}'",
             type_name(), name);
    module->scope_name_ = name;
    children_.emplace_back(std::move(name), std::move(module));
}

void Module::replace_child(const std::string& name, ModulePtr module) {
    TG_CHECK(module != nullptr, "replace_module", "{}: submodule '{}' is a null pointer",
             type_name(), name);
    for (auto& [n, m] : children_) {
        if (n == name) {
            module->scope_name_ = name;
            m = std::move(module);
            return;
        }
    }
    detail::fail("replace_module", fmt::format("{} has no submodule named '{}'", type_name(), name));
}

namespace {

// The tensors of a named list, in order (parameters() / buffers() without the names).
std::vector<Tensor> tensors_of(NamedTensors named) {
    std::vector<Tensor> out;
    out.reserve(named.size());
    for (auto& [name, tensor] : named) out.push_back(std::move(tensor));
    return out;
}

}  // namespace

void Module::collect(NamedTensors& out, const std::string& prefix, bool buffers,
                     bool recurse) const {
    for (const auto& [name, tensor] : buffers ? buffers_ : parameters_)
        out.emplace_back(prefix + name, tensor);
    if (!recurse) return;
    for (const auto& [name, child] : children_)
        child->collect(out, prefix + name + ".", buffers, true);
}

NamedTensors Module::named_parameters(bool recurse) const {
    NamedTensors out;
    collect(out, "", false, recurse);
    return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const { return tensors_of(named_parameters(recurse)); }

NamedTensors Module::named_buffers(bool recurse) const {
    NamedTensors out;
    collect(out, "", true, recurse);
    return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const { return tensors_of(named_buffers(recurse)); }

std::vector<ModulePtr> Module::children() const {
    std::vector<ModulePtr> out;
    out.reserve(children_.size());
    for (const auto& [name, child] : children_) out.push_back(child);
    return out;
}

NamedModules Module::named_modules() const {
    NamedModules out;
    for (const auto& [name, child] : children_) {
        out.emplace_back(name, child);
        for (auto& [sub_name, sub] : child->named_modules())
            out.emplace_back(name + "." + sub_name, std::move(sub));
    }
    return out;
}

void Module::train(bool on) {
    training_ = on;
    for (const auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad(bool set_to_none) {
    for (Tensor& p : parameters()) p.zero_grad(set_to_none);
}

void Module::pretty_print(std::ostream& os) const { os << type_name(); }

namespace {

void print_tree(std::ostream& os, const Module& module, const std::string& indent) {
    module.pretty_print(os);
    const NamedModules& children = module.named_children();
    if (children.empty()) return;
    os << "(\n";
    for (const auto& [name, child] : children) {
        os << indent << "  (" << name << "): ";
        print_tree(os, *child, indent + "  ");
        os << "\n";
    }
    os << indent << ")";
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Module& module) {
    print_tree(os, module, "");
    return os;
}

}  // namespace tg::nn
