// Sequential, ModuleList and Functional.
#include <ostream>

#include "tapegrad/nn/module.hpp"
#include "tensor/check.hpp"

namespace tg::nn {

Functional::Functional(Function function, std::string name)
    : Module("Functional"), function_(std::move(function)), name_(std::move(name)) {
    TG_CHECK(function_ != nullptr, "Functional", "the function is empty");
}

Tensor Functional::forward(const Tensor& input) { return function_(input); }

void Functional::pretty_print(std::ostream& os) const { os << name_ << "()"; }

Tensor Sequential::forward(const Tensor& input) {
    TG_CHECK(!modules().empty(), "Sequential::forward", "the Sequential is empty");
    Tensor x = input;
    for (const ModulePtr& module : modules()) x = (*module)(x);
    return x;
}

const ModulePtr& ModuleSequence::operator[](std::size_t index) const {
    TG_CHECK(index < modules_.size(), type_name(), "index {} is out of range for {} modules",
             index, modules_.size());
    return modules_[index];
}

}  // namespace tg::nn
