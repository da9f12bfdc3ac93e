// The sequence modules RNN, GRU and LSTM: stacks of layers (each one or two directions of
// dynamic_rnn over the layer below's outputs), with libtorch's flat parameter names.
#include <cmath>
#include <ostream>
#include <string>

#include "nn/rnn_step.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"
#include "tensor/trace.hpp"

namespace tg::nn {

RNNBase::RNNBase(const RNNOptions& options_, RNNCellKind kind_, std::string name)
    : Module(std::move(name)), options(options_), kind(kind_) {
    const std::string op = type_name();
    TG_CHECK(options.input_size() > 0 && options.hidden_size() > 0, op,
             "input_size and hidden_size must be positive, got {} and {}", options.input_size(), options.hidden_size());
    TG_CHECK(options.num_layers() > 0, op, "num_layers must be positive, got {}", options.num_layers());
    TG_CHECK(options.dropout() >= 0.0 && options.dropout() < 1.0, op, "dropout must lie in [0, 1), got {}",
             options.dropout());
    const std::int64_t H = options.hidden_size(), G = detail::gate_count(kind);
    const std::int64_t directions = options.bidirectional() ? 2 : 1;
    for (std::int64_t l = 0; l < options.num_layers(); ++l) {
        const std::int64_t in = l == 0 ? options.input_size() : H * directions;
        for (std::int64_t d = 0; d < directions; ++d) {
            const std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
            RNNCellWeights w;
            w.kind = kind;
            w.nonlinearity = options.nonlinearity();
            w.forget_bias = kind == RNNCellKind::LSTM ? options.forget_bias() : 0.0;
            w.weight_ih = register_parameter("weight_ih" + suffix, empty({G * H, in}, options.dtype()));
            w.weight_hh = register_parameter("weight_hh" + suffix, empty({G * H, H}, options.dtype()));
            if (options.bias()) {
                w.bias_ih = register_parameter("bias_ih" + suffix, empty({G * H}, options.dtype()));
                w.bias_hh = register_parameter("bias_hh" + suffix, empty({G * H}, options.dtype()));
            }
            layers_.push_back(std::move(w));
        }
    }
    reset_parameters();
}

void RNNBase::reset_parameters() {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options.hidden_size()));
    for (auto& p : parameters()) init::uniform_(p, -bound, bound);
}

RNNCellWeights RNNBase::layer_weights(std::int64_t layer, bool reverse) const {
    const std::int64_t directions = options.bidirectional() ? 2 : 1;
    TG_CHECK(layer >= 0 && layer < options.num_layers() && (!reverse || directions == 2), type_name(),
             "no layer {}{} (num_layers {}, bidirectional {})", layer, reverse ? " reverse" : "", options.num_layers(),
             options.bidirectional());
    return layers_[static_cast<std::size_t>(layer * directions + (reverse ? 1 : 0))];
}

