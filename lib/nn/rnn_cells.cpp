// The recurrent cells RNNCell, GRUCell, LSTMCell and the step math they share with
// dynamic_rnn and the sequence modules. Every step is at most two GEMMs (input and hidden
// products, each for all gates at once) and one fused gate op (lib/ops/rnn.cpp).
#include <cmath>
#include <ostream>

#include "nn/rnn_step.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"

namespace tg::nn {

namespace detail {

std::int64_t gate_count(RNNCellKind kind) {
    switch (kind) {
        case RNNCellKind::RNN: return 1;
        case RNNCellKind::GRU: return 3;
        case RNNCellKind::LSTM: return 4;
    }
    return 1;
}

std::size_t state_size(RNNCellKind kind) { return kind == RNNCellKind::LSTM ? 2 : 1; }

namespace {
const char* kind_name(RNNCellKind kind) {
    switch (kind) {
        case RNNCellKind::RNN: return "RNNCell";
        case RNNCellKind::GRU: return "GRUCell";
        case RNNCellKind::LSTM: return "LSTMCell";
    }
    return "RNNCell";
}
}  // namespace

CellRunner::CellRunner(const RNNCellWeights& weights) : w_(weights), hh_grads_(tg::detail::make_step_weight_grads()) {
    const char* op = kind_name(w_.kind);
    tg::detail::check_defined(w_.weight_ih, op);
    tg::detail::check_defined(w_.weight_hh, op);
    const std::int64_t H = w_.weight_hh.dim() == 2 ? w_.weight_hh.size(1) : 0, G = gate_count(w_.kind);
    TG_CHECK(w_.weight_hh.dim() == 2 && w_.weight_hh.size(0) == G * H && H > 0, op,
             "expected weight_hh of shape [{}, H] ({} gate blocks of H rows), got {}", G, G,
             w_.weight_hh.sizes());
    TG_CHECK(w_.weight_ih.dim() == 2 && w_.weight_ih.size(0) == G * H, op,
             "expected weight_ih of shape [{}, input_size], got {}", G * H, w_.weight_ih.sizes());
    tg::detail::check_same_dtype(w_.weight_ih, w_.weight_hh, op);
    TG_CHECK(w_.bias_ih.defined() == w_.bias_hh.defined(), op, "expected both biases or neither");
    if (w_.bias_ih.defined()) {
        TG_CHECK(w_.bias_ih.sizes() == Shape{G * H} && w_.bias_hh.sizes() == Shape{G * H}, op,
                 "expected biases of shape [{}], got {} and {}", G * H, w_.bias_ih.sizes(), w_.bias_hh.sizes());
        // GRU keeps b_hh apart: its n block is multiplied by the reset gate.
        input_bias_ = w_.kind == RNNCellKind::GRU ? w_.bias_ih : w_.bias_ih + w_.bias_hh;
    }
}

Tensor CellRunner::project_input(const Tensor& x) const {
    return functional::gate_linear(x, w_.weight_ih, input_bias_);
}

RNNState CellRunner::step(const Tensor& projected, const RNNState& state) const {
    const Tensor& h = state[0];
    switch (w_.kind) {
        case RNNCellKind::RNN: {
            Tensor pre = tg::detail::step_gate_linear(h, w_.weight_hh, {}, projected, hh_grads_);
            return {w_.nonlinearity == RNNNonlinearity::ReLU ? relu(pre) : tanh(pre)};
        }
        case RNNCellKind::GRU: {
            Tensor gh = tg::detail::step_gate_linear(h, w_.weight_hh, w_.bias_hh, {}, hh_grads_);
            return {functional::gru_gates(projected, gh, h)};
        }
        case RNNCellKind::LSTM: {
            auto [h_new, c_new] = functional::lstm_gates(tg::detail::step_gate_linear(h, w_.weight_hh, {}, projected, hh_grads_), state[1],
                                                          w_.forget_bias);
            return {h_new, c_new};
        }
    }
    return {};
}

RNNState CellRunner::zero_state(std::int64_t batch) const {
    RNNState s;
    for (std::size_t k = 0; k < state_size(w_.kind); ++k) s.push_back(zeros({batch, w_.hidden_size()}, w_.weight_hh.dtype()));
    return s;
}

void CellRunner::check_state(const RNNState& state, std::int64_t batch, std::string_view op) const {
    const std::size_t n = state_size(w_.kind);
    TG_CHECK(state.size() == n, op, "expected a state of {} tensor(s) ({}), got {}", n,
             n == 2 ? "h, c" : "h", state.size());
    const Shape want{batch, w_.hidden_size()};
    for (std::size_t k = 0; k < n; ++k) {
        tg::detail::check_defined(state[k], op);
        TG_CHECK(state[k].sizes() == want, op, "expected state tensor {} of shape {}, got {}", k, want,
                 state[k].sizes());
        tg::detail::check_same_dtype(state[k], w_.weight_hh, op);
    }
}

}  // namespace detail

RNNState cell_step(const RNNCellWeights& weights, const Tensor& input, const RNNState& state) {
    const detail::CellRunner runner(weights);
    const char* op = weights.kind == RNNCellKind::LSTM ? "LSTMCell" : weights.kind == RNNCellKind::GRU ? "GRUCell" : "RNNCell";
    tg::detail::check_defined(input, op);
    TG_CHECK(input.dim() == 1 || input.dim() == 2, op, "expected input of shape [B, {}] or [{}], got {}",
             weights.input_size(), weights.input_size(), input.sizes());
    TG_CHECK(input.size(-1) == weights.input_size(), op, "expected input of shape [B, {}], got {} (input_size {})",
             weights.input_size(), input.sizes(), weights.input_size());
    tg::detail::check_same_dtype(input, weights.weight_ih, op);
    const bool single = input.dim() == 1;  // one unbatched example: (I) -> (H)
    const Tensor x = single ? input.unsqueeze(0) : input;
    const std::int64_t B = x.size(0);
    RNNState s;
    if (state.empty()) {
        s = runner.zero_state(B);
    } else {
        for (const auto& t : state) s.push_back(single && t.defined() && t.dim() == 1 ? t.unsqueeze(0) : t);
        runner.check_state(s, B, op);
    }
    RNNState out = runner.step(runner.project_input(x), s);
    if (single)
        for (auto& t : out) t = t.squeeze(0);
    return out;
}

RNNCellBase::RNNCellBase(const RNNCellOptions& options_, RNNCellKind kind_, std::string name)
    : Module(std::move(name)), options(options_), kind(kind_) {
    TG_CHECK(options.input_size() > 0 && options.hidden_size() > 0, type_name(),
             "input_size and hidden_size must be positive, got {} and {}", options.input_size(),
             options.hidden_size());
    const std::int64_t gh = detail::gate_count(kind) * options.hidden_size();
    weight_ih = register_parameter("weight_ih", empty({gh, options.input_size()}, options.dtype()));
    weight_hh = register_parameter("weight_hh", empty({gh, options.hidden_size()}, options.dtype()));
    if (options.bias()) {
        bias_ih = register_parameter("bias_ih", empty({gh}, options.dtype()));
        bias_hh = register_parameter("bias_hh", empty({gh}, options.dtype()));
    }
    reset_parameters();
}

// libtorch's reset: every parameter uniform(-1/sqrt(H), 1/sqrt(H)).
void RNNCellBase::reset_parameters() {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options.hidden_size()));
    for (Tensor* w : {&weight_ih, &weight_hh}) {
        if (options.weight_init())
            options.weight_init()(*w);
        else
            init::uniform_(*w, -bound, bound);
    }
    if (!options.bias()) return;
    for (Tensor* b : {&bias_ih, &bias_hh}) {
        if (options.bias_init())
            options.bias_init()(*b);
        else
            init::uniform_(*b, -bound, bound);
    }
}

