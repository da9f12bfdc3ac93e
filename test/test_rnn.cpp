// Recurrent cells, dynamic_rnn and the sequence modules: shapes, hand-computed cell values,
// float64 gradchecks through several timesteps (with lengths, time-major, bidirectional,
// stacked), the fused gate ops, error paths and a short adding-problem training run.
#include <chrono>
#include <cmath>
#include <vector>

#include "test_support.hpp"

using tgtest::leaf;
using tgtest::values;
namespace nn = tg::nn;
namespace F = tg::nn::functional;

namespace {

// A float32 column (n, 1).
tg::Tensor col(std::vector<float> v) {
    const auto n = static_cast<std::int64_t>(v.size());
    return tg::from_vector(v, {n, 1});
}

double sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Writes `v` into a parameter (no gradient recorded).
void set(tg::Tensor& p, std::initializer_list<double> v) {
    tg::NoGradGuard no_grad;
    p.copy_(tg::from_vector(std::vector<double>(v), p.sizes()));
}

// float64 leaf tensors of a cell of `kind` (input I, hidden H).
nn::RNNCellWeights leaf_weights(nn::RNNCellKind kind, std::int64_t I, std::int64_t H, bool bias = true) {
    const std::int64_t G = kind == nn::RNNCellKind::RNN ? 1 : kind == nn::RNNCellKind::GRU ? 3 : 4;
    nn::RNNCellWeights w;
    w.kind = kind;
    w.weight_ih = leaf({G * H, I}, -0.8, 0.8);
    w.weight_hh = leaf({G * H, H}, -0.8, 0.8);
    if (bias) {
        w.bias_ih = leaf({G * H}, -0.5, 0.5);
        w.bias_hh = leaf({G * H}, -0.5, 0.5);
    }
    return w;
}

std::vector<tg::Tensor> tensors_of(const nn::RNNCellWeights& w) {
    std::vector<tg::Tensor> v{w.weight_ih, w.weight_hh};
    if (w.bias_ih.defined()) {
        v.push_back(w.bias_ih);
        v.push_back(w.bias_hh);
    }
    return v;
}

// Rebuilds weights from gradcheck's inputs (positions 0..3).
nn::RNNCellWeights from_inputs(const nn::RNNCellWeights& like, const std::vector<tg::Tensor>& in) {
    nn::RNNCellWeights w = like;
    w.weight_ih = in[0];
    w.weight_hh = in[1];
    w.bias_ih = in[2];
    w.bias_hh = in[3];
    return w;
}

// Everything dynamic_rnn returns as one flat tensor.
tg::Tensor flat(const nn::DynamicRNNResult& r) {
    std::vector<tg::Tensor> parts{r.outputs.reshape({-1})};
    for (const auto& s : r.final_state) parts.push_back(s.reshape({-1}));
    return tg::cat(parts, 0);
}

// The LSTM / GRU step written with single tapegrad ops (the reference for the fused ops).
std::vector<tg::Tensor> reference_lstm(const tg::Tensor& gates, const tg::Tensor& c, double forget_bias) {
    auto g = tg::chunk(gates, 4, 1);
    auto i = tg::sigmoid(g[0]), f = tg::sigmoid(g[1] + forget_bias), gg = tg::tanh(g[2]), o = tg::sigmoid(g[3]);
    auto c2 = f * c + i * gg;
    return {o * tg::tanh(c2), c2};
}

tg::Tensor reference_gru(const tg::Tensor& gi, const tg::Tensor& gh, const tg::Tensor& h) {
    auto a = tg::chunk(gi, 3, 1), b = tg::chunk(gh, 3, 1);
    auto r = tg::sigmoid(a[0] + b[0]), z = tg::sigmoid(a[1] + b[1]);
    auto n = tg::tanh(a[2] + r * b[2]);
    return (1.0 - z) * n + z * h;
}

}  // namespace

