// Internal to lib/nn: the per-step math of the recurrent cells, shared by the cells
// (rnn_cells.cpp), dynamic_rnn (dynamic_rnn.cpp) and the sequence modules (rnn.cpp).
#pragma once

#include <memory>
#include <string_view>

#include "ops/dense.hpp"
#include "tapegrad/nn/rnn.hpp"

namespace tg::nn::detail {

// How many gate blocks of H rows weight_ih has: 1, 3 (r, z, n) or 4 (i, f, g, o).
std::int64_t gate_count(RNNCellKind kind);
// Number of tensors in the state: 2 for LSTM (h, c), 1 otherwise.
std::size_t state_size(RNNCellKind kind);

// A cell prepared for many steps (checked once; the summed input bias made once).
class CellRunner {
public:
    explicit CellRunner(const RNNCellWeights& weights);
    // The input contribution of N rows at once (N, G*H): x W_ih^T plus the biases that add
    // to it before the nonlinearity (b_ih + b_hh, or b_ih alone for GRU whose b_hh sits
    // inside the reset product). dynamic_rnn does this for all timesteps in one GEMM.
    Tensor project_input(const Tensor& x) const;
    // One step from a projected input row block (B, G*H) and the state.
    RNNState step(const Tensor& projected, const RNNState& state) const;
    RNNState zero_state(std::int64_t batch) const;
    // Checks a given state: size() tensors of (batch, H), the weights' dtype.
    void check_state(const RNNState& state, std::int64_t batch, std::string_view op) const;
    const RNNCellWeights& weights() const { return w_; }

private:
    RNNCellWeights w_;
    Tensor input_bias_;
    std::shared_ptr<tg::detail::StepWeightGrads> hh_grads_;  // W_hh's per-step gradients
};

}  // namespace tg::nn::detail
