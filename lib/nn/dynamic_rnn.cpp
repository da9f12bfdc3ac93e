// tg::nn::dynamic_rnn: a cell over every timestep of a batch of sequences, TF-1's
// tf.nn.dynamic_rnn done eagerly. The input projection of all timesteps is one GEMM
// ((T*B, F) x (F, G*H)) before the loop; each step then adds one hidden-state GEMM and the
// fused gate op. With sequence lengths, a step where some sequences have ended keeps their
// state with `where` (so the final state is each one's state at its own last step and no
// gradient reaches the padded steps) and writes zeros to their outputs; a step where every
// sequence has ended is skipped.
#include <algorithm>
#include <vector>

#include "nn/rnn_step.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"

namespace tg::nn {

DynamicRNNResult dynamic_rnn(const RNNCellBase& cell, const Tensor& inputs, const DynamicRNNOptions& options) {
    return dynamic_rnn(cell.weights(), inputs, options);
}

DynamicRNNResult dynamic_rnn(const RNNCellWeights& weights, const Tensor& inputs, const DynamicRNNOptions& options) {
    constexpr const char* op = "dynamic_rnn";
    const detail::CellRunner runner(weights);
    tg::detail::check_defined(inputs, op);
    TG_CHECK(inputs.dim() == 3, op, "expected inputs of shape {} with input_size {}, got {}",
             options.time_major ? "[T, B, F]" : "[B, T, F]", weights.input_size(), inputs.sizes());
    const std::int64_t T = inputs.size(options.time_major ? 0 : 1), B = inputs.size(options.time_major ? 1 : 0);
    const std::int64_t F = inputs.size(2), H = weights.hidden_size();
    TG_CHECK(F == weights.input_size(), op, "inputs of shape {} have {} features but the cell's input_size is {}",
             inputs.sizes(), F, weights.input_size());
    tg::detail::check_same_dtype(inputs, weights.weight_ih, op);

    // Sequence lengths, read once; `active[t]` = how many sequences are still running at t.
    std::vector<std::int64_t> lengths;
    Tensor length_col;  // (B, 1) int64, for the masks
    if (options.sequence_length.defined()) {
        const Tensor& len = options.sequence_length;
        TG_CHECK(len.dtype() == kInt64 && len.dim() == 1 && len.size(0) == B, op,
                 "expected sequence_length of int64 and shape [{}], got {} of shape {}", B, dtype_name(len.dtype()),
                 len.sizes());
        lengths = len.to_vector<std::int64_t>();
        for (std::int64_t l : lengths)
            TG_CHECK(l >= 0 && l <= T, op, "sequence_length values must lie in [0, {}] (T), got {}", T, l);
        length_col = len.detach().reshape({B, 1});
    }
    auto active_count = [&](std::int64_t t) {
        if (lengths.empty()) return B;
        return static_cast<std::int64_t>(std::count_if(lengths.begin(), lengths.end(), [t](std::int64_t l) { return l > t; }));
    };

    RNNState state;
    if (options.initial_state.empty()) {
        state = runner.zero_state(B);
    } else {
        state = options.initial_state;
        runner.check_state(state, B, op);
    }

    // (T, B, F) -> one projection GEMM -> T row blocks (B, G*H), views of one buffer.
    const Tensor x = options.time_major ? inputs : inputs.transpose(0, 1);
    std::vector<Tensor> projected;
    if (T > 0 && B > 0) projected = unbind(runner.project_input(x.reshape({T * B, F})).view({T, B, -1}), 0);

    std::vector<Tensor> outputs(static_cast<std::size_t>(T));
    Tensor zero_output;
    for (std::int64_t k = 0; k < T; ++k) {
        const std::int64_t t = options.reverse ? T - 1 - k : k;
        const std::int64_t running = B > 0 ? active_count(t) : 0;
        if (running == 0) {  // every sequence has ended: outputs zero, state kept
            if (!zero_output.defined()) zero_output = zeros({B, H}, weights.weight_hh.dtype());
            outputs[static_cast<std::size_t>(t)] = zero_output;
            continue;
        }
        RNNState next = runner.step(projected[static_cast<std::size_t>(t)], state);
        if (running == B) {
            state = std::move(next);
            outputs[static_cast<std::size_t>(t)] = state[0];
        } else {
            const Tensor mask = length_col > static_cast<double>(t);  // (B, 1) bool
            for (std::size_t s = 0; s < state.size(); ++s) state[s] = where(mask, next[s], state[s]);
            outputs[static_cast<std::size_t>(t)] = where(mask, next[0], scalar_tensor(0.0, next[0].dtype()));
        }
    }

    DynamicRNNResult result;
    if (T == 0) {
        result.outputs = zeros(options.time_major ? Shape{0, B, H} : Shape{B, 0, H}, weights.weight_hh.dtype());
    } else {
        Tensor out = stack(outputs, 0);  // (T, B, H)
        result.outputs = options.time_major ? out : out.transpose(0, 1);
    }
    result.final_state = std::move(state);
    return result;
}

}  // namespace tg::nn