TEST_CASE("dynamic_rnn: the seed's shapes (x (32,50,10), GRU 20)", "[rnn]") {
    tg::manual_seed(0);
    nn::GRUCell cell(10, 20);
    auto x = tg::randn({32, 50, 10});
    auto [outputs, state] = nn::dynamic_rnn(cell, x);
    REQUIRE(outputs.sizes() == tg::Shape{32, 50, 20});
    REQUIRE(state.size() == 1);
    REQUIRE(state[0].sizes() == tg::Shape{32, 20});
    // The final state is the last output (no lengths).
    REQUIRE(tg::allclose(outputs.select(1, 49), state[0]));
    auto tm = nn::dynamic_rnn(cell, x.transpose(0, 1), {.time_major = true});
    REQUIRE(tm.outputs.sizes() == tg::Shape{50, 32, 20});
    REQUIRE(tg::allclose(tm.outputs.transpose(0, 1), outputs, 1e-5, 1e-6));
}

TEST_CASE("cells: parameters, names and default init like libtorch", "[rnn]") {
    tg::manual_seed(1);
    nn::LSTMCell lstm(3, 5);
    auto named = lstm.named_parameters();
    REQUIRE(named.size() == 4);
    REQUIRE(named[0].first == "weight_ih");
    REQUIRE(named[1].first == "weight_hh");
    REQUIRE(named[2].first == "bias_ih");
    REQUIRE(named[3].first == "bias_hh");
    REQUIRE(lstm.weight_ih.sizes() == tg::Shape{20, 3});
    REQUIRE(lstm.weight_hh.sizes() == tg::Shape{20, 5});
    const double bound = 1.0 / std::sqrt(5.0);
    for (const auto& p : lstm.parameters()) {
        REQUIRE(p.abs().max().item<double>() <= bound);
        REQUIRE(p.abs().max().item<double>() > 0.5 * bound);
    }
    nn::GRUCell gru(nn::GRUCellOptions(4, 6).bias(false));
    REQUIRE(gru.parameters().size() == 2);
    REQUIRE(gru.weight_ih.sizes() == tg::Shape{18, 4});
    nn::RNNCell rnn(2, 3);
    REQUIRE(rnn.weight_hh.sizes() == tg::Shape{3, 3});
    std::ostringstream os;
    os << lstm;
    REQUIRE(os.str() == "LSTMCell(3, 5)");
}

TEST_CASE("RNNCell: hand-computed values (tanh and relu)", "[rnn]") {
    nn::RNNCell cell(1, 1);
    set(cell.weight_ih, {0.4});
    set(cell.weight_hh, {-0.6});
    set(cell.bias_ih, {0.1});
    set(cell.bias_hh, {-0.05});
    auto x = col({0.5f, -2.0f});
    auto h = col({-0.3f, 0.5f});
    auto out = values(cell.forward(x, h));
    REQUIRE(out[0] == Approx(std::tanh(0.4 * 0.5 + 0.1 - 0.6 * -0.3 - 0.05)));
    REQUIRE(out[1] == Approx(std::tanh(0.4 * -2.0 + 0.1 - 0.6 * 0.5 - 0.05)));
    // Zero state when none is given; an unbatched (I) input gives (H).
    REQUIRE(cell.forward(tg::tensor({0.5})).sizes() == tg::Shape{1});
    REQUIRE(cell.forward(tg::tensor({0.5})).item<double>() == Approx(std::tanh(0.2 + 0.1 - 0.05)));

    nn::RNNCell relu(nn::RNNCellOptions(1, 1).nonlinearity(nn::RNNNonlinearity::ReLU));
    set(relu.weight_ih, {0.4});
    set(relu.weight_hh, {-0.6});
    set(relu.bias_ih, {0.1});
    set(relu.bias_hh, {-0.05});
    auto r = values(relu.forward(x, h));
    REQUIRE(r[0] == Approx(0.43));
    REQUIRE(r[1] == 0.0);
}

