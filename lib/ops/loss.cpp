// The classification losses of tg::nn::functional. cross_entropy is one fused
// op (it runs on every classifier step): a single pass over the logits computes each row's
// log-sum-exp and picks the target's logit; its backward is (softmax - one_hot) * g.
#include <cmath>
#include <limits>

#include "autograd/record.hpp"
#include "tensor/trace.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/elementwise.hpp"

namespace tg {

using detail::GradList;
using detail::SavedTensor;

namespace nn::functional {

namespace {

Tensor reduce(const Tensor& loss, Reduction reduction) {
    switch (reduction) {
        case Reduction::Mean: return mean(loss);
        case Reduction::Sum: return sum(loss);
        case Reduction::None: break;
    }
    return loss;
}

// Logits/log-probabilities (N, C) float and int64 targets (N) with every value in [0, C).
void check_class_targets(const Tensor& input, const Tensor& targets, std::string_view op, std::string_view what) {
    detail::check_floating(input, op);
    detail::check_defined(targets, op);
    TG_CHECK(input.dim() == 2, op, "expected {} of shape (N, C), got {}", what, input.sizes());
    TG_CHECK(targets.dtype() == kInt64, op, "expected int64 class indices as targets, got {} of shape {}",
             dtype_name(targets.dtype()), targets.sizes());
    TG_CHECK(targets.dim() == 1 && targets.sizes()[0] == input.sizes()[0], op,
             "targets of shape {} do not match {} of shape {} (expected [{}])", targets.sizes(), what,
             input.sizes(), input.sizes()[0]);
    const std::int64_t classes = input.sizes()[1];
    const std::int64_t* pt = impl_of(targets).data_as<std::int64_t>();
    const std::int64_t st = targets.strides()[0];
    for (std::int64_t i = 0; i < targets.numel(); ++i)
        TG_CHECK(pt[i * st] >= 0 && pt[i * st] < classes, op,
                 "target {} at position {} is out of range [0, {}) for {} of shape {}", pt[i * st], i, classes, what,
                 input.sizes());
}

}  // namespace

Tensor softmax_cross_entropy_with_logits(const Tensor& logits, const Tensor& labels, Reduction reduction,
                                         std::int64_t axis) {
    constexpr std::string_view op = "softmax_cross_entropy_with_logits";
    detail::check_floating(logits, op);
    detail::check_floating(labels, op);
    TG_CHECK(logits.dim() >= 1, op, "expected logits of at least 1 dim (classes along axis), got shape {}",
             logits.sizes());
    TG_CHECK(labels.sizes() == logits.sizes(), op, "labels of shape {} do not match logits of shape {}",
             labels.sizes(), logits.sizes());
    detail::check_same_dtype(logits, labels, op);
    const std::int64_t classes = detail::wrap_dim(axis, logits.sizes(), op);
    // log_softmax is stable for any logit magnitude, and labels * log_softmax never forms
    // 0 * -inf for finite logits.
    return reduce(neg(sum(labels * log_softmax(logits, classes), {classes})), reduction);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Reduction reduction) {
    check_class_targets(logits, targets, "cross_entropy", "logits");
    const std::int64_t n = logits.sizes()[0], c = logits.sizes()[1];
    const Tensor x = logits.detach().contiguous();
    const Tensor t = targets.contiguous();
    Tensor loss = make_tensor({n}, logits.dtype());
    Tensor lse = make_tensor({n}, logits.dtype());  // per row, reused by the backward
    detail::visit_floating(x.dtype(), "cross_entropy", [&](auto v) {
        using T = decltype(v);
        const T* px = impl_of(x).data_as<T>();
        const std::int64_t* pt = impl_of(t).data_as<std::int64_t>();
        T* pl = impl_of(loss).data_as<T>();
        T* ps = impl_of(lse).data_as<T>();
        for (std::int64_t i = 0; i < n; ++i) {
            const T* row = px + i * c;
            T max = -std::numeric_limits<T>::infinity();
            for (std::int64_t j = 0; j < c; ++j) max = row[j] > max ? row[j] : max;
            const T shift = std::isfinite(max) ? max : T(0);  // log-sum-exp trick, see softmax.cpp
            double total = 0;
            for (std::int64_t j = 0; j < c; ++j) total += std::exp(row[j] - shift);
            ps[i] = shift + static_cast<T>(std::log(total));
            pl[i] = ps[i] - row[pt[i]];
        }
    });
    if (detail::needs_grad(logits))
        detail::record("cross_entropy", {logits}, loss,
                       [sx = SavedTensor(logits), st = SavedTensor(targets), lse](const Tensor& g) -> GradList {
                           const Tensor x = sx.unpack(), t = st.unpack();
                           if (GradMode::is_enabled())  // create_graph: the same formula, recorded
                               return {(softmax(x, 1) - one_hot(t, x.sizes()[1], x.dtype())) * unsqueeze(g, 1)};
                           // One pass: dx[i][j] = (exp(x[i][j] - lse[i]) - [j == t[i]]) * g[i].
                           const std::int64_t rows = x.sizes()[0], cols = x.sizes()[1];
                           const Tensor cx = x.contiguous(), ct = t.contiguous();
                           Tensor dx = make_tensor(x.sizes(), x.dtype());
                           detail::visit_floating(x.dtype(), "cross_entropy", [&](auto v) {
                               using T = decltype(v);
                               const T* px = impl_of(cx).data_as<T>();
                               const T* ps = impl_of(lse).data_as<T>();
                               const Tensor gg = g.to(x.dtype());
                               const T* pg = impl_of(gg).data_as<T>();
                               const std::int64_t sg = gg.dim() == 0 ? 0 : gg.strides()[0];
                               const std::int64_t* pt = impl_of(ct).data_as<std::int64_t>();
                               T* pd = impl_of(dx).data_as<T>();
                               for (std::int64_t i = 0; i < rows; ++i) {
                                   const T gi = pg[i * sg], s = ps[i];
                                   const T* xr = px + i * cols;
                                   T* dr = pd + i * cols;
                                   for (std::int64_t j = 0; j < cols; ++j) dr[j] = std::exp(xr[j] - s) * gi;
                                   dr[pt[i]] -= gi;
                               }
                           });
                           return {dx};
                       });
    TG_TRACE("cross_entropy", {logits, targets}, loss);  // per sample; the reduction is traced on its own
    return reduce(loss, reduction);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& targets, Reduction reduction) {
    check_class_targets(log_probs, targets, "nll_loss", "log_probs");
    const std::int64_t n = log_probs.sizes()[0];
    Tensor loss = make_tensor({n}, log_probs.dtype());
    detail::visit_floating(log_probs.dtype(), "nll_loss", [&](auto v) {
        using T = decltype(v);
        const T* pl = impl_of(log_probs).data_as<T>();
        const std::int64_t s0 = log_probs.strides()[0], s1 = log_probs.strides()[1];
        const std::int64_t* pt = impl_of(targets).data_as<std::int64_t>();
        const std::int64_t st = targets.strides()[0];
        T* po = impl_of(loss).data_as<T>();
        for (std::int64_t i = 0; i < n; ++i) po[i] = -pl[i * s0 + pt[i * st] * s1];
    });
    // dx[i][j] = -g[i] at j == t[i], 0 elsewhere: needs the targets and C, not the input's values.
    if (detail::needs_grad(log_probs))
        detail::record("nll_loss", {log_probs}, loss,
                       [st = SavedTensor(targets), classes = log_probs.sizes()[1]](const Tensor& g) -> GradList {
                           return {one_hot(st.unpack(), classes, g.dtype()) * unsqueeze(neg(g), 1)};
                       });
    TG_TRACE("nll_loss", {log_probs, targets}, loss);
    return reduce(loss, reduction);
}

// ---- regression and probabilistic losses: compositions of differentiable ops ----------------

namespace {

// input and target: both floating, one dtype, exactly the same shape (no broadcasting).
void check_pair(const Tensor& input, const Tensor& target, std::string_view op, std::string_view input_name,
                std::string_view target_name) {
    detail::check_defined(input, op);
    detail::check_defined(target, op);
    TG_CHECK(input.is_floating_point(), op, "expected {} of dtype float32 or float64, got {} of shape {}",
             input_name, dtype_name(input.dtype()), input.sizes());
    TG_CHECK(target.is_floating_point(), op, "expected {} of dtype float32 or float64, got {} of shape {}",
             target_name, dtype_name(target.dtype()), target.sizes());
    TG_CHECK(input.sizes() == target.sizes(), op,
             "{} of shape {} and {} of shape {} differ (shapes must match exactly, no broadcasting)",
             input_name, input.sizes(), target_name, target.sizes());
    TG_CHECK(input.dtype() == target.dtype(), op, "{} is {} but {} is {} (shape {}); convert one with .to()",
             input_name, dtype_name(input.dtype()), target_name, dtype_name(target.dtype()), input.sizes());
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Reduction reduction, double label_smoothing) {
    TG_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, "cross_entropy",
             "label_smoothing must be in [0, 1], got {}", label_smoothing);
    if (label_smoothing == 0.0) return cross_entropy(logits, targets, reduction);
    check_class_targets(logits, targets, "cross_entropy", "logits");
    const Tensor log_probs = log_softmax(logits, 1);
    const Tensor nll = nll_loss(log_probs, targets, Reduction::None);
    const Tensor smooth = neg(mean(log_probs, {1}));  // the uniform distribution's cross entropy
    return reduce(nll * (1.0 - label_smoothing) + smooth * label_smoothing, reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
    check_pair(input, target, "mse_loss", "input", "target");
    return reduce(square(input - target), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
    check_pair(input, target, "l1_loss", "input", "target");
    return reduce(abs(input - target), reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta) {
    check_pair(input, target, "huber_loss", "input", "target");
    TG_CHECK(delta > 0.0, "huber_loss", "delta must be positive, got {}", delta);
    const Tensor d = input - target;
    const Tensor ad = abs(d);
    const Tensor quadratic = ad.detach() < delta;
    return reduce(where(quadratic, square(d) * 0.5, (ad - 0.5 * delta) * delta), reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
    check_pair(input, target, "smooth_l1_loss", "input", "target");
    TG_CHECK(beta >= 0.0, "smooth_l1_loss", "beta must be non-negative, got {}", beta);
    const Tensor d = input - target;
    const Tensor ad = abs(d);
    if (beta == 0.0) return reduce(ad, reduction);  // the quadratic branch would divide by 0
    const Tensor quadratic = ad.detach() < beta;
    return reduce(where(quadratic, square(d) * (0.5 / beta), ad - 0.5 * beta), reduction);
}

// Throws unless every label is one of the two values the loss gives a meaning to.
void check_binary_labels(const Tensor& labels, std::string_view op, double negative, double positive) {
    const Tensor lc = labels.detach().contiguous();
    detail::visit_floating(lc.dtype(), op, [&](auto v) {
        using T = decltype(v);
        const T* pl = impl_of(lc).data_as<T>();
        for (std::int64_t i = 0; i < lc.numel(); ++i)
            TG_CHECK(pl[i] == T(negative) || pl[i] == T(positive), op,
                     "labels must be {} or {}, got {} at flat position {} (labels of shape {})",
                     negative, positive, static_cast<double>(pl[i]), i, labels.sizes());
    });
}

Tensor hinge_loss(const Tensor& logits, const Tensor& labels, Reduction reduction) {
    constexpr std::string_view op = "hinge_loss";
    check_pair(logits, labels, op, "logits", "labels");
    check_binary_labels(labels, op, 0.0, 1.0);
    const Tensor signs = labels * 2.0 - 1.0;  // {0, 1} -> {-1, +1}
    return reduce(relu(rsub(signs * logits, 1.0)), reduction);
}

Tensor hinge_embedding_loss(const Tensor& input, const Tensor& labels, Reduction reduction, double margin) {
    constexpr std::string_view op = "hinge_embedding_loss";
    check_pair(input, labels, op, "input", "labels");
    check_binary_labels(labels, op, -1.0, 1.0);
    return reduce(where(labels.detach() > 0.0, input, relu(rsub(input, margin))), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets, Reduction reduction) {
    check_pair(logits, targets, "binary_cross_entropy_with_logits", "logits", "targets");
    // softplus(x) = max(x, 0) + log1p(exp(-|x|)) never overflows; its gradient is sigmoid(x),
    // so d/dx = sigmoid(x) - t, also at x = 0.
    return reduce(softplus(logits) - logits * targets, reduction);
}

Tensor kl_div(const Tensor& input_log_probs, const Tensor& target_probs, Reduction reduction) {
    check_pair(input_log_probs, target_probs, "kl_div", "input", "target");
    // target * (log(target) - input) is 0 where target == 0: log takes a safe 1 there, so
    // neither the forward nor the backward meets log(0) = -inf (0 * -inf = nan).
    const Tensor positive = target_probs.detach() > 0.0;
    const Tensor safe = where(positive, target_probs, ones_like(target_probs));
    return reduce(target_probs * (log(safe) - input_log_probs), reduction);
}

// ---- losses on probabilities, similarities and distances --------------------------------------

// libtorch's binary_cross_entropy: -w (t log(x) + (1 - t) log(1 - x)) on probabilities x in
// [0, 1], each log clamped at -100 so x = 0 or 1 gives a finite loss. One node whose backward
// is libtorch's: (x - t) / max(x (1 - x), 1e-12) for the input, log(1 - x) - log(x) (clamped)
// for the target, times w g; written with ops, so it differentiates again.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction) {
    constexpr std::string_view op = "binary_cross_entropy";
    check_pair(input, target, op, "input", "target");
    if (weight.defined()) {
        detail::check_same_dtype(input, weight, op);
        TG_CHECK(detail::broadcast_shape(weight.sizes(), input.sizes(), op) == input.sizes(), op,
                 "weight of shape {} does not broadcast to the input's shape {}", weight.sizes(), input.sizes());
    }
    const Tensor x = input.detach(), t = target.detach();
    TG_CHECK(sum(logical_or(x < 0.0, x > 1.0)).item<std::int64_t>() == 0, op,
             "all elements of input (shape {}) must be probabilities in [0, 1]; for logits use "
             "binary_cross_entropy_with_logits", input.sizes());
    auto clamped_log = [](const Tensor& p) { return clamp(log(p), -100.0, std::nullopt); };
    Tensor loss = neg(t * clamped_log(x) + rsub(t, 1.0) * clamped_log(rsub(x, 1.0)));
    if (weight.defined()) loss = loss * weight.detach();
    if (detail::needs_grad(input, target, weight))
        detail::record(op, {input, target}, loss,
                       [sx = SavedTensor(input), st = SavedTensor(target), sw = SavedTensor(weight), clamped_log,
                        input_grad = input.requires_grad(), target_grad = target.requires_grad()](const Tensor& g) -> GradList {
                           const Tensor xv = sx.unpack(), tv = st.unpack();
                           const Tensor wg = sw.defined() ? g * sw.unpack() : g;
                           return {input_grad ? wg * (xv - tv) / clamp(xv * rsub(xv, 1.0), 1e-12, std::nullopt) : Tensor(),
                                   target_grad ? wg * (clamped_log(rsub(xv, 1.0)) - clamped_log(xv)) : Tensor()};
                       });
    return reduce(loss, reduction);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction) {
    return binary_cross_entropy(input, target, Tensor(), reduction);
}

// libtorch's margin_ranking_loss: max(0, -target * (input1 - input2) + margin).
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin,
                           Reduction reduction) {
    constexpr std::string_view op = "margin_ranking_loss";
    check_pair(input1, input2, op, "input1", "input2");
    check_pair(input1, target, op, "input1", "target");
    return reduce(relu(neg(target) * (input1 - input2) + margin), reduction);
}

// libtorch's cosine_embedding_loss on (N, D) or (D) inputs and targets of 1 or -1 (N) or ():
// 1 - cos where the target is 1, max(0, cos - margin) where it is -1, with libtorch's cosine
// sum(x1 x2) / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)).
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin,
                             Reduction reduction) {
    constexpr std::string_view op = "cosine_embedding_loss";
    check_pair(input1, input2, op, "input1", "input2");
    detail::check_floating(target, op);
    TG_CHECK(input1.dim() == 1 || input1.dim() == 2, op, "expected inputs of shape (N, D) or (D), got {}",
             input1.sizes());
    TG_CHECK(target.dim() == input1.dim() - 1 && (target.dim() == 0 || target.sizes()[0] == input1.sizes()[0]), op,
             "target of shape {} does not match inputs of shape {} (expected one target per row)", target.sizes(),
             input1.sizes());
    check_binary_labels(target, op, -1.0, 1.0);
    constexpr double eps = 1e-12;
    const Tensor dot = sum(input1 * input2, {-1});
    const Tensor cos = dot / sqrt((sum(square(input1), {-1}) + eps) * (sum(square(input2), {-1}) + eps));
    return reduce(where(target.detach() > 0.0, rsub(cos, 1.0), relu(cos - margin)), reduction);
}

// libtorch's triplet_margin_loss: max(0, margin + d(anchor, positive) - d(anchor, negative))
// with d = pairwise_distance(., ., p, eps); swap uses min(d(a, n), d(p, n)) as the negative
// distance (Balntas et al.).
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative, double margin,
                           double p, double eps, bool swap, Reduction reduction) {
    constexpr std::string_view op = "triplet_margin_loss";
    detail::check_floating(anchor, op);
    detail::check_floating(positive, op);
    detail::check_floating(negative, op);
    TG_CHECK(anchor.dim() == positive.dim() && anchor.dim() == negative.dim() && (anchor.dim() == 1 || anchor.dim() == 2),
             op, "anchor {}, positive {} and negative {} must all be (N, D) or all (D)", anchor.sizes(),
             positive.sizes(), negative.sizes());
    const Tensor d_pos = pairwise_distance(anchor, positive, p, eps);
    Tensor d_neg = pairwise_distance(anchor, negative, p, eps);
    if (swap) d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps));
    return reduce(relu(d_pos - d_neg + margin), reduction);
}

}  // namespace nn::functional
}  // namespace tg
