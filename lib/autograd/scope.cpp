// The per-thread name-scope stack (see scope.hpp) and tg::name_scope.
#include "autograd/scope.hpp"

#include <algorithm>
#include <atomic>

#include "tapegrad/variable_store.hpp"
#include "tensor/check.hpp"

namespace tg {

namespace detail {

namespace {

// Each entry is the full path at that depth; a path is shared by every node recorded
// while it is current (one allocation per push, none per op).
thread_local std::vector<ScopePath> scope_stack;
thread_local ScopePath current_path;
thread_local std::vector<ModuleCallObserver*> observers;

// How many threads have a scope open (a non-empty stack; current_path is null on the others).
// While none has, current_scope_path() answers without its thread_local lookups (two per
// recorded op; issue 15, per-op overhead). A thread counts itself before it opens its first
// scope, so it never reads its own count as zero while one is open.
std::atomic<int> threads_in_scopes{0};
const ScopePath no_scope;

}  // namespace

const ScopePath& current_scope_path() {
    return threads_in_scopes.load(std::memory_order_relaxed) == 0 ? no_scope : current_path;
}

void push_scope(std::string_view name) {
    if (scope_stack.empty()) threads_in_scopes.fetch_add(1, std::memory_order_relaxed);
    scope_stack.push_back(current_path);
    if (name.empty()) return;
    if (current_path)
        current_path = std::make_shared<const std::string>(*current_path + "/" + std::string(name));
    else
        current_path = std::make_shared<const std::string>(name);
}

void pop_scope() {
    if (scope_stack.empty()) return;
    current_path = std::move(scope_stack.back());
    scope_stack.pop_back();
    if (scope_stack.empty()) threads_in_scopes.fetch_sub(1, std::memory_order_relaxed);
}

const std::vector<ModuleCallObserver*>& module_observers() { return observers; }

void add_module_observer(ModuleCallObserver* observer) { observers.push_back(observer); }

void remove_module_observer(ModuleCallObserver* observer) {
    auto it = std::find(observers.begin(), observers.end(), observer);
    if (it != observers.end()) observers.erase(it);
}

}  // namespace detail

name_scope::name_scope(const std::string& name) {
    TG_CHECK(!name.empty(), "name_scope", "the scope name must not be empty");
    detail::push_scope(name);
    path_ = *detail::current_scope_path();
}

name_scope::~name_scope() { detail::pop_scope(); }

std::string current_name_scope() {
    const auto& p = detail::current_scope_path();
    return p ? *p : std::string();
}

}  // namespace tg