TEST_CASE("GRUCell: hand-computed values, reset gate after the hidden product", "[rnn]") {
    nn::GRUCell cell(1, 1);
    set(cell.weight_ih, {0.1, -0.2, 0.3});  // r, z, n
    set(cell.weight_hh, {0.4, 0.5, -0.6});
    set(cell.bias_ih, {0.01, 0.02, 0.03});
    set(cell.bias_hh, {-0.01, 0.05, 0.07});
    const double xs[2] = {0.5, -1.5}, hs[2] = {-0.3, 0.8};
    auto out = values(cell.forward(col({float(xs[0]), float(xs[1])}), col({float(hs[0]), float(hs[1])})));
    for (int b = 0; b < 2; ++b) {
        const double x = xs[b], h = hs[b];
        const double r = sig(0.1 * x + 0.01 + 0.4 * h - 0.01);
        const double z = sig(-0.2 * x + 0.02 + 0.5 * h + 0.05);
        const double n = std::tanh(0.3 * x + 0.03 + r * (-0.6 * h + 0.07));
        REQUIRE(out[b] == Approx((1 - z) * n + z * h));
    }
}

TEST_CASE("LSTMCell: hand-computed values, gate order i f g o, forget_bias", "[rnn]") {
    for (double fb : {0.0, 1.0}) {
        nn::LSTMCell cell(nn::LSTMCellOptions(1, 1).forget_bias(fb));
        set(cell.weight_ih, {0.1, -0.2, 0.3, 0.7});  // i, f, g, o
        set(cell.weight_hh, {0.4, 0.5, -0.6, -0.1});
        set(cell.bias_ih, {0.01, 0.02, 0.03, 0.04});
        set(cell.bias_hh, {-0.01, 0.05, 0.07, -0.2});
        const double x = 0.5, h = -0.3, c = 0.9;
        auto [h2, c2] = cell.forward(col({float(x)}), {col({float(h)}), col({float(c)})});
        const double i = sig(0.1 * x + 0.4 * h + 0.0);
        const double f = sig(-0.2 * x + 0.5 * h + 0.07 + fb);
        const double g = std::tanh(0.3 * x - 0.6 * h + 0.1);
        const double o = sig(0.7 * x - 0.1 * h - 0.16);
        const double c_new = f * c + i * g;
        REQUIRE(c2.item<double>() == Approx(c_new));
        REQUIRE(h2.item<double>() == Approx(o * std::tanh(c_new)));
    }
}

TEST_CASE("fused gate ops match the single-op cells, values and gradients", "[rnn]") {
    tg::manual_seed(2);
    auto gates = leaf({3, 8}, -2, 2), c = leaf({3, 2}), gi = leaf({3, 6}, -2, 2), gh = leaf({3, 6}, -2, 2),
         h = leaf({3, 2});
    auto [h2, c2] = F::lstm_gates(gates, c, 0.5);
    auto ref = reference_lstm(gates, c, 0.5);
    REQUIRE(tg::allclose(h2, ref[0], 1e-12, 1e-12));
    REQUIRE(tg::allclose(c2, ref[1], 1e-12, 1e-12));
    REQUIRE(tg::allclose(F::gru_gates(gi, gh, h), reference_gru(gi, gh, h), 1e-12, 1e-12));

    REQUIRE_GRADCHECK(
        ([](const std::vector<tg::Tensor>& in) {
            auto [hh, cc] = F::lstm_gates(in[0], in[1], 1.0);
            return tg::cat({hh, cc * 0.7}, 1);
        }),
        (std::vector<tg::Tensor>{gates, c}));
    // Only h used: c's gradient arrives as zeros; a non-contiguous gates view.
    REQUIRE_GRADCHECK(
        ([](const std::vector<tg::Tensor>& in) { return std::get<0>(F::lstm_gates(in[0].t(), in[1])); }),
        (std::vector<tg::Tensor>{leaf({8, 3}, -2, 2), c}));
    REQUIRE_GRADCHECK(([](const std::vector<tg::Tensor>& in) { return F::gru_gates(in[0], in[1], in[2]); }),
                      (std::vector<tg::Tensor>{gi, gh, h}));
    // h used twice (as gate input and as the carried state).
    REQUIRE_GRADCHECK(
        ([](const std::vector<tg::Tensor>& in) {
            return F::gru_gates(in[0], tg::cat({in[1], in[1], in[1]}, 1), in[1]);
        }),
        (std::vector<tg::Tensor>{gi, h}));
}

