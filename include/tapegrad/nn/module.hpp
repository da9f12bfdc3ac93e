// tg::nn::Module: the base of every layer (libtorch's torch::nn::Module), and the two
// containers Sequential and ModuleList.
//
//   struct Net : tg::nn::Module {
//       Net() {
//           fc1 = register_module("fc1", tg::nn::Linear(784, 64));
//           fc2 = register_module("fc2", std::make_shared<tg::nn::Linear>(64, 10));
//       }
//       tg::Tensor forward(const tg::Tensor& x) override { return (*fc2)(tg::relu((*fc1)(x))); }
//       std::shared_ptr<tg::nn::Linear> fc1, fc2;
//   };
//
// Ownership: a module that is part of another is held by std::shared_ptr (register_module
// returns it). A layer is an ordinary class, so `tg::nn::Linear fc(784, 10);` is a usable
// value too, and register_module / Sequential accept either a shared_ptr or a value (a value
// is moved into a new shared_ptr). There is no ModuleHolder: `fc.forward(x)`, `fc(x)` and
// `ptr->forward(x)` are the spellings. Copying a module copies tensor handles, so the copy
// shares its parameters with the original (as copying a libtorch ModuleHolder does).
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/error.hpp"
#include "tapegrad/serialize.hpp"
#include "tapegrad/arg.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"


TG_PUBLIC_BEGIN

namespace tg::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;
using NamedModules = std::vector<std::pair<std::string, ModulePtr>>;

class Module {
public:
    // `type_name` is what printing shows ("Linear"); empty means the C++ class name
    // (demangled, without the tg::nn:: prefix), so a user's `struct Net : Module` prints "Net".
    explicit Module(std::string type_name = {});
    virtual ~Module() = default;
    Module(const Module&) = default;
    Module(Module&&) = default;
    Module& operator=(const Module&) = default;
    Module& operator=(Module&&) = default;

    std::string type_name() const;

    // The one-input forward that Sequential chains. The base throws: a module with another
    // signature (several inputs) declares its own forward and is not Sequential-able.
    virtual Tensor forward(const Tensor& input);
    // forward() inside a name scope named after this module's registered name, so ops get
    // module paths ("encoder/conv1"); call children this way to get them (and so that
    // nn::model_summary / ActivationStats see the calls).
    Tensor operator()(const Tensor& input);
    // The name a parent registered this module under ("" for a root / unregistered one).
    const std::string& scope_name() const { return scope_name_; }

    // ---- registration -------------------------------------------------------------------
    // Names are non-empty, contain no '.', and are unique among a module's parameters,
    // buffers and children (a duplicate throws). A parameter is a leaf: a tensor that has a
    // grad_fn is detached first; requires_grad is set to `requires_grad`. Returns the
    // registered tensor (a handle sharing its data).
    Tensor register_parameter(std::string name, Tensor tensor, bool requires_grad = true);
    // State that is not trained (BatchNorm's running mean): never requires grad.
    Tensor register_buffer(std::string name, Tensor tensor);
    template <class M>
    std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
        static_assert(std::is_base_of_v<Module, M>, "register_module: M must derive from tg::nn::Module");
        add_child(std::move(name), module);
        return module;
    }
    template <class M, class = std::enable_if_t<std::is_base_of_v<Module, std::decay_t<M>>>>
    std::shared_ptr<std::decay_t<M>> register_module(std::string name, M&& module) {
        return register_module(std::move(name),
                               std::make_shared<std::decay_t<M>>(std::forward<M>(module)));
    }
    // Swaps the module registered as `name` for another (e.g. a pretrained one).
    template <class M>
    std::shared_ptr<M> replace_module(const std::string& name, std::shared_ptr<M> module) {
        replace_child(name, module);
        return module;
    }

    // ---- traversal (registration order, depth first) --------------------------------------
    std::vector<Tensor> parameters(bool recurse = true) const;
    // Dotted names: "encoder.conv1.weight". NamedTensors is what tg::save takes.
    NamedTensors named_parameters(bool recurse = true) const;
    std::vector<Tensor> buffers(bool recurse = true) const;
    NamedTensors named_buffers(bool recurse = true) const;
    std::vector<ModulePtr> children() const;
    const NamedModules& named_children() const { return children_; }
    // Every module below this one (not this one itself), with dotted names.
    NamedModules named_modules() const;

    // ---- mode and gradients -------------------------------------------------------------
    // Sets training mode here and in every descendant (Dropout, BatchNorm read it).
    virtual void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }
    // Clears (set_to_none) or zeroes the .grad() of every parameter below.
    void zero_grad(bool set_to_none = true);

    // ---- printing -----------------------------------------------------------------------
    // One line describing this module without its children: "Linear(in_features=784, ...)".
    virtual void pretty_print(std::ostream& os) const;

