#include "autograd/record.hpp"

#include <utility>

#include "autograd/anomaly.hpp"
#include "autograd/engine.hpp"
#include "autograd/scope.hpp"
#include "tapegrad/creation.hpp"
#include "tensor/check.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::detail {

namespace {
thread_local Node* running_node = nullptr;
// Bytes of the SavedTensors built since the last record_node: an op builds them in its
// backward closure's captures right before recording, so they are that node's.
thread_local std::size_t pending_saved_bytes = 0;
}

Node* current_node() { return running_node; }

Node*& current_node_slot() { return running_node; }

bool needs_grad(const std::vector<Tensor>& inputs) {
    if (!GradMode::is_enabled()) return false;
    for (const auto& t : inputs)
        if (t.requires_grad()) return true;
    return false;
}

SavedTensor::SavedTensor(const Tensor& tensor, bool is_output)
    : is_output_(is_output) {
    if (!tensor.defined()) return;
    data_ = is_output ? tensor.detach() : tensor;
    version_ = impl_of(tensor).storage()->version;
    pending_saved_bytes += bytes();
}

Tensor SavedTensor::unpack() const {
    if (!data_.defined()) return {};
    if (impl_of(data_).storage()->version != version_) {
        std::string op = running_node ? std::string(running_node->name()) : std::string("backward");
        throw Error(fmt::format(
            "{}: a tensor of shape {} saved for the backward pass was modified in place after "
            "it was saved (version {} is now {}); clone() it before writing to it, or write "
            "after backward()",
            op, data_.sizes(), version_, data_.version()));
    }
    if (is_output_ && GradMode::is_enabled() && running_node) {
        // Recording a double backward: the saved output's producer is the running node.
        Tensor alias = data_.detach();
        auto& meta = impl_of(alias).ensure_autograd();
        meta.requires_grad = true;
        meta.grad_fn = running_node->shared_from_this();
        meta.output_nr = 0;
        return alias;
    }
    return data_;
}

std::size_t SavedTensor::bytes() const {
    if (!data_.defined()) return 0;
    const TensorImpl& impl = impl_of(data_);
    return static_cast<std::size_t>(impl.numel()) * element_size(impl.dtype());
}

std::vector<Tensor> FunctionNode::apply(std::vector<Tensor>&& grad_outputs) {
    TG_CHECK(has_backward(), name_,
             "trying to backward through the graph a second time (the first backward freed "
             "its saved tensors); call backward(grad, /*retain_graph=*/true) the first time");
    for (std::size_t i = 0; i < grad_outputs.size(); ++i)
        if (!grad_outputs[i].defined())
            grad_outputs[i] = zeros(outputs_[i].sizes, outputs_[i].dtype);
    return run_backward(grad_outputs);
}

std::size_t take_pending_saved_bytes() { return std::exchange(pending_saved_bytes, 0); }

void attach_node(std::shared_ptr<FunctionNode> node, const Tensor* inputs, std::size_t num_inputs,
                 Tensor* const* outputs, std::size_t num_outputs) {
    if (const auto& scope = current_scope_path()) NodeAccess::scope(*node) = scope;
    auto& edges = NodeAccess::edges(*node);
    edges = take_spare_edges();
    edges.reserve(num_inputs);
    for (std::size_t i = 0; i < num_inputs; ++i)
        edges.push_back(requires_grad_of(inputs[i]) ? gradient_edge(inputs[i]) : Edge{});
    auto& metas = NodeAccess::outputs(*node);
    metas.reserve(num_outputs);
    for (std::size_t k = 0; k < num_outputs; ++k) {
        Tensor& out = *outputs[k];
        metas.push_back({impl_of(out).sizes(), impl_of(out).dtype()});
        auto& meta = impl_of(out).ensure_autograd();
        meta.requires_grad = true;
        meta.grad_fn = node;
        meta.output_nr = static_cast<std::uint32_t>(k);
    }
    if (anomaly_enabled()) {
        const std::vector<Tensor*> outs(outputs, outputs + num_outputs);
        anomaly_check_forward(*node, inputs, num_inputs, outs);
    }
}

void check_inplace(const Tensor& target, std::string_view op) {
    check_defined(target, op);
    TG_CHECK(!(GradMode::is_enabled() && target.requires_grad()), op,
             "cannot write in place to a tensor of shape {} that requires grad while grad mode "
             "is on; wrap the update in tg::NoGradGuard (as optimizers do) or use the "
             "out-of-place op",
             target.sizes());
}

void bump_version(const Tensor& target) { ++impl_of(target).storage()->version; }

}  // namespace tg::detail