TEST_CASE("gate_linear: values against mm, gradients", "[rnn]") {
    tg::manual_seed(8);
    auto x = leaf({3, 4}), w = leaf({5, 4}), b = leaf({5}), a = leaf({3, 5});
    REQUIRE(tg::allclose(F::gate_linear(x, w, b, a), a + b + tg::mm(x, w.t()), 1e-12, 1e-12));
    REQUIRE(tg::allclose(F::gate_linear(x, w), tg::mm(x, w.t()), 1e-12, 1e-12));
    REQUIRE(tg::allclose(F::gate_linear(x, w, {}, a), a + tg::mm(x, w.t()), 1e-12, 1e-12));
    REQUIRE_GRADCHECK(([](const std::vector<tg::Tensor>& in) { return F::gate_linear(in[0], in[1], in[2], in[3]); }),
                      (std::vector<tg::Tensor>{x, w, b, a}));
    // transposed views, x used twice (as input and inside add)
    REQUIRE_GRADCHECK(
        ([](const std::vector<tg::Tensor>& in) {
            return F::gate_linear(in[0].t(), in[1], {}, tg::mm(in[0].t(), in[2]));
        }),
        (std::vector<tg::Tensor>{leaf({4, 3}), w, leaf({4, 5})}));
    REQUIRE_TG_ERROR(F::gate_linear(tg::zeros({3, 4}), tg::zeros({5, 3})), "gate_linear", "[3, 4]", "[5, 3]");
    REQUIRE_TG_ERROR(F::gate_linear(tg::zeros({3, 4}), tg::zeros({5, 4}), tg::zeros({4})), "gate_linear", "[5]",
                     "[4]");
    REQUIRE_TG_ERROR(F::gate_linear(tg::zeros({3, 4}), tg::zeros({5, 4}), {}, tg::zeros({3, 4})), "gate_linear",
                     "add", "[3, 5]");

}

TEST_CASE("fused gate ops: errors name the op and the shapes", "[rnn]") {
    REQUIRE_TG_ERROR(F::lstm_gates(tg::zeros({3, 7}), tg::zeros({3, 2})), "lstm_gates", "[3, 7]");
    REQUIRE_TG_ERROR(F::lstm_gates(tg::zeros({3, 8}), tg::zeros({2, 2})), "lstm_gates", "[3, 2]", "[2, 2]");
    REQUIRE_TG_ERROR(F::gru_gates(tg::zeros({3, 6}), tg::zeros({3, 3}), tg::zeros({3, 2})), "gru_gates", "gh",
                     "[3, 3]");
    REQUIRE_TG_ERROR(F::gru_gates(tg::zeros({3, 6}), tg::zeros({3, 6}), tg::zeros({3, 2}, tg::kFloat64)),
                     "gru_gates");
    // No double backward through the fused ops.
    auto gates = leaf({2, 4}), c = leaf({2, 1});
    auto h = std::get<0>(F::lstm_gates(gates, c));
    REQUIRE_TG_ERROR(tg::autograd::grad({h.sum()}, {gates}, {}, true, true), "lstm_gates", "double backward");
}

