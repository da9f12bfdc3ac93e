// The name-scope stack behind Node::scope(): a per-thread path ("encoder/conv1") that
// record() copies into each node it creates. Module::operator(), tg::variable_scope and
// tg::name_scope push onto it. When nothing is pushed the current path is a null pointer,
// so recording pays one thread-local load and nothing else.
//
// Also the module-call observers behind nn::model_summary and ActivationStats: while one is
// installed, Module::operator() reports every call (module, its path, input, output).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/export.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::nn {
class Module;
}

namespace tg::detail {

using ScopePath = std::shared_ptr<const std::string>;

// The current path (null when no scope is open on this thread).
const ScopePath& current_scope_path();
// Opens "<current>/<name>" (or "<name>"); an empty name opens nothing but is still popped.
void push_scope(std::string_view name);
void pop_scope();

struct ScopeGuard {
    explicit ScopeGuard(std::string_view name) { push_scope(name); }
    ~ScopeGuard() { pop_scope(); }
    ScopeGuard(const ScopeGuard&) = delete;
    ScopeGuard& operator=(const ScopeGuard&) = delete;
};

// Told about every Module::operator() call on this thread while installed.
class ModuleCallObserver {
public:
    virtual ~ModuleCallObserver() = default;
    // Before forward runs, with the scope already opened.
    virtual void on_enter(const nn::Module& module, const std::string& path) {
        (void)module;
        (void)path;
    }
    // `path` is the scope path inside the call ("encoder/conv1"; "" for an unnamed root).
    virtual void on_call(const nn::Module& module, const std::string& path, const Tensor& input,
                         const Tensor& output) = 0;
};
// Installed observers (innermost last); empty almost always.
TG_API const std::vector<ModuleCallObserver*>& module_observers();  // exported for test_debug
void add_module_observer(ModuleCallObserver* observer);
void remove_module_observer(ModuleCallObserver* observer);

}  // namespace tg::detail