std::tuple<Tensor, RNNState> rnn_sequence(const std::vector<RNNCellWeights>& layers, const RNNOptions& options,
                                          bool training, const Tensor& input, const RNNState& hx, const Tensor& lengths) {
    TG_CHECK(!layers.empty(), "rnn_sequence", "expected the weights of at least one layer");
    const RNNCellKind kind = layers[0].kind;
    const char* op = kind == RNNCellKind::GRU ? "GRU" : kind == RNNCellKind::LSTM ? "LSTM" : "RNN";
    tg::detail::check_defined(input, op);
    TG_CHECK(input.dim() == 3, op, "expected input of shape {}, got {}",
             options.batch_first() ? "[B, T, F]" : "[T, B, F]", input.sizes());
    const std::int64_t directions = options.bidirectional() ? 2 : 1, L = options.num_layers();
    const std::int64_t B = input.size(options.batch_first() ? 0 : 1), H = options.hidden_size();
    const std::size_t n_state = detail::state_size(kind);
    TG_CHECK(static_cast<std::int64_t>(layers.size()) == L * directions, op,
             "expected the weights of {} layer(s) x {} direction(s), got {}", L, directions, layers.size());

    // Initial states per layer and direction, from (L * D, B, H) tensors.
    std::vector<std::vector<Tensor>> h0(n_state);
    if (!hx.empty()) {
        TG_CHECK(hx.size() == n_state, op, "expected {} initial state tensor(s), got {}", n_state, hx.size());
        for (std::size_t s = 0; s < n_state; ++s) {
            tg::detail::check_defined(hx[s], op);
            TG_CHECK(hx[s].sizes() == (Shape{L * directions, B, H}), op,
                     "expected initial state of shape {} (num_layers * num_directions, B, H), got {}",
                     Shape{L * directions, B, H}, hx[s].sizes());
            h0[s] = unbind(hx[s], 0);
        }
    }

    Tensor x = options.batch_first() ? input.transpose(0, 1) : input;  // time-major from here
    std::vector<std::vector<Tensor>> finals(n_state);
    for (std::int64_t l = 0; l < L; ++l) {
        std::vector<Tensor> outs;
        for (std::int64_t d = 0; d < directions; ++d) {
            DynamicRNNOptions o;
            o.sequence_length = lengths;
            o.time_major = true;
            o.reverse = d == 1;
            if (!hx.empty())
                for (std::size_t s = 0; s < n_state; ++s) o.initial_state.push_back(h0[s][static_cast<std::size_t>(l * directions + d)]);
            DynamicRNNResult r = dynamic_rnn(layers[static_cast<std::size_t>(l * directions + d)], x, o);
            outs.push_back(r.outputs);
            for (std::size_t s = 0; s < n_state; ++s) finals[s].push_back(r.final_state[s]);
        }
        x = directions == 2 ? cat(outs, 2) : outs[0];
        if (l + 1 < L && options.dropout() > 0.0) x = functional::dropout(x, options.dropout(), training);
    }
    RNNState state;
    for (auto& f : finals) state.push_back(stack(f, 0));
    Tensor output = options.batch_first() ? x.transpose(0, 1) : x;
    if (tg::detail::active_tracer()) {
        std::vector<Tensor> inputs{input, hx.empty() ? Tensor() : hx[0], hx.size() > 1 ? hx[1] : Tensor(), lengths};
        for (const auto& w : layers) inputs.insert(inputs.end(), {w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh});
        std::vector<Tensor> outputs{output};
        outputs.insert(outputs.end(), state.begin(), state.end());
        TG_TRACE(kind == RNNCellKind::GRU ? "gru" : kind == RNNCellKind::LSTM ? "lstm" : "rnn", std::move(inputs),
                 std::move(outputs),
                 {{"input_size", options.input_size()}, {"hidden_size", options.hidden_size()},
                  {"num_layers", options.num_layers()}, {"bias", options.bias()}, {"batch_first", options.batch_first()},
                  {"dropout", options.dropout()}, {"bidirectional", options.bidirectional()},
                  {"relu", options.nonlinearity() == RNNNonlinearity::ReLU}, {"forget_bias", options.forget_bias()},
                  {"training", training}});
    }
    return {output, state};
}

std::tuple<Tensor, RNNState> RNNBase::run(const Tensor& input, const RNNState& hx, const Tensor& lengths) {
    return rnn_sequence(layers_, options, is_training(), input, hx, lengths);
}

Tensor RNNBase::forward(const Tensor& input) { return std::get<0>(run(input)); }

void RNNBase::pretty_print(std::ostream& os) const {
    os << type_name() << "(input_size=" << options.input_size() << ", hidden_size=" << options.hidden_size()
       << ", num_layers=" << options.num_layers() << ", bias=" << (options.bias() ? "true" : "false")
       << ", batch_first=" << (options.batch_first() ? "true" : "false") << ", dropout=" << options.dropout()
       << ", bidirectional=" << (options.bidirectional() ? "true" : "false");
    if (kind == RNNCellKind::RNN && options.nonlinearity() == RNNNonlinearity::ReLU) os << ", nonlinearity=relu";
    if (kind == RNNCellKind::LSTM && options.forget_bias() != 0.0) os << ", forget_bias=" << options.forget_bias();
    os << ")";
}

std::tuple<Tensor, Tensor> RNN::forward(const Tensor& input, const Tensor& hx, const Tensor& lengths) {
    auto [out, state] = run(input, hx.defined() ? RNNState{hx} : RNNState{}, lengths);
    return {out, state[0]};
}

std::tuple<Tensor, Tensor> GRU::forward(const Tensor& input, const Tensor& hx, const Tensor& lengths) {
    auto [out, state] = run(input, hx.defined() ? RNNState{hx} : RNNState{}, lengths);
    return {out, state[0]};
}

std::tuple<Tensor, std::tuple<Tensor, Tensor>> LSTM::forward(const Tensor& input, const std::tuple<Tensor, Tensor>& hx,
                                                             const Tensor& lengths) {
    const auto& [h, c] = hx;
    RNNState init;
    if (h.defined() || c.defined()) init = {h.defined() ? h : zeros_like(c), c.defined() ? c : zeros_like(h)};
    auto [out, state] = run(input, init, lengths);
    return {out, {state[0], state[1]}};
}

}  // namespace tg::nn