TEST_CASE("dynamic_rnn gradcheck through several steps for each cell", "[rnn]") {
    tg::manual_seed(3);
    for (auto kind : {nn::RNNCellKind::RNN, nn::RNNCellKind::GRU, nn::RNNCellKind::LSTM}) {
        INFO("kind " << static_cast<int>(kind));
        auto w = leaf_weights(kind, 3, 2);
        w.forget_bias = kind == nn::RNNCellKind::LSTM ? 1.0 : 0.0;
        auto x = leaf({2, 4, 3});  // B 2, T 4
        auto inputs = tensors_of(w);
        inputs.push_back(x);
        // batch-major, zero initial state
        REQUIRE_GRADCHECK(([w](const std::vector<tg::Tensor>& in) { return flat(nn::dynamic_rnn(from_inputs(w, in), in[4])); }),
                          inputs);
        // time-major from a transposed (non-contiguous) view, with a given initial state
        auto h0 = leaf({2, 2}), c0 = leaf({2, 2});
        inputs.push_back(h0);
        inputs.push_back(c0);
        REQUIRE_GRADCHECK(
            ([w](const std::vector<tg::Tensor>& in) {
                nn::RNNState init{in[5]};
                if (w.kind == nn::RNNCellKind::LSTM) init.push_back(in[6]);
                return flat(nn::dynamic_rnn(from_inputs(w, in), in[4].transpose(0, 1),
                                            {.initial_state = init, .time_major = true}));
            }),
            inputs);
        // sequence lengths 4 and 2, forward and reverse
        for (bool reverse : {false, true}) {
            REQUIRE_GRADCHECK(
                ([w, reverse](const std::vector<tg::Tensor>& in) {
                    nn::RNNState init{in[5]};
                    if (w.kind == nn::RNNCellKind::LSTM) init.push_back(in[6]);
                    return flat(nn::dynamic_rnn(from_inputs(w, in), in[4],
                                                {.sequence_length = tg::tensor({4, 2}, tg::kInt64),
                                                 .initial_state = init,
                                                 .reverse = reverse}));
                }),
                inputs);
        }
    }
    // RNN with relu and no biases
    auto w = leaf_weights(nn::RNNCellKind::RNN, 2, 3, false);
    w.nonlinearity = nn::RNNNonlinearity::ReLU;
    REQUIRE_GRADCHECK(
        ([w](const std::vector<tg::Tensor>& in) {
            auto ww = w;
            ww.weight_ih = in[0];
            ww.weight_hh = in[1];
            return flat(nn::dynamic_rnn(ww, in[2]));
        }),
        (std::vector<tg::Tensor>{w.weight_ih, w.weight_hh, leaf({2, 3, 2}, 0.1, 1.0)}));
}

TEST_CASE("dynamic_rnn with sequence lengths: zero outputs, own final state, no gradient through padding",
          "[rnn]") {
    tg::manual_seed(4);
    nn::LSTMCell cell(nn::LSTMCellOptions(3, 4).dtype(tg::kFloat64));
    auto x = tg::randn({3, 5, 3}, tg::kFloat64).requires_grad_();
    auto lengths = tg::tensor({5, 2, 0}, tg::kInt64);
    auto r = nn::dynamic_rnn(cell, x, {.sequence_length = lengths});
    REQUIRE(r.outputs.sizes() == tg::Shape{3, 5, 4});
    // Sequence 1 alone, truncated to its 2 steps, gives the same outputs and final state.
    auto alone = nn::dynamic_rnn(cell, x.narrow(0, 1, 1).narrow(1, 0, 2));
    REQUIRE(tg::allclose(r.outputs.narrow(0, 1, 1).narrow(1, 0, 2), alone.outputs));
    REQUIRE(tg::allclose(r.final_state[0].narrow(0, 1, 1), alone.final_state[0]));
    REQUIRE(tg::allclose(r.final_state[1].narrow(0, 1, 1), alone.final_state[1]));
    // Past the length: zero outputs; length 0: zero state.
    REQUIRE(r.outputs.narrow(0, 1, 1).narrow(1, 2, 3).abs().max().item<double>() == 0.0);
    REQUIRE(r.outputs.select(0, 2).abs().max().item<double>() == 0.0);
    REQUIRE(r.final_state[0].select(0, 2).abs().max().item<double>() == 0.0);
    // Full-length sequence 0: its final state is its last output.
    REQUIRE(tg::allclose(r.final_state[0].select(0, 0), r.outputs.select(0, 0).select(0, 4)));
    // Gradients reach only the valid steps.
    (r.outputs.sum() + r.final_state[0].sum() + r.final_state[1].sum()).backward();
    auto g = x.grad();
    REQUIRE(g.narrow(0, 1, 1).narrow(1, 2, 3).abs().max().item<double>() == 0.0);
    REQUIRE(g.select(0, 2).abs().max().item<double>() == 0.0);
    REQUIRE(g.narrow(0, 1, 1).narrow(1, 0, 2).abs().max().item<double>() > 0.0);
    REQUIRE(g.select(0, 0).abs().min().item<double>() > 0.0);

    // Reverse: sequence 1 runs from its step 1 back to 0, like the reversed sequence forward.
    auto rev = nn::dynamic_rnn(cell, x, {.sequence_length = lengths, .reverse = true});
    auto flipped = tg::stack({x.select(0, 1).select(0, 1), x.select(0, 1).select(0, 0)}, 0).unsqueeze(0);
    auto fwd = nn::dynamic_rnn(cell, flipped);
    REQUIRE(tg::allclose(rev.final_state[0].narrow(0, 1, 1), fwd.final_state[0]));
    REQUIRE(tg::allclose(rev.outputs.select(0, 1).select(0, 0), fwd.outputs.select(0, 0).select(0, 1)));
    REQUIRE(rev.outputs.narrow(0, 1, 1).narrow(1, 2, 3).abs().max().item<double>() == 0.0);
}

