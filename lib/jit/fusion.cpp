// Finding elementwise chains and running one in a single chunked pass. The member maths
// repeat the eager ops' own expressions (lib/ops/elementwise.cpp, activation.cpp) on the
// same types, so a fused chain gives the eager result bit for bit: add and sub with an alpha
// other than 1 compute in double as the eager lambdas do, sigmoid and tanh go through the
// same vectorised expressions as detail::map_floating's contiguous path.
#include "jit/fusion.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>

#include "tensor/simd_kernels.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::jit::detail {

namespace {

// Elements per chunk: a chain's buffers of 4 kB each stay in L1 for chains of several nodes,
// and a multiple of every vector width, so the vectorised maps split the data as eager does
// (but where rows shorter than a chunk make it a multiple of the row).
constexpr std::int64_t kChunk = 1024;

const std::map<std::string, FusedOp, std::less<>>& fusable_kinds() {
    static const std::map<std::string, FusedOp, std::less<>> kinds = {
        {"add", FusedOp::Add},   {"sub", FusedOp::Sub},   {"mul", FusedOp::Mul},
        {"div", FusedOp::Div},   {"neg", FusedOp::Neg},   {"relu", FusedOp::Relu},
        {"leaky_relu", FusedOp::LeakyRelu}, {"sigmoid", FusedOp::Sigmoid}, {"tanh", FusedOp::Tanh},
    };
    return kinds;
}

bool is_binary(FusedOp op) { return op == FusedOp::Add || op == FusedOp::Sub || op == FusedOp::Mul || op == FusedOp::Div; }

// How a value of shape `v` enters an elementwise node whose output is `out` (none: not
// fusable).
std::optional<FusedInput> operand_kind(const Value& v, const Value& out) {
    if (v.dtype != kFloat32) return std::nullopt;
    if (v.shape == out.shape && v.dynamic_batch == out.dynamic_batch) return FusedInput::Full;
    if (v.dynamic_batch) return std::nullopt;
    if (v.shape.numel() == 1) return FusedInput::Scalar;
    if (out.shape.size() >= 2 && !v.shape.empty() && v.shape.back() == out.shape.back() &&
        v.shape.numel() == v.shape.back() && v.shape.size() <= out.shape.size())
        return FusedInput::Row;
    return std::nullopt;
}

bool fusable(const Graph& g, const Node& node) {
    const auto kind = fusable_kinds().find(node.kind);
    if (kind == fusable_kinds().end() || node.outputs.size() != 1 || node.outputs[0] < 0) return false;
    const Value& out = g.value(node.outputs[0]);
    if (out.dtype != kFloat32) return false;
    const std::size_t arity = is_binary(kind->second) ? 2 : 1;
    if (node.inputs.size() != arity) return false;
    bool full = false;
    for (int id : node.inputs) {
        if (id < 0) return false;
        const auto o = operand_kind(g.value(id), out);
        if (!o) return false;
        full = full || *o == FusedInput::Full;
    }
    return full;  // the output has the shape of an operand: no broadcast grows it
}

// out[0..n) = step(a, b): one loop per op (the switch outside it, so each vectorises),
// and the vectorised maps as map_floating runs them on contiguous data.
void apply(const FusedStep& s, const float* a, const float* b, float* out, std::int64_t n) {
    const double p = s.param;
    switch (s.op) {
        case FusedOp::Add:
            if (p == 1.0)
                for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
            else
                for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(a[i] + p * b[i]);
            return;
        case FusedOp::Sub:
            for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(a[i] - p * b[i]);
            return;
        case FusedOp::Mul:
            for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
            return;
        case FusedOp::Div:
            for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] / b[i];
            return;
        case FusedOp::Neg:
            for (std::int64_t i = 0; i < n; ++i) out[i] = -a[i];
            return;
        case FusedOp::Relu:
            for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] > 0 ? a[i] : 0.0f;
            return;
        case FusedOp::LeakyRelu: {
            const auto slope = static_cast<float>(p);
            for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] > 0 ? a[i] : slope * a[i];
            return;
        }
        case FusedOp::Sigmoid:
        case FusedOp::Tanh: {
#ifndef __AVX2__  // a baseline build: the dispatched kernel, as eager's map_floating picks
            tg::detail::simd_unary(s.op == FusedOp::Tanh ? tg::detail::SimdUnary::Tanh : tg::detail::SimdUnary::Sigmoid, a,
                                   out, n);
#else
            const auto count = static_cast<std::size_t>(n);
            std::array<std::size_t, 1> shape{count};
            auto x = xt::adapt(a, count, xt::no_ownership(), shape);
            auto y = xt::adapt(out, count, xt::no_ownership(), shape);
            if (s.op == FusedOp::Tanh) xt::noalias(y) = xt::tanh(x);
            else xt::noalias(y) = 1.0f / (1.0f + xt::exp(-x));
#endif
            return;
        }
    }
}

}  // namespace

