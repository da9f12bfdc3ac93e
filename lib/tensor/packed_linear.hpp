// Inference-only float32 linear layers, y = relu?(x w^T + b), on oneDNN's inner product
// with the weights reordered once into the blocked layout its kernel reads fastest (and
// bias + ReLU applied as the kernel writes y). Eager linear runs sgemm, which re-packs the
// weight panel on every call; for a frozen graph that copy is pure overhead (the jit
// executor's optimize_for_inference: docs/design.md, "Packed weights for inference graphs").
//
// The packed copy follows its source: it is remade when the weights' storage changes or
// its version() does (in-place ops, optimizer steps). Writes through data_ptr() bump no
// version and are not seen, as for any tensor a tape saved.
#pragma once

#include <cstdint>
#include <memory>

#include "tapegrad/export.hpp"

namespace tg {
struct Storage;
}

namespace tg::detail {

class PackedLinear {
public:
    // A kernel for `rows` x `in` inputs and `out` x `in` weights, or null when oneDNN is
    // not compiled in, declines the shape or would only run its reference kernel.
    TG_API static std::unique_ptr<PackedLinear> make(std::int64_t rows, std::int64_t in, std::int64_t out, bool bias,
                                                     bool relu);
    virtual ~PackedLinear() = default;
    // x (rows, in), w (out, in) held by `w_storage`, b (out) when made with a bias, y (rows,
    // out): contiguous float32. Safe to call from several threads at once. False when
    // oneDNN failed at run time: y is then unspecified and the caller computes it itself.
    virtual bool run(const float* x, const std::shared_ptr<Storage>& w_storage, const float* w, const float* b,
                     float* y) = 0;
    // How many times the weights were reordered (tests: a changed weight is re-packed once).
    virtual std::uint64_t packs() const = 0;
};

}  // namespace tg::detail