TEST_CASE("dynamic_rnn: errors name the op and the shapes", "[rnn]") {
    nn::GRUCell cell(3, 4);
    REQUIRE_TG_ERROR(nn::dynamic_rnn(cell, tg::zeros({2, 3})), "dynamic_rnn", "[2, 3]", "[B, T, F]");
    REQUIRE_TG_ERROR(nn::dynamic_rnn(cell, tg::zeros({2, 5, 7})), "dynamic_rnn", "[2, 5, 7]", "input_size is 3");
    REQUIRE_TG_ERROR(nn::dynamic_rnn(cell, tg::zeros({2, 5, 3}), {.sequence_length = tg::tensor({1, 6}, tg::kInt64)}),
                     "dynamic_rnn", "[0, 5]", "6");
    REQUIRE_TG_ERROR(nn::dynamic_rnn(cell, tg::zeros({2, 5, 3}), {.sequence_length = tg::tensor({1.0, 2.0})}),
                     "dynamic_rnn", "int64", "[2]");
    REQUIRE_TG_ERROR(nn::dynamic_rnn(cell, tg::zeros({2, 5, 3}), {.initial_state = {tg::zeros({2, 5})}}),
                     "dynamic_rnn", "[2, 4]", "[2, 5]");
    nn::LSTMCell lstm(3, 4);
    REQUIRE_TG_ERROR(nn::dynamic_rnn(lstm, tg::zeros({2, 5, 3}), {.initial_state = {tg::zeros({2, 4})}}),
                     "dynamic_rnn", "h, c");
    REQUIRE_TG_ERROR(cell.forward(tg::zeros({2, 5})), "GRUCell", "[2, 5]");
    REQUIRE_TG_ERROR(nn::GRUCell(0, 4), "GRUCell", "positive");
    REQUIRE_TG_ERROR(nn::LSTM(nn::LSTMOptions(3, 4).num_layers(0)), "LSTM", "num_layers");
}

