// Recurrent layers: the cells RNNCell, GRUCell, LSTMCell (libtorch's torch::nn cells),
// tg::nn::dynamic_rnn (TF-1's tf.nn.dynamic_rnn, eager) and the sequence modules RNN, GRU,
// LSTM (libtorch's, with num_layers, bidirectional, batch_first and dropout between layers).
//
//   tg::nn::GRUCell cell(10, 20);
//   auto [outputs, state] = tg::nn::dynamic_rnn(cell, x);            // x (B, T, 10)
//   // outputs (B, T, 20), state[0] (B, 20): the hidden state after the last step
//   auto r = tg::nn::dynamic_rnn(cell, x, {.sequence_length = lengths, .time_major = false});
//
//   tg::nn::LSTM lstm(tg::nn::LSTMOptions(64, 128).num_layers(2).batch_first(true));
//   auto [y, hc] = lstm.forward(x, {});                              // y (B, T, 128)
//   auto [h_n, c_n] = hc;                                            // (2, B, 128) each
//
// Conventions are libtorch's (docs/recurrent.md compares them with TF-1's):
// - parameters weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H) with G = 1
//   (RNN), 3 (GRU: gates r, z, n) or 4 (LSTM: gates i, f, g, o), in that order;
// - every parameter starts uniform(-1/sqrt(H), 1/sqrt(H));
// - GRU: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) (the reset gate applies after the
//   hidden product; TF-1's GRUCell applies it before), h' = (1 - z) * n + z * h;
// - LSTM: c' = f * c + i * g, h' = o * tanh(c'). LSTMCellOptions::forget_bias adds a
//   constant to the forget gate's pre-activation, as TF-1's forget_bias=1.0 does.
//
// Speed: the input projection of every timestep is one GEMM before the loop, each step is
// one GEMM for all gates of the hidden state plus one fused gate op (lstm_gates /
// gru_gates below) whose backward is one pass.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <tuple>
#include <vector>

#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::nn {

// A cell's state: {h} for RNNCell and GRUCell, {h, c} for LSTMCell.
using RNNState = std::vector<Tensor>;

enum class RNNNonlinearity { Tanh, ReLU };
enum class RNNCellKind { RNN, GRU, LSTM };

// ---- cells ------------------------------------------------------------------------------------
class RNNCellOptions {
public:
    RNNCellOptions(std::int64_t input_size, std::int64_t hidden_size)
        : input_size_(input_size), hidden_size_(hidden_size) {}
    // Features of the input x.
    TG_ARG(std::int64_t, input_size, 0);
    // Features of the hidden state h.
    TG_ARG(std::int64_t, hidden_size, 0);
    // Learn the biases b_ih and b_hh.
    TG_ARG(bool, bias, true);
    TG_ARG(RNNNonlinearity, nonlinearity, RNNNonlinearity::Tanh);  // RNNCell only
    // LSTMCell only: added to the forget gate's pre-activation at every step (not a
    // parameter). 1.0 with zero-initialised biases is TF-1's BasicLSTMCell/LSTMCell default.
    TG_ARG(double, forget_bias, 0.0);
    // Replace the default uniform(-1/sqrt(H), 1/sqrt(H)) of the weights / biases.
    TG_ARG(init::Initializer, weight_init, nullptr);
    // Likewise for the biases.
    TG_ARG(init::Initializer, bias_init, nullptr);
    TG_ARG(Dtype, dtype, kFloat32);  // of the parameters (kFloat64 for gradchecks)
};
using GRUCellOptions = RNNCellOptions;
using LSTMCellOptions = RNNCellOptions;

// What dynamic_rnn and the sequence modules need from a cell: its kind and tensors.
struct RNNCellWeights {
    RNNCellKind kind = RNNCellKind::RNN;
    RNNNonlinearity nonlinearity = RNNNonlinearity::Tanh;
    double forget_bias = 0.0;
    Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // biases undefined without bias
    std::int64_t hidden_size() const { return weight_hh.size(1); }
    std::int64_t input_size() const { return weight_ih.size(1); }
};

// One step of the cell described by `weights`: input (B, I), state {h} / {h, c} of (B, H)
// (empty: zeros). What the cells' forward runs; usable with any tensors (e.g. float64).
RNNState cell_step(const RNNCellWeights& weights, const Tensor& input, const RNNState& state = {});

// The three cells share their parameters' layout; they differ in kind.
class RNNCellBase : public Module {
public:
    // The single-input forward that Sequential chains: one step from the zero state,
    // returning h.
    Tensor forward(const Tensor& input) override;
    // One step: input (B, I) or (I), state {h} / {h, c} of (B, H) (or (H)); an empty
    // state means zeros. Returns the new state.
    RNNState step(const Tensor& input, const RNNState& state = {});
    // The zero state for a batch of `batch` (dtype of the parameters).
    RNNState zero_state(std::int64_t batch) const;
    RNNCellWeights weights() const;
    void reset_parameters();
    void pretty_print(std::ostream& os) const override;

