// TF-1 variable scopes: variables found by a scoped name, created once and shared on
// request (tf.variable_scope / tf.get_variable / reuse). See docs/variable-scopes.md.
//
//   {
//       tg::variable_scope scope("test");
//       y1 = tg::dense(x1, 10, "dense");            // creates test/dense/kernel, test/dense/bias
//   }
//   {
//       tg::variable_scope scope("test", /*reuse=*/true);
//       y2 = tg::dense(x2, 10, "dense");            // the same two variables (tied weights)
//   }
//   std::cout << tg::global_variables();            // a table: name, shape, dtype, ...
//
// Scopes are per thread and nest; reopening a scope name gives the same prefix (scopes are
// names, not objects). reuse is inherited: inside a reusing scope, inner scopes reuse too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <unordered_map>
#include <vector>

#include "tapegrad/nn/init.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

using nn::init::Initializer;

// reuse=false: get_variable must create; reuse=true: it must find; AUTO_REUSE: either.
enum class Reuse { No, Yes, Auto };
struct AutoReuse {};
inline constexpr AutoReuse AUTO_REUSE{};

struct VariableInfo {
    std::string name;  // full scoped name: "test/dense/kernel"
    Shape shape;
    Dtype dtype = kFloat32;
    bool trainable = true;
    Tensor tensor;
};

// Variables in creation order; prints as a table (TF-1's debugging aid).
class VariableList {
public:
    VariableList() = default;
    explicit VariableList(std::vector<VariableInfo> entries) : entries_(std::move(entries)) {}
    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    const VariableInfo& operator[](std::size_t i) const { return entries_[i]; }
    auto begin() const { return entries_.begin(); }
    auto end() const { return entries_.end(); }
    std::vector<Tensor> tensors() const;
    std::int64_t total_numel() const;
    // name | shape | dtype | trainable | numel, then a total line.
    std::string table() const;

private:
    std::vector<VariableInfo> entries_;
};
std::ostream& operator<<(std::ostream& os, const VariableList& variables);

// Owns variables by full name. There is one default store (VariableStore::global()), used
// unless a variable_scope names another; explicit stores keep models apart (and tests).
class VariableStore {
public:
    VariableStore() = default;
    VariableStore(const VariableStore&) = delete;
    VariableStore& operator=(const VariableStore&) = delete;

    static VariableStore& global();

    // The variable `full_name`: created (initializer applied, requires_grad = trainable)
    // or returned, as `reuse` says. Errors name the full name (see get_variable below).
    Tensor get_variable(const std::string& full_name, const Shape& shape,
                        const Initializer& initializer = {}, Dtype dtype = kFloat32,
                        bool trainable = true, Reuse reuse = Reuse::No);
    bool contains(const std::string& full_name) const;
    Tensor get(const std::string& full_name) const;  // throws when missing
    std::size_t size() const { return variables_.size(); }
    VariableList variables() const;
    VariableList trainable_variables() const;
    void clear();

private:
    std::vector<VariableInfo> variables_;
    std::unordered_map<std::string, std::size_t> index_;
};

// RAII: while alive, get_variable names are prefixed with "<outer>/<name>/".
class variable_scope {
public:
    explicit variable_scope(const std::string& name, bool reuse = false);
    variable_scope(const std::string& name, AutoReuse);
    // Binds `store` for this scope and the scopes inside it.
    variable_scope(VariableStore& store, const std::string& name, bool reuse = false);
    variable_scope(VariableStore& store, const std::string& name, AutoReuse);
    ~variable_scope();
    variable_scope(const variable_scope&) = delete;
    variable_scope& operator=(const variable_scope&) = delete;

    const std::string& name() const { return full_name_; }  // "outer/name"
    Reuse reuse() const { return reuse_; }

private:
    void enter(VariableStore* store, const std::string& name, Reuse reuse);
    std::string full_name_;
    Reuse reuse_ = Reuse::No;
};

// tf.name_scope: while alive, ops recorded on the tape get "<outer>/<name>" as their
// scope (Node::scope(), graph names in add_graph, anomaly messages, print_tape). Module
// calls (`model(x)`) and variable_scope open such a scope too; get_variable names are
// not affected by it (as in TF-1).
//   { tg::name_scope block("block"); y = tg::relu(x * w); }   // relu's scope: "block"
class name_scope {
public:
    explicit name_scope(const std::string& name);
    ~name_scope();
    name_scope(const name_scope&) = delete;
    name_scope& operator=(const name_scope&) = delete;
    const std::string& path() const { return path_; }  // "outer/name"

private:
    std::string path_;
};
// The current op scope path ("" when none is open on this thread).
std::string current_name_scope();

// The innermost scope's full name ("" outside every scope), its reuse and its store.
std::string current_variable_scope();
Reuse current_reuse();
VariableStore& current_variable_store();

// tf.get_variable: `name` within the current scope. Throws tg::Error naming the full
// scoped name when the name exists and the scope does not reuse, when it is missing and the
// scope reuses (Reuse::Yes), or when it exists with another shape or dtype. The default
// initializer is TF-1's glorot_uniform (fans from a (..., in, out) layout; zeros would also
// be common for biases: pass nn::init::zeros()).
Tensor get_variable(const std::string& name, const Shape& shape,
                    const Initializer& initializer = {}, Dtype dtype = kFloat32,
                    bool trainable = true);

// Every variable of the current store (the default one outside explicit-store scopes).
VariableList global_variables();
VariableList trainable_variables();

// tf.layers.dense: in scope `name`, kernel (in, units) and bias (units) from get_variable,
// then activation(input @ kernel + bias). input is (N, in). Note the kernel is the
// transpose of nn::Linear's weight (out, in): the TF layout is kept so names and shapes
// match a TF-1 checkpoint's.
Tensor dense(const Tensor& input, std::int64_t units, const std::string& name = "dense",
             const std::function<Tensor(const Tensor&)>& activation = {}, bool use_bias = true,
             const Initializer& kernel_initializer = {}, const Initializer& bias_initializer = {});

}  // namespace tg

TG_PUBLIC_END