TEST_CASE("sequence modules: parameter names, shapes with num_layers and bidirectional", "[rnn]") {
    tg::manual_seed(5);
    nn::LSTM lstm(nn::LSTMOptions(5, 4).num_layers(2).bidirectional(true).batch_first(true));
    auto names = lstm.named_parameters();
    REQUIRE(names.size() == 16);
    REQUIRE(names[0].first == "weight_ih_l0");
    REQUIRE(names[4].first == "weight_ih_l0_reverse");
    REQUIRE(names[8].first == "weight_ih_l1");
    REQUIRE(lstm.named_parameters()[8].second.sizes() == tg::Shape{16, 8});  // layer 1 reads 2 * H
    auto x = tg::randn({3, 7, 5});
    auto [y, hc] = lstm.forward(x, {});
    auto [h_n, c_n] = hc;
    REQUIRE(y.sizes() == tg::Shape{3, 7, 8});
    REQUIRE(h_n.sizes() == tg::Shape{4, 3, 4});
    REQUIRE(c_n.sizes() == tg::Shape{4, 3, 4});
    // The top layer's forward direction ends at the last step, its reverse at the first.
    REQUIRE(tg::allclose(h_n.select(0, 2), y.select(1, 6).narrow(1, 0, 4)));
    REQUIRE(tg::allclose(h_n.select(0, 3), y.select(1, 0).narrow(1, 4, 4)));

    nn::GRU gru(nn::GRUOptions(5, 6).num_layers(3));
    auto [out, h] = gru.forward(x.transpose(0, 1), tg::Tensor());  // time-major (T, B, F)
    REQUIRE(out.sizes() == tg::Shape{7, 3, 6});
    REQUIRE(h.sizes() == tg::Shape{3, 3, 6});
    REQUIRE(gru.forward(x.transpose(0, 1)).sizes() == tg::Shape{7, 3, 6});

    // A 1-layer module is dynamic_rnn over its cell tensors.
    nn::RNN rnn(nn::RNNOptions(5, 3));
    auto [ro, rh] = rnn.forward(x.transpose(0, 1), tg::Tensor());
    auto ref = nn::dynamic_rnn(rnn.layer_weights(0), x);
    REQUIRE(tg::allclose(ro.transpose(0, 1), ref.outputs, 1e-5, 1e-6));
    REQUIRE(tg::allclose(rh.select(0, 0), ref.final_state[0], 1e-5, 1e-6));
    std::ostringstream os;
    os << gru;
    REQUIRE(os.str() == "GRU(input_size=5, hidden_size=6, num_layers=3, bias=true, batch_first=false, dropout=0, "
                        "bidirectional=false)");
    REQUIRE_TG_ERROR(lstm.forward(x, {tg::zeros({2, 3, 4}), tg::zeros({2, 3, 4})}), "LSTM", "[4, 3, 4]", "[2, 3, 4]");
}

TEST_CASE("sequence modules: gradcheck through 2 bidirectional layers with lengths", "[rnn]") {
    tg::manual_seed(6);
    for (auto kind : {nn::RNNCellKind::GRU, nn::RNNCellKind::LSTM}) {
        auto opts = nn::RNNOptions(2, 2).num_layers(2).bidirectional(true).dtype(tg::kFloat64);
        std::shared_ptr<nn::RNNBase> m;
        if (kind == nn::RNNCellKind::GRU)
            m = std::make_shared<nn::GRU>(opts);
        else
            m = std::make_shared<nn::LSTM>(opts.forget_bias(1.0));
        std::vector<tg::Tensor> inputs{leaf({3, 2, 2}), leaf({4, 2, 2}), leaf({4, 2, 2})};  // x (T,B,F), h0, c0
        const auto params = m->parameters();
        inputs.push_back(params[0]);  // weight_ih_l0
        inputs.push_back(params[5]);  // weight_hh_l0_reverse
        inputs.push_back(params[10]);  // bias_ih_l1 (or weight_hh_l1 ... any: all are leaves)
        REQUIRE_GRADCHECK(
            ([m, kind](const std::vector<tg::Tensor>& in) {
                nn::RNNState hx{in[1]};
                if (kind == nn::RNNCellKind::LSTM) hx.push_back(in[2]);
                auto [y, st] = m->run(in[0], hx, tg::tensor({3, 1}, tg::kInt64));
                std::vector<tg::Tensor> parts{y.reshape({-1})};
                for (auto& s : st) parts.push_back(s.reshape({-1}));
                return tg::cat(parts, 0);
            }),
            inputs);
    }
}