RNNCellWeights RNNCellBase::weights() const {
    RNNCellWeights w;
    w.kind = kind;
    w.nonlinearity = options.nonlinearity();
    w.forget_bias = kind == RNNCellKind::LSTM ? options.forget_bias() : 0.0;
    w.weight_ih = weight_ih;
    w.weight_hh = weight_hh;
    w.bias_ih = bias_ih;
    w.bias_hh = bias_hh;
    return w;
}

RNNState RNNCellBase::step(const Tensor& input, const RNNState& state) { return cell_step(weights(), input, state); }

Tensor RNNCellBase::forward(const Tensor& input) { return step(input)[0]; }

RNNState RNNCellBase::zero_state(std::int64_t batch) const { return detail::CellRunner(weights()).zero_state(batch); }

void RNNCellBase::pretty_print(std::ostream& os) const {
    os << type_name() << "(" << options.input_size() << ", " << options.hidden_size();
    if (!options.bias()) os << ", bias=false";
    if (kind == RNNCellKind::RNN && options.nonlinearity() == RNNNonlinearity::ReLU) os << ", nonlinearity=relu";
    if (kind == RNNCellKind::LSTM && options.forget_bias() != 0.0) os << ", forget_bias=" << options.forget_bias();
    os << ")";
}

Tensor RNNCell::forward(const Tensor& input, const Tensor& hx) {
    return step(input, hx.defined() ? RNNState{hx} : RNNState{})[0];
}

Tensor GRUCell::forward(const Tensor& input, const Tensor& hx) {
    return step(input, hx.defined() ? RNNState{hx} : RNNState{})[0];
}

std::tuple<Tensor, Tensor> LSTMCell::forward(const Tensor& input, const std::tuple<Tensor, Tensor>& hx) {
    const auto& [h, c] = hx;
    RNNState state;
    if (h.defined() || c.defined()) {
        // One of the two given: the other starts at zero.
        state = {h.defined() ? h : zeros_like(c), c.defined() ? c : zeros_like(h)};
    }
    RNNState out = step(input, state);
    return {out[0], out[1]};
}

}  // namespace tg::nn
