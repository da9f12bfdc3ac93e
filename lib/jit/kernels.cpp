// One entry per traced kind: the node's attributes turned back into the arguments of
// the same public op that reported it. Adding a TG_TRACE line to an op means adding its
// entry here; trace() refuses a kind without one.
#include "jit/kernels.hpp"

#include <cmath>
#include <map>
#include <optional>
#include <string>

#include "tapegrad/error.hpp"
#include "tensor/check.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/nn/rnn.hpp"
#include "tapegrad/ops.hpp"

namespace tg::jit::detail {

namespace {

namespace F = tg::nn::functional;
using Inputs = std::vector<Tensor>;
using Outputs = std::vector<Tensor>;

Shape shape_attr(const Node& n, const std::string& name) { return Shape(n.ints(name)); }
// An integer attribute a graph traced before it existed lacks (conv2d's groups, pooling's
// ceil_mode; max_pool2d's dilation likewise defaults to 1).
std::int64_t int_attr_or(const Node& n, const std::string& name, std::int64_t fallback) {
    return n.has(name) ? n.i(name) : fallback;
}

F::PadMode pad_mode(const Node& n) {
    static const std::map<std::string, F::PadMode, std::less<>> modes = {
        {"constant", F::PadMode::Constant}, {"reflect", F::PadMode::Reflect}, {"replicate", F::PadMode::Replicate},
        {"circular", F::PadMode::Circular}, {"symmetric", F::PadMode::Symmetric}};
    const auto it = modes.find(n.s("mode"));
    TG_CHECK(it != modes.end(), "jit", "pad node: unknown mode '{}'", n.s("mode"));
    return it->second;
}

F::Padding padding_mode(const Node& n) { return n.s("padding_mode") == "same" ? F::Padding::Same : F::Padding::Valid; }

template <Tensor (*Op)(const Tensor&)>
Kernel unary() {
    return [](const Node&, const Inputs& in) { return Outputs{Op(in[0])}; };
}
template <Tensor (*Op)(const Tensor&, const Tensor&)>
Kernel binary() {
    return [](const Node&, const Inputs& in) { return Outputs{Op(in[0], in[1])}; };
}

// gru / lstm / rnn nodes: inputs (input, h0, c0, lengths, then weight_ih, weight_hh,
// bias_ih, bias_hh per layer and direction), the module's options as attributes.
Outputs run_rnn(const Node& n, const Inputs& in, nn::RNNCellKind kind) {
    nn::RNNOptions options(n.i("input_size"), n.i("hidden_size"));
    options.num_layers(n.i("num_layers"))
        .bias(n.i("bias") != 0)
        .batch_first(n.i("batch_first") != 0)
        .dropout(n.f("dropout"))
        .bidirectional(n.i("bidirectional") != 0)
        .nonlinearity(n.i("relu") != 0 ? nn::RNNNonlinearity::ReLU : nn::RNNNonlinearity::Tanh)
        .forget_bias(n.f("forget_bias"));
    std::vector<nn::RNNCellWeights> layers;
    for (std::size_t k = 4; k + 3 < in.size(); k += 4) {
        nn::RNNCellWeights w;
        w.kind = kind;
        w.nonlinearity = options.nonlinearity();
        w.forget_bias = kind == nn::RNNCellKind::LSTM ? options.forget_bias() : 0.0;
        w.weight_ih = in[k];
        w.weight_hh = in[k + 1];
        w.bias_ih = in[k + 2];
        w.bias_hh = in[k + 3];
        layers.push_back(w);
    }
    nn::RNNState hx;
    if (in[1].defined()) hx.push_back(in[1]);
    if (in[2].defined()) hx.push_back(in[2]);
    auto [output, state] = nn::rnn_sequence(layers, options, n.i("training") != 0, in[0], hx, in[3]);
    Outputs out{output};
    out.insert(out.end(), state.begin(), state.end());
    return out;
}

const std::map<std::string, Kernel, std::less<>>& table() {
    static const std::map<std::string, Kernel, std::less<>> kernels = {
        // elementwise
        {"add", [](const Node& n, const Inputs& in) { return Outputs{add(in[0], in[1], n.f("alpha"))}; }},
        {"sub", [](const Node& n, const Inputs& in) { return Outputs{sub(in[0], in[1], n.f("alpha"))}; }},
        {"mul", binary<mul>()},
        {"div", binary<div>()},
        {"maximum", binary<maximum>()},
        {"minimum", binary<minimum>()},
        {"pow",
         [](const Node& n, const Inputs& in) {
             if (in.size() == 2) return Outputs{pow(in[0], in[1])};
             return Outputs{pow(in[0], n.f("exponent"))};
         }},
        {"clamp",
         [](const Node& n, const Inputs& in) {
             const double lo = n.f("min"), hi = n.f("max");
             return Outputs{clamp(in[0], std::isinf(lo) ? std::nullopt : std::optional<double>(lo),
                                  std::isinf(hi) ? std::nullopt : std::optional<double>(hi))};
         }},
        {"neg", unary<neg>()},
        {"exp", unary<exp>()},
        {"log", unary<log>()},
        {"sqrt", unary<sqrt>()},
        {"abs", unary<abs>()},
        {"sign", unary<sign>()},
        {"square", unary<square>()},
        {"sin", unary<sin>()},
        {"cos", unary<cos>()},
        {"rsqrt", unary<rsqrt>()},
        {"reciprocal", unary<reciprocal>()},
        {"expm1", unary<expm1>()},
        {"log1p", unary<log1p>()},
        {"erf", unary<erf>()},
        // activations
        {"relu", unary<relu>()},
        {"sigmoid", unary<sigmoid>()},
        {"tanh", unary<tanh>()},
        {"softplus", [](const Node& n, const Inputs& in) { return Outputs{softplus(in[0], n.f("beta"), n.f("threshold"))}; }},
        {"silu", unary<silu>()},
        {"selu", unary<selu>()},
        {"softsign", unary<softsign>()},
        {"relu6", [](const Node&, const Inputs& in) { return Outputs{relu6(in[0])}; }},
        {"hardsigmoid", [](const Node&, const Inputs& in) { return Outputs{hardsigmoid(in[0])}; }},
        {"hardtanh",
         [](const Node& n, const Inputs& in) { return Outputs{hardtanh(in[0], n.f("min_val"), n.f("max_val"))}; }},
        {"elu", [](const Node& n, const Inputs& in) { return Outputs{elu(in[0], n.f("alpha"))}; }},
        {"leaky_relu",
         [](const Node& n, const Inputs& in) { return Outputs{leaky_relu(in[0], n.f("negative_slope"))}; }},
        {"gelu", [](const Node& n, const Inputs& in) { return Outputs{gelu(in[0], n.s("approximate"))}; }},
        {"softmax", [](const Node& n, const Inputs& in) { return Outputs{softmax(in[0], n.i("dim"))}; }},
        {"log_softmax", [](const Node& n, const Inputs& in) { return Outputs{log_softmax(in[0], n.i("dim"))}; }},
        {"logsumexp",
         [](const Node& n, const Inputs& in) { return Outputs{logsumexp(in[0], n.i("dim"), n.i("keepdim") != 0)}; }},
        // reductions, shapes, copies
        {"sum",
         [](const Node& n, const Inputs& in) { return Outputs{sum(in[0], shape_attr(n, "dims"), n.i("keepdim") != 0)}; }},
        {"view",
         [](const Node& n, const Inputs& in) {
             return Outputs{reshape(in[0], shape_attr(n, "shape"))};  // a fed input need not be contiguous
         }},
        {"permute", [](const Node& n, const Inputs& in) { return Outputs{permute(in[0], shape_attr(n, "dims"))}; }},
        {"expand", [](const Node& n, const Inputs& in) { return Outputs{expand(in[0], shape_attr(n, "sizes"))}; }},
        {"narrow",
         [](const Node& n, const Inputs& in) {
             return Outputs{narrow(in[0], n.i("dim"), n.i("start"), n.i("length"))};
         }},
        {"flip", [](const Node& n, const Inputs& in) { return Outputs{flip(in[0], shape_attr(n, "dims"))}; }},
        {"cat", [](const Node& n, const Inputs& in) { return Outputs{cat(in, n.i("dim"))}; }},
        {"clone", [](const Node&, const Inputs& in) { return Outputs{in[0].clone()}; }},
        {"to", [](const Node& n, const Inputs& in) { return Outputs{in[0].to(static_cast<Dtype>(n.i("dtype")))}; }},
        // linear algebra and layers
        {"mm", binary<mm>()},
        {"bmm", binary<bmm>()},
        {"addmm",
         [](const Node& n, const Inputs& in) { return Outputs{addmm(in[0], in[1], in[2], n.f("beta"), n.f("alpha"))}; }},
        {"linear", [](const Node&, const Inputs& in) { return Outputs{F::linear(in[0], in[1], in[2])}; }},
        {"conv2d",
         [](const Node& n, const Inputs& in) {
             if (n.has("padding_mode"))
                 return Outputs{F::conv2d(in[0], in[1], in[2], shape_attr(n, "stride"), padding_mode(n),
                                          shape_attr(n, "dilation"), int_attr_or(n, "groups", 1))};
             return Outputs{F::conv2d(in[0], in[1], in[2], shape_attr(n, "stride"), shape_attr(n, "padding"),
                                      shape_attr(n, "dilation"), int_attr_or(n, "groups", 1))};
         }},
        {"conv_transpose2d",
         [](const Node& n, const Inputs& in) {
             return Outputs{F::conv_transpose2d(in[0], in[1], in[2], shape_attr(n, "stride"), shape_attr(n, "padding"),
                                                shape_attr(n, "output_padding"), n.i("groups"),
                                                shape_attr(n, "dilation"))};
         }},
        {"unfold",
         [](const Node& n, const Inputs& in) {
             return Outputs{F::unfold(in[0], shape_attr(n, "kernel_size"), shape_attr(n, "dilation"),
                                      shape_attr(n, "padding"), shape_attr(n, "stride"))};
         }},
        {"fold",
         [](const Node& n, const Inputs& in) {
             return Outputs{F::fold(in[0], shape_attr(n, "output_size"), shape_attr(n, "kernel_size"),
                                    shape_attr(n, "dilation"), shape_attr(n, "padding"), shape_attr(n, "stride"))};
         }},
        {"max_pool2d",
         [](const Node& n, const Inputs& in) {
             if (n.has("padding_mode"))
                 return Outputs{F::max_pool2d(in[0], shape_attr(n, "kernel"), shape_attr(n, "stride"), padding_mode(n))};
             return Outputs{F::max_pool2d(in[0], shape_attr(n, "kernel"), shape_attr(n, "stride"), shape_attr(n, "padding"),
                                          n.has("dilation") ? shape_attr(n, "dilation") : Shape{1, 1},
                                          int_attr_or(n, "ceil_mode", 0) != 0)};
         }},
        {"avg_pool2d",
         [](const Node& n, const Inputs& in) {
             if (n.has("padding_mode"))
                 return Outputs{F::avg_pool2d(in[0], shape_attr(n, "kernel"), shape_attr(n, "stride"), padding_mode(n))};
             return Outputs{F::avg_pool2d(in[0], shape_attr(n, "kernel"), shape_attr(n, "stride"), shape_attr(n, "padding"),
                                          int_attr_or(n, "ceil_mode", 0) != 0, n.i("count_include_pad") != 0)};
         }},
        {"adaptive_avg_pool2d",
         [](const Node& n, const Inputs& in) { return Outputs{F::adaptive_avg_pool2d(in[0], shape_attr(n, "output_size"))}; }},
        {"batch_norm",
         [](const Node& n, const Inputs& in) {
             return Outputs{F::batch_norm(in[0], in[1], in[2], in[3], in[4], n.i("training") != 0, n.f("momentum"),
                                          n.f("eps"))};
         }},
        {"dropout",
         [](const Node& n, const Inputs& in) { return Outputs{F::dropout(in[0], n.f("p"), n.i("training") != 0)}; }},
        {"embedding", [](const Node&, const Inputs& in) { return Outputs{F::embedding(in[0], in[1])}; }},
        {"rnn", [](const Node& n, const Inputs& in) { return run_rnn(n, in, nn::RNNCellKind::RNN); }},
        {"gru", [](const Node& n, const Inputs& in) { return run_rnn(n, in, nn::RNNCellKind::GRU); }},
        {"lstm", [](const Node& n, const Inputs& in) { return run_rnn(n, in, nn::RNNCellKind::LSTM); }},
        {"group_norm",
         [](const Node& n, const Inputs& in) {
             return Outputs{F::group_norm(in[0], n.i("num_groups"), in[1], in[2], n.f("eps"))};
         }},
        {"mean",
         [](const Node& n, const Inputs& in) { return Outputs{mean(in[0], shape_attr(n, "dims"), n.i("keepdim") != 0)}; }},
        {"var",
         [](const Node& n, const Inputs& in) {
             return Outputs{var(in[0], shape_attr(n, "dims"), n.i("unbiased") != 0, n.i("keepdim") != 0)};
         }},
        {"std",
         [](const Node& n, const Inputs& in) {
             return Outputs{tg::std(in[0], shape_attr(n, "dims"), n.i("unbiased") != 0, n.i("keepdim") != 0)};
         }},
        {"layer_norm",
         [](const Node& n, const Inputs& in) {
             return Outputs{F::layer_norm(in[0], shape_attr(n, "normalized_shape"), in[1], in[2], n.f("eps"))};
         }},
        {"instance_norm",
         [](const Node& n, const Inputs& in) {
             return Outputs{F::instance_norm(in[0], in[1], in[2], in[3], in[4], n.i("use_input_stats") != 0,
                                             n.f("momentum"), n.f("eps"))};
         }},
        {"upsample_nearest2d",
         [](const Node& n, const Inputs& in) {
             if (n.f("scale_h") > 0) return Outputs{F::upsample_nearest2d(in[0], n.f("scale_h"), n.f("scale_w"))};
             return Outputs{F::upsample_nearest2d(in[0], shape_attr(n, "output_size"))};
         }},
        {"pad", [](const Node& n, const Inputs& in) {
             return Outputs{F::pad(in[0], shape_attr(n, "pads"), pad_mode(n), n.f("value"))};
         }},
        // comparisons, logic, selection
        {"eq", binary<eq>()},
        {"ne", binary<ne>()},
        {"lt", binary<lt>()},
        {"le", binary<le>()},
        {"gt", binary<gt>()},
        {"ge", binary<ge>()},
        {"logical_and", binary<logical_and>()},
        {"logical_or", binary<logical_or>()},
        {"logical_not", unary<logical_not>()},
        {"isnan", unary<isnan>()},
        {"isinf", unary<isinf>()},
        {"isfinite", unary<isfinite>()},
        {"where", [](const Node&, const Inputs& in) { return Outputs{where(in[0], in[1], in[2])}; }},
        {"masked_fill",
         [](const Node& n, const Inputs& in) { return Outputs{masked_fill(in[0], in[1], n.f("value"))}; }},
        {"index_select",
         [](const Node& n, const Inputs& in) { return Outputs{index_select(in[0], n.i("dim"), in[1])}; }},
        {"gather", [](const Node& n, const Inputs& in) { return Outputs{gather(in[0], n.i("dim"), in[1])}; }},
        {"argmax", [](const Node& n, const Inputs& in) { return Outputs{argmax(in[0], n.i("dim"), true)}; }},
        {"argmin", [](const Node& n, const Inputs& in) { return Outputs{argmin(in[0], n.i("dim"), true)}; }},
        {"topk",
         [](const Node& n, const Inputs& in) {
             return Outputs{std::get<1>(topk(in[0], n.i("k"), n.i("dim"), n.i("largest") != 0, n.i("sorted") != 0))};
         }},
        {"prod",
         [](const Node& n, const Inputs& in) { return Outputs{prod(in[0], n.i("dim"), n.i("keepdim") != 0)}; }},
        {"cumsum", [](const Node& n, const Inputs& in) { return Outputs{cumsum(in[0], n.i("dim"))}; }},
        {"cumprod", [](const Node& n, const Inputs& in) { return Outputs{cumprod(in[0], n.i("dim"))}; }},
        {"logcumsumexp", [](const Node& n, const Inputs& in) { return Outputs{logcumsumexp(in[0], n.i("dim"))}; }},
        {"roll",
         [](const Node& n, const Inputs& in) {
             return Outputs{roll(in[0], shape_attr(n, "shifts"), shape_attr(n, "dims"))};
         }},
        {"repeat", [](const Node& n, const Inputs& in) { return Outputs{repeat(in[0], shape_attr(n, "repeats"))}; }},
        {"split_with_sizes",
         [](const Node& n, const Inputs& in) { return split_with_sizes(in[0], n.ints("split_sizes"), n.i("dim")); }},
        // losses (per sample; the reduction is its own node)
        {"cross_entropy",
         [](const Node&, const Inputs& in) { return Outputs{F::cross_entropy(in[0], in[1], F::Reduction::None)}; }},
        {"nll_loss", [](const Node&, const Inputs& in) { return Outputs{F::nll_loss(in[0], in[1], F::Reduction::None)}; }},
    };
    return kernels;
}

}  // namespace

const Kernel* find_kernel(std::string_view kind) {
    const auto& t = table();
    const auto it = t.find(kind);
    return it == t.end() ? nullptr : &it->second;
}

std::vector<std::string> kernel_kinds() {
    std::vector<std::string> kinds;
    for (const auto& [kind, kernel] : table()) kinds.push_back(kind);
    return kinds;
}

}  // namespace tg::jit::detail
