// The loss modules of tapegrad/nn/loss.hpp: each forwards to its functional form, which
// owns the checks and the math.
#include "tapegrad/nn/loss.hpp"

#include <ostream>
#include <string_view>

namespace tg::nn {
namespace {

std::string_view reduction_name(Reduction r) {
    switch (r) {
        case Reduction::None: return "none";
        case Reduction::Sum: return "sum";
        case Reduction::Mean: break;
    }
    return "mean";
}

}  // namespace

namespace F = functional;

// Defines the constructor and printing of loss `Name`; `call` is its forward's body and
// `extra` prints the options beyond the reduction.
#define TG_DEFINE_LOSS(Name, Options, call, extra)                                         \
    Name::Name(const Options& options_) : LossModule(#Name), options(options_) {}          \
    Tensor Name::forward(const Tensor& input, const Tensor& target) { return call; }       \
    void Name::pretty_print(std::ostream& os) const {                                      \
        os << #Name "(reduction=" << reduction_name(options.reduction()) << extra << ")";  \
    }

TG_DEFINE_LOSS(CrossEntropyLoss, CrossEntropyLossOptions,
               F::cross_entropy(input, target, options.reduction(), options.label_smoothing()),
               ", label_smoothing=" << options.label_smoothing())
TG_DEFINE_LOSS(NLLLoss, LossOptions, F::nll_loss(input, target, options.reduction()), "")
TG_DEFINE_LOSS(MSELoss, LossOptions, F::mse_loss(input, target, options.reduction()), "")
TG_DEFINE_LOSS(L1Loss, LossOptions, F::l1_loss(input, target, options.reduction()), "")
TG_DEFINE_LOSS(HuberLoss, HuberLossOptions,
               F::huber_loss(input, target, options.reduction(), options.delta()),
               ", delta=" << options.delta())
TG_DEFINE_LOSS(SmoothL1Loss, SmoothL1LossOptions,
               F::smooth_l1_loss(input, target, options.reduction(), options.beta()),
               ", beta=" << options.beta())
TG_DEFINE_LOSS(HingeLoss, LossOptions, F::hinge_loss(input, target, options.reduction()), "")
TG_DEFINE_LOSS(HingeEmbeddingLoss, HingeEmbeddingLossOptions,
               F::hinge_embedding_loss(input, target, options.reduction(), options.margin()),
               ", margin=" << options.margin())
TG_DEFINE_LOSS(BCEWithLogitsLoss, LossOptions,
               F::binary_cross_entropy_with_logits(input, target, options.reduction()), "")
TG_DEFINE_LOSS(KLDivLoss, LossOptions, F::kl_div(input, target, options.reduction()), "")

#undef TG_DEFINE_LOSS

}  // namespace tg::nn
