// Loss modules (libtorch's torch::nn::CrossEntropyLoss, MSELoss, ...): each holds its
// options and calls its tg::nn::functional form, so `loss_fn(output, target)` can be
// passed around (tg::train::fit takes one) and prints in a module tree.
#pragma once

#include <ostream>

#include "tapegrad/arg.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::nn {

using functional::Reduction;

// A module of two tensors (output, target) -> loss. Not Sequential-able: the one-input
// forward inherited from Module throws.
class LossModule : public Module {
public:
    using Module::Module;
    using Module::forward;
    virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
    Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
};

// Options of the losses whose only option is the reduction.
class LossOptions {
public:
    LossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
    // Mean (default), Sum, or None (per-element losses).
    TG_ARG(Reduction, reduction, Reduction::Mean);
};

class CrossEntropyLossOptions {
public:
    CrossEntropyLossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
    // Mean (default), Sum, or None (per-example losses).
    TG_ARG(Reduction, reduction, Reduction::Mean);
    // Epsilon in [0, 1]: mixes the targets with the uniform distribution.
    TG_ARG(double, label_smoothing, 0.0);
};

class HuberLossOptions {
public:
    HuberLossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
    // Mean (default), Sum, or None (per-element losses).
    TG_ARG(Reduction, reduction, Reduction::Mean);
    // Where the loss turns from quadratic to linear (> 0).
    TG_ARG(double, delta, 1.0);
};

class SmoothL1LossOptions {
public:
    SmoothL1LossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
    // Mean (default), Sum, or None (per-element losses).
    TG_ARG(Reduction, reduction, Reduction::Mean);
    // Where the loss turns from quadratic to linear (>= 0).
    TG_ARG(double, beta, 1.0);
};

class HingeEmbeddingLossOptions {
public:
    HingeEmbeddingLossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
    // Mean (default), Sum, or None (per-element losses).
    TG_ARG(Reduction, reduction, Reduction::Mean);
    // The margin for labels of -1.
    TG_ARG(double, margin, 1.0);
};

// Declares a loss module `Name` over its options type; the definitions are in lib/nn/loss.cpp.
#define TG_DECLARE_LOSS(Name, Options)                                           \
    class Name : public LossModule {                                             \
    public:                                                                      \
        explicit Name(const Options& options = {});                              \
        using LossModule::forward;                                               \
        Tensor forward(const Tensor& input, const Tensor& target) override;      \
        void pretty_print(std::ostream& os) const override;                      \
        Options options;                                                         \
    }

// Logits (N, C) and int64 class indices (N); label smoothing as in functional::cross_entropy.
TG_DECLARE_LOSS(CrossEntropyLoss, CrossEntropyLossOptions);
// Log-probabilities (N, C) and int64 class indices (N).
TG_DECLARE_LOSS(NLLLoss, LossOptions);
TG_DECLARE_LOSS(MSELoss, LossOptions);
TG_DECLARE_LOSS(L1Loss, LossOptions);
TG_DECLARE_LOSS(HuberLoss, HuberLossOptions);
TG_DECLARE_LOSS(SmoothL1Loss, SmoothL1LossOptions);
// TF-1's tf.losses.hinge_loss on {0, 1} labels.
TG_DECLARE_LOSS(HingeLoss, LossOptions);
// libtorch's HingeEmbeddingLoss on {-1, 1} labels.
TG_DECLARE_LOSS(HingeEmbeddingLoss, HingeEmbeddingLossOptions);
TG_DECLARE_LOSS(BCEWithLogitsLoss, LossOptions);
// Input log-probabilities, target probabilities.
TG_DECLARE_LOSS(KLDivLoss, LossOptions);

#undef TG_DECLARE_LOSS

}  // namespace tg::nn

TG_PUBLIC_END