private:
    void add_child(std::string name, ModulePtr module);
    void replace_child(const std::string& name, ModulePtr module);
    void check_new_name(const std::string& name, const char* what) const;
    void collect(NamedTensors& out, const std::string& prefix, bool buffers, bool recurse) const;

    std::string type_name_;
    std::string scope_name_;
    NamedTensors parameters_;
    NamedTensors buffers_;
    NamedModules children_;
    bool training_ = true;
};

// The module tree, libtorch style:
//   Net(
//     (fc1): Linear(in_features=784, out_features=64, bias=true)
//     (fc2): Linear(in_features=64, out_features=10, bias=true)
//   )
std::ostream& operator<<(std::ostream& os, const Module& module);

// Wraps a function of one tensor as a module (for Sequential): Functional(tg::relu).
class Functional : public Module {
public:
    using Function = std::function<Tensor(const Tensor&)>;
    explicit Functional(Function function, std::string name = "Functional");
    Tensor forward(const Tensor& input) override;
    void pretty_print(std::ostream& os) const override;

private:
    Function function_;
    std::string name_;
};

// What Sequential and ModuleList share: an ordered list of children, registered as "0",
// "1", ... (so parameters are found, and printing and train/eval reach them).
class ModuleSequence : public Module {
public:
    template <class M>
    void push_back(std::shared_ptr<M> module) {
        append(std::to_string(modules_.size()), std::move(module));
    }
    template <class M, class = std::enable_if_t<std::is_base_of_v<Module, std::decay_t<M>>>>
    void push_back(M&& module) {
        push_back(std::make_shared<std::decay_t<M>>(std::forward<M>(module)));
    }

    std::size_t size() const { return modules_.size(); }
    bool is_empty() const { return modules_.empty(); }
    // Throws tg::Error naming the index and the size when out of range.
    const ModulePtr& operator[](std::size_t index) const;
    const ModulePtr& ptr(std::size_t index) const { return (*this)[index]; }
    // The module at `index` as an M; throws when it is another type.
    template <class M>
    M& at(std::size_t index) const {
        auto* typed = dynamic_cast<M*>((*this)[index].get());
        if (typed == nullptr)
            throw Error(type_name() + "::at: module " + std::to_string(index) + " is a " +
                        (*this)[index]->type_name() + ", not the type asked for");
        return *typed;
    }
    auto begin() const { return modules_.begin(); }
    auto end() const { return modules_.end(); }

protected:
    explicit ModuleSequence(std::string type_name) : Module(std::move(type_name)) {}
    template <class M>
    void append(std::string name, std::shared_ptr<M> module) {
        modules_.push_back(register_module(std::move(name), std::move(module)));
    }
    const std::vector<ModulePtr>& modules() const { return modules_; }

private:
    std::vector<ModulePtr> modules_;
};

// Runs its modules in order, each one's output the next one's input. Children are named
// "0", "1", ... unless pushed with a name.
//   tg::nn::Sequential net(tg::nn::Linear(784, 64), tg::nn::ReLU(), tg::nn::Linear(64, 10));
class Sequential : public ModuleSequence {
public:
    Sequential() : ModuleSequence("Sequential") {}
    template <class... Ms, class = std::enable_if_t<!(sizeof...(Ms) == 1 &&
                                                      (std::is_same_v<std::decay_t<Ms>, Sequential> && ...))>>
    explicit Sequential(Ms&&... modules) : ModuleSequence("Sequential") {
        (push_back(std::forward<Ms>(modules)), ...);
    }

    using ModuleSequence::push_back;
    template <class M>
    void push_back(std::string name, std::shared_ptr<M> module) {
        append(std::move(name), std::move(module));
    }

    Tensor forward(const Tensor& input) override;
};

// A list of modules; the owner decides how to call them, so it has no forward.
class ModuleList : public ModuleSequence {
public:
    ModuleList() : ModuleSequence("ModuleList") {}
    template <class... Ms, class = std::enable_if_t<!(sizeof...(Ms) == 1 &&
                                                      (std::is_same_v<std::decay_t<Ms>, ModuleList> && ...))>>
    explicit ModuleList(Ms&&... modules) : ModuleSequence("ModuleList") {
        (push_back(std::forward<Ms>(modules)), ...);
    }
};

}  // namespace tg::nn

TG_PUBLIC_END