    RNNCellOptions options;
    RNNCellKind kind;
    Tensor weight_ih, weight_hh, bias_ih, bias_hh;

protected:
    RNNCellBase(const RNNCellOptions& options, RNNCellKind kind, std::string name);
};

// h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (relu with nonlinearity(ReLU)).
class RNNCell : public RNNCellBase {
public:
    explicit RNNCell(const RNNCellOptions& options) : RNNCellBase(options, RNNCellKind::RNN, "RNNCell") {}
    RNNCell(std::int64_t input_size, std::int64_t hidden_size)
        : RNNCell(RNNCellOptions(input_size, hidden_size)) {}
    using RNNCellBase::forward;
    Tensor forward(const Tensor& input, const Tensor& hx);
};

class GRUCell : public RNNCellBase {
public:
    explicit GRUCell(const GRUCellOptions& options) : RNNCellBase(options, RNNCellKind::GRU, "GRUCell") {}
    GRUCell(std::int64_t input_size, std::int64_t hidden_size)
        : GRUCell(GRUCellOptions(input_size, hidden_size)) {}
    using RNNCellBase::forward;
    Tensor forward(const Tensor& input, const Tensor& hx);
};

class LSTMCell : public RNNCellBase {
public:
    explicit LSTMCell(const LSTMCellOptions& options) : RNNCellBase(options, RNNCellKind::LSTM, "LSTMCell") {}
    LSTMCell(std::int64_t input_size, std::int64_t hidden_size)
        : LSTMCell(LSTMCellOptions(input_size, hidden_size)) {}
    using RNNCellBase::forward;
    // Returns (h', c'); an undefined h and c mean zeros.
    std::tuple<Tensor, Tensor> forward(const Tensor& input, const std::tuple<Tensor, Tensor>& hx);
};

// ---- dynamic_rnn -------------------------------------------------------------------------------
// A plain aggregate (designated initializers, like TF-1's keyword arguments), not a TG_ARG
// chain: docs/design.md, "Two options styles, on purpose".
struct DynamicRNNOptions {
    // int64 (B): the number of valid steps of each sequence. Outputs past a sequence's
    // length are zero, its final state is its state after its own last step, and no
    // gradient flows through the padding. Undefined: every sequence is T long.
    Tensor sequence_length{};  // {}: designated initializers may leave it out without a warning
    // The state before the first step ({h} or {h, c}, each (B, H)); empty: zeros.
    RNNState initial_state{};
    // false: inputs (B, T, F) and outputs (B, T, H); true: (T, B, F) and (T, B, H).
    bool time_major = false;
    // Run from the last valid step of each sequence back to the first (the backward
    // half of a bidirectional layer); outputs stay at their own timestep.
    bool reverse = false;
};

struct DynamicRNNResult {
    Tensor outputs;
    RNNState final_state;
};

// Runs `cell` over every timestep of `inputs` (TF-1's tf.nn.dynamic_rnn, eagerly).
DynamicRNNResult dynamic_rnn(const RNNCellBase& cell, const Tensor& inputs,
                             const DynamicRNNOptions& options = {});
// The same over explicit cell tensors (what the sequence modules run per layer).
DynamicRNNResult dynamic_rnn(const RNNCellWeights& weights, const Tensor& inputs,
                             const DynamicRNNOptions& options = {});

// ---- sequence modules --------------------------------------------------------------------------
class RNNOptions {
public:
    RNNOptions(std::int64_t input_size, std::int64_t hidden_size)
        : input_size_(input_size), hidden_size_(hidden_size) {}
    // Features of the input x.
    TG_ARG(std::int64_t, input_size, 0);
    // Features of the hidden state h.
    TG_ARG(std::int64_t, hidden_size, 0);
    // Stacked recurrent layers.
    TG_ARG(std::int64_t, num_layers, 1);
    // Learn the biases b_ih and b_hh.
    TG_ARG(bool, bias, true);
    // false (libtorch's default): input (T, B, F); true: (B, T, F). h_n is always
    // (num_layers * num_directions, B, H).
    TG_ARG(bool, batch_first, false);
    TG_ARG(double, dropout, 0.0);  // on the outputs of every layer but the last, in training
    // Also run each layer backwards in time and concatenate both directions.
    TG_ARG(bool, bidirectional, false);
    TG_ARG(RNNNonlinearity, nonlinearity, RNNNonlinearity::Tanh);  // RNN only
    TG_ARG(double, forget_bias, 0.0);                              // LSTM only
    TG_ARG(Dtype, dtype, kFloat32);                                // of the parameters
};
using GRUOptions = RNNOptions;
using LSTMOptions = RNNOptions;