std::vector<FusedGroup> fusion_groups(const Graph& g, const std::vector<bool>& runs, const std::vector<bool>& fetched) {
    const auto& nodes = g.nodes();
    std::vector<int> producer(g.values().size(), -1), readers(g.values().size(), 0);
    for (std::size_t n = 0; n < nodes.size(); ++n) {
        if (!runs[n]) continue;
        for (int id : nodes[n].outputs)
            if (id >= 0) producer[static_cast<std::size_t>(id)] = static_cast<int>(n);
        for (int id : nodes[n].inputs)
            if (id >= 0) ++readers[static_cast<std::size_t>(id)];
    }
    for (int id : g.outputs()) ++readers[static_cast<std::size_t>(id)];  // a graph output is read by the caller

    std::vector<std::vector<int>> groups;  // member lists; merged ones left empty
    std::vector<int> group_of(nodes.size(), -1);
    for (std::size_t n = 0; n < nodes.size(); ++n) {
        if (!runs[n] || !fusable(g, nodes[n])) continue;
        int into = -1;
        for (int id : nodes[n].inputs) {
            const int p = producer[static_cast<std::size_t>(id)];
            if (p < 0 || group_of[static_cast<std::size_t>(p)] < 0 || readers[static_cast<std::size_t>(id)] != 1 ||
                fetched[static_cast<std::size_t>(id)])
                continue;
            const int other = group_of[static_cast<std::size_t>(p)];
            if (into < 0) {
                into = other;
            } else if (other != into) {  // two chains meet here: one group
                for (int m : groups[static_cast<std::size_t>(other)]) group_of[static_cast<std::size_t>(m)] = into;
                auto& dst = groups[static_cast<std::size_t>(into)];
                dst.insert(dst.end(), groups[static_cast<std::size_t>(other)].begin(), groups[static_cast<std::size_t>(other)].end());
                groups[static_cast<std::size_t>(other)].clear();
            }
        }
        if (into < 0) {
            into = static_cast<int>(groups.size());
            groups.emplace_back();
        }
        groups[static_cast<std::size_t>(into)].push_back(static_cast<int>(n));
        group_of[n] = into;
    }

    std::vector<FusedGroup> out;
    for (auto& members : groups) {
        if (members.size() < 2) continue;
        std::sort(members.begin(), members.end());
        FusedGroup group;
        group.members = members;
        std::map<int, int> result_of;  // value id -> member index
        for (std::size_t k = 0; k < members.size(); ++k) {
            const Node& node = nodes[static_cast<std::size_t>(members[k])];
            FusedStep step{fusable_kinds().find(node.kind)->second};
            if (step.op == FusedOp::Add || step.op == FusedOp::Sub) step.param = node.f("alpha");
            if (step.op == FusedOp::LeakyRelu) step.param = node.f("negative_slope");
            int* operand[2] = {&step.a, &step.b};
            for (std::size_t i = 0; i < node.inputs.size(); ++i) {
                const int id = node.inputs[i];
                if (auto it = result_of.find(id); it != result_of.end()) {
                    *operand[i] = -it->second - 1;
                    continue;
                }
                auto ext = std::find(group.externals.begin(), group.externals.end(), id);
                if (ext == group.externals.end()) {
                    group.external_kinds.push_back(*operand_kind(g.value(id), g.value(node.outputs[0])));
                    ext = group.externals.insert(ext, id);
                }
                *operand[i] = static_cast<int>(ext - group.externals.begin());
            }
            result_of[node.outputs[0]] = static_cast<int>(k);
            group.steps.push_back(step);
        }
        group.output = nodes[static_cast<std::size_t>(members.back())].outputs[0];
        out.push_back(std::move(group));
    }
    std::sort(out.begin(), out.end(), [](const FusedGroup& a, const FusedGroup& b) { return a.members.back() < b.members.back(); });
    return out;
}