TEST_CASE("sequence W_hh gradient (one GEMM over all steps) equals the step-by-step one", "[rnn]") {
    tg::manual_seed(9);
    for (auto kind : {nn::RNNCellKind::RNN, nn::RNNCellKind::GRU, nn::RNNCellKind::LSTM}) {
        auto w = leaf_weights(kind, 2, 3);
        auto x = tg::randn({5, 4, 2}, tg::kFloat64);  // (T, B, F)
        auto coef = tg::randn({5, 4, 3}, tg::kFloat64);
        for (std::int64_t last : {4, 2}) {  // the loss reads every step, or only up to step 2
            INFO("kind " << static_cast<int>(kind) << ", last step " << last);
            auto seq = nn::dynamic_rnn(w, x, {.time_major = true});
            auto loss_seq = (seq.outputs.narrow(0, 0, last + 1) * coef.narrow(0, 0, last + 1)).sum();
            auto g_seq = tg::autograd::grad({loss_seq}, tensors_of(w));
            nn::RNNState state;
            tg::Tensor loss_steps = tg::zeros({}, tg::kFloat64);
            for (std::int64_t t = 0; t <= last; ++t) {
                state = nn::cell_step(w, x.select(0, t), state);
                loss_steps = loss_steps + (state[0] * coef.select(0, t)).sum();
            }
            auto g_steps = tg::autograd::grad({loss_steps}, tensors_of(w));
            REQUIRE(loss_seq.item<double>() == Approx(loss_steps.item<double>()));
            for (std::size_t k = 0; k < g_seq.size(); ++k) REQUIRE(tg::allclose(g_seq[k], g_steps[k], 1e-10, 1e-12));
        }
    }
}

TEST_CASE("adding problem: a GRU learns to add the two marked numbers", "[rnn][train]") {
    // Each sequence has T steps of (value in [0, 1), marker); the target is the sum of the
    // two marked values. Predicting the mean gives MSE 1/6 ~ 0.167; 250 Adam steps must
    // bring the MSE under 0.01.
    tg::manual_seed(7);
    const std::int64_t B = 64, T = 10, H = 24;
    nn::GRU gru(nn::GRUOptions(2, H).batch_first(true));
    nn::Linear head(H, 1);
    auto params = gru.parameters();
    for (auto& p : head.parameters()) params.push_back(p);
    tg::optim::Adam opt(params, tg::optim::AdamOptions(1e-2));
    auto batch = [&](tg::Tensor& x, tg::Tensor& y) {
        auto v = tg::rand({B, T, 1});
        std::vector<double> marks(static_cast<std::size_t>(B * T), 0.0);
        auto first = tg::randint(0, T / 2, {B}).to_vector<std::int64_t>();
        auto second = tg::randint(T / 2, T, {B}).to_vector<std::int64_t>();
        for (std::int64_t b = 0; b < B; ++b) {
            marks[static_cast<std::size_t>(b * T + first[static_cast<std::size_t>(b)])] = 1.0;
            marks[static_cast<std::size_t>(b * T + second[static_cast<std::size_t>(b)])] = 1.0;
        }
        auto m = tg::from_vector(marks, {B, T, 1}).to(tg::kFloat32);
        x = tg::cat({v, m}, 2);
        y = (v * m).sum({1});
    };
    const auto start = std::chrono::steady_clock::now();
    double loss_value = 1.0;
    for (int step = 0; step < 250; ++step) {
        tg::Tensor x, y;
        batch(x, y);
        auto [out, h] = gru.forward(x, tg::Tensor());
        auto loss = F::mse_loss(head.forward(h.select(0, 0)), y);
        opt.minimize(loss);
        loss_value = loss.item<double>();
    }
    // Evaluate on fresh batches.
    double eval = 0;
    {
        tg::NoGradGuard no_grad;
        for (int k = 0; k < 4; ++k) {
            tg::Tensor x, y;
            batch(x, y);
            auto [out, h] = gru.forward(x, tg::Tensor());
            eval += F::mse_loss(head.forward(h.select(0, 0)), y).item<double>() / 4;
        }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO("last training loss " << loss_value << ", held-out MSE " << eval << ", " << seconds << " s");
    CHECK(eval < 0.01);
}