// Parameters are named like libtorch's: weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k},
// bias_hh_l{k}, with the suffix _reverse for the backward direction.
// The multi-layer, optionally bidirectional recurrence behind RNN, GRU and LSTM, on given
// cell weights (layer-major, forward then reverse): libtorch's at::rnn_tanh / at::gru /
// at::lstm. Arguments as RNNBase::run; `training` turns on the between-layer dropout.
// Traced as one node ("rnn", "gru", "lstm") that ONNX export writes as ONNX's own op.
std::tuple<Tensor, RNNState> rnn_sequence(const std::vector<RNNCellWeights>& layers, const RNNOptions& options,
                                          bool training, const Tensor& input, const RNNState& hx = {},
                                          const Tensor& lengths = {});

class RNNBase : public Module {
public:
    // The output sequence only (Sequential-able).
    Tensor forward(const Tensor& input) override;
    // input (T, B, F) or (B, T, F) with batch_first; hx: empty for zeros, else {h0} or
    // {h0, c0} of (num_layers * num_directions, B, H); lengths: optional int64 (B).
    // Returns the output sequence and {h_n} / {h_n, c_n}.
    std::tuple<Tensor, RNNState> run(const Tensor& input, const RNNState& hx = {},
                                     const Tensor& lengths = {});
    // The cell tensors of one layer and direction.
    RNNCellWeights layer_weights(std::int64_t layer, bool reverse = false) const;
    void reset_parameters();
    void pretty_print(std::ostream& os) const override;

    RNNOptions options;
    RNNCellKind kind;

protected:
    RNNBase(const RNNOptions& options, RNNCellKind kind, std::string name);

private:
    std::vector<RNNCellWeights> layers_;  // layer-major, forward then reverse
};

class RNN : public RNNBase {
public:
    explicit RNN(const RNNOptions& options) : RNNBase(options, RNNCellKind::RNN, "RNN") {}
    RNN(std::int64_t input_size, std::int64_t hidden_size) : RNN(RNNOptions(input_size, hidden_size)) {}
    using RNNBase::forward;
    // (output, h_n); an undefined hx means zeros.
    std::tuple<Tensor, Tensor> forward(const Tensor& input, const Tensor& hx, const Tensor& lengths = {});
};

class GRU : public RNNBase {
public:
    explicit GRU(const GRUOptions& options) : RNNBase(options, RNNCellKind::GRU, "GRU") {}
    GRU(std::int64_t input_size, std::int64_t hidden_size) : GRU(GRUOptions(input_size, hidden_size)) {}
    using RNNBase::forward;
    std::tuple<Tensor, Tensor> forward(const Tensor& input, const Tensor& hx, const Tensor& lengths = {});
};

class LSTM : public RNNBase {
public:
    explicit LSTM(const LSTMOptions& options) : RNNBase(options, RNNCellKind::LSTM, "LSTM") {}
    LSTM(std::int64_t input_size, std::int64_t hidden_size) : LSTM(LSTMOptions(input_size, hidden_size)) {}
    using RNNBase::forward;
    // (output, (h_n, c_n)); undefined h0 / c0 mean zeros.
    std::tuple<Tensor, std::tuple<Tensor, Tensor>> forward(const Tensor& input,
                                                           const std::tuple<Tensor, Tensor>& hx,
                                                           const Tensor& lengths = {});
};

// ---- fused ops (lib/ops/rnn.cpp) ---------------------------------------------------------------
namespace functional {

// The gate pre-activations add + bias + input weight^T: input (N, K), weight (G, K),
// bias (G) and add (N, G) both optional (undefined). One GEMM accumulating into a copy of
// `add`; its backward gives dW = g^T input directly in weight's layout (no transpose
// nodes), so a weight used at every step accumulates plain contiguous gradients.
Tensor gate_linear(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, const Tensor& add = {});
// LSTM gate nonlinearities in one op: gates (B, 4H) pre-activations in libtorch's order
// i, f, g, o; c (B, H). Returns (h', c') with c' = sigmoid(f + forget_bias) * c +
// sigmoid(i) * tanh(g) and h' = sigmoid(o) * tanh(c'). One backward pass gives the
// gradients of gates and c. Double backward (create_graph) is not supported.
std::tuple<Tensor, Tensor> lstm_gates(const Tensor& gates, const Tensor& c, double forget_bias = 0.0);
// GRU gates: gi = x W_ih^T + b_ih, gh = h W_hh^T + b_hh (B, 3H) in order r, z, n; h (B, H).
// r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n),
// returns h' = (1 - z) * n + z * h. Double backward is not supported.
Tensor gru_gates(const Tensor& gi, const Tensor& gh, const Tensor& h);

}  // namespace functional

}  // namespace tg::nn

TG_PUBLIC_END
