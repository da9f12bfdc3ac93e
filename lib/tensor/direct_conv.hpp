// Direct float32 convolution kernels: oneDNN's JIT convolutions, which pick their
// instruction set when the process runs (AVX-512, AVX2 or SSE4.1 kernels for the CPU at
// hand), so one binary is fast on CPUs with and without AVX-512. They do the arithmetic of
// a convolution without materialising im2col columns and run 1.4x (AVX2) to 2.3x
// (AVX-512) faster than the im2col + sgemm formulation of the same layer here (measured in
// docs/design.md, "Convolution: oneDNN for float32").
//
// Optional: compiled in when meson finds libdnnl (TG_HAVE_DNNL). Each call returns false,
// having written nothing, when the kernels are absent or oneDNN declines the geometry;
// the caller (ops/conv.cpp) then runs its im2col + GEMM path, which also serves float64.
// The three calls are the forward and the two adjoints, so conv.cpp's recorded ops (and
// with them double backward) stay as they are whichever kernel computes them.
#pragma once

#include <cstdint>

namespace tg::detail {

// A 2-D convolution of an (N, C, H, W) input with an (O, C / groups, kh, kw) weight into an
// (N, O, OH, OW) output, all contiguous row-major: stride (sh, sw), dilation (dh, dw),
// leading padding (pt, pl); the trailing padding is whatever OH and OW imply. groups > 1 is
// passed to oneDNN as its grouped convolution (weights (groups, O / groups, C / groups, kh,
// kw), the same bytes as ours), whose depthwise kernels serve groups = C.
struct ConvGeometry {
    std::int64_t N, C, H, W;
    std::int64_t O, kh, kw;
    std::int64_t sh, sw, dh, dw;
    std::int64_t pt, pl;
    std::int64_t OH, OW;
    std::int64_t groups = 1;
};

// Whether the direct kernels are compiled in (false: every call below returns false).
bool direct_conv_available();

// out = conv(x, w) (+ bias per output channel when bias is not null).
bool direct_conv_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* out);
// grad_in = d<conv(x, w), grad_out>/dx (overwritten, not accumulated).
bool direct_conv_backward_data(const ConvGeometry& g, const float* grad_out, const float* w, float* grad_in);
// grad_w = d<conv(x, w), grad_out>/dw (overwritten, not accumulated).
bool direct_conv_backward_weights(const ConvGeometry& g, const float* x, const float* grad_out, float* grad_w);

}  // namespace tg::detail