Tensor run_fused(const FusedGroup& group, const std::vector<Tensor>& externals) {
    // The chain's shape: that of its full-size operands, which must all agree; every
    // operand must enter as it did when traced (else the caller runs the nodes one by one).
    const auto& kinds = group.external_kinds;
    const std::size_t E = externals.size(), S = group.steps.size();
    const Tensor* full = nullptr;
    for (std::size_t e = 0; e < E && !full; ++e)
        if (kinds[e] == FusedInput::Full) full = &externals[e];
    if (full == nullptr) return {};
    const Shape& shape = full->sizes();
    const std::int64_t n = full->numel();
    const std::int64_t cols = shape.empty() ? 1 : shape.back();
    std::vector<Tensor> inputs(E);
    for (std::size_t e = 0; e < E; ++e) {
        const Tensor& t = externals[e];
        const bool ok = t.dtype() == kFloat32 &&
                        (kinds[e] == FusedInput::Full     ? t.sizes() == shape
                         : kinds[e] == FusedInput::Scalar ? t.numel() == 1
                                                          : t.numel() == cols && t.dim() > 0 && t.sizes().back() == cols);
        if (!ok) return {};
        inputs[e] = t.is_contiguous() ? t : t.contiguous();
    }

    Tensor out = make_tensor(shape, kFloat32);
    float* po = impl_of(out).data_as<float>();
    // Chunks never cross a row end with a row operand: rows shorter than a chunk tile it
    // the same way every time (filled once), longer ones are read in place.
    bool rows = false;
    for (std::size_t e = 0; e < E; ++e) rows = rows || kinds[e] == FusedInput::Row;
    const bool tiled = rows && cols < kChunk;
    const std::int64_t chunk = tiled ? kChunk / cols * cols : kChunk;
    // Chunk buffers: one per member but the last (which writes the output), one per scalar
    // or tiled row operand. Kept per thread: a planned run allocates nothing here.
    thread_local std::vector<float> scratch;
    const std::size_t need = (S + E) * static_cast<std::size_t>(kChunk);
    if (scratch.size() < need) scratch.resize(need);
    float* member_buf = scratch.data();
    float* operand_buf = scratch.data() + S * kChunk;
    std::vector<const float*> base(E);
    for (std::size_t e = 0; e < E; ++e) {
        base[e] = impl_of(inputs[e]).data_as<float>();
        float* dst = operand_buf + e * kChunk;
        if (kinds[e] == FusedInput::Scalar) std::fill_n(dst, chunk, base[e][0]);
        if (kinds[e] == FusedInput::Row && tiled)
            for (std::int64_t r = 0; r < chunk; r += cols) std::copy_n(base[e], cols, dst + r);
    }
    std::int64_t len = 0;
    for (std::int64_t c0 = 0; c0 < n; c0 += len) {
        len = std::min(chunk, n - c0);
        if (rows && !tiled) len = std::min(len, cols - c0 % cols);
        auto operand = [&](int k) -> const float* {
            if (k < 0) return member_buf + static_cast<std::size_t>(-k - 1) * kChunk;
            const auto e = static_cast<std::size_t>(k);
            if (kinds[e] == FusedInput::Full) return base[e] + c0;
            if (kinds[e] == FusedInput::Row && !tiled) return base[e] + c0 % cols;
            return operand_buf + e * kChunk;
        };
        for (std::size_t k = 0; k < S; ++k) {
            const FusedStep& s = group.steps[k];
            float* dst = k + 1 == S ? po + c0 : member_buf + k * kChunk;
            apply(s, operand(s.a), is_binary(s.op) ? operand(s.b) : nullptr, dst, len);
        }
    }
    return out;
}

std::string fused_label(const Graph& g, const FusedGroup& group) {
    std::vector<std::string> kinds;
    for (int m : group.members) kinds.push_back(g.nodes()[static_cast<std::size_t>(m)].kind);
    return fmt::format("fused[{}]", fmt::join(kinds, ", "));
}

}  // namespace tg::jit::detail
