// oneDNN behind tensor/direct_conv.hpp. Per geometry, a plan is built once and kept: the
// primitive (oneDNN JIT-compiles it for this CPU), the memory layouts it prefers and the
// reorders between those and our plain NCHW/OIHW tensors. A call then wraps our buffers,
// reorders into per-thread scratch where the primitive wants a blocked layout (nChw16c and
// the like), runs, and reorders the result back.
#include "tensor/direct_conv.hpp"

#ifdef TG_HAVE_DNNL

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "tensor/check.hpp"
#include "tensor/dnnl_support.hpp"
#include "tensor/parallel.hpp"

namespace tg::detail {

namespace {

enum class Pass { Forward, BackwardData, BackwardWeights };

// One argument of a primitive: its plain layout (our tensor's), the layout the primitive
// chose, and the reorder between them when they differ (into the primitive for inputs,
// out of it for the output).
struct Arg {
    int id;
    bool output;
    dnnl::memory::desc plain, chosen;
    std::optional<dnnl::reorder> reorder;
};

struct Plan {
    dnnl::primitive primitive;
    std::vector<Arg> args;  // in the order the caller passes its pointers
    dnnl::memory::desc scratchpad;
};

using Dims = dnnl::memory::dims;
using Tag = dnnl::memory::format_tag;
constexpr auto f32 = dnnl::memory::data_type::f32;

Arg make_arg(int id, bool output, const dnnl::memory::desc& plain, const dnnl::memory::desc& chosen) {
    Arg a{id, output, plain, chosen, std::nullopt};
    if (plain != chosen) {
        auto& e = dnnl_cpu_engine();
        a.reorder = output ? dnnl::reorder(dnnl::reorder::primitive_desc(e, chosen, e, plain))
                           : dnnl::reorder(dnnl::reorder::primitive_desc(e, plain, e, chosen));
    }
    return a;
}

// The plan for one pass over one geometry, or nullopt when oneDNN declines it.
std::optional<Plan> build_plan(Pass pass, const ConvGeometry& g, bool bias) {
    // oneDNN counts dilation from 0 and wants the trailing padding that makes its output
    // size exactly OH x OW (conv2d's floor division may leave input rows unused).
    // Grouped weights are 5-D for oneDNN, (G, O/G, C/G, kh, kw) in goihw: our (O, C/G, kh, kw)
    // bytes unchanged.
    const bool grouped = g.groups > 1;
    const Dims weights = grouped ? Dims{g.groups, g.O / g.groups, g.C / g.groups, g.kh, g.kw} : Dims{g.O, g.C, g.kh, g.kw};
    const Dims src{g.N, g.C, g.H, g.W}, dst{g.N, g.O, g.OH, g.OW};
    const Dims strides{g.sh, g.sw}, dilation{g.dh - 1, g.dw - 1}, pad_l{g.pt, g.pl};
    const Dims pad_r{(g.OH - 1) * g.sh + (g.kh - 1) * g.dh + 1 - g.H - g.pt,
                     (g.OW - 1) * g.sw + (g.kw - 1) * g.dw + 1 - g.W - g.pl};
    const Tag plain_weight_tag = grouped ? Tag::goihw : Tag::oihw;
    const dnnl::memory::desc plain_src(src, f32, Tag::nchw), plain_w(weights, f32, plain_weight_tag),
        plain_dst(dst, f32, Tag::nchw), plain_bias({g.O}, f32, Tag::x);
    // Blocked layouts ("any": the primitive picks) are what makes the JIT kernels fast,
    // except for the input gradient of a layer with few input channels, whose blocked
    // kernel pads the channels to a block of 8-16 and loses to oneDNN's plain GEMM-based
    // kernel (measured: C = 1 3.1x slower blocked, C = 8 1.8x faster).
    const bool blocked = pass != Pass::BackwardData || g.C >= 8;
    const Tag act = blocked ? Tag::any : Tag::nchw, wt = blocked ? Tag::any : plain_weight_tag;
    const dnnl::memory::desc any_src(src, f32, act), any_w(weights, f32, wt), any_dst(dst, f32, act);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // ours, per thread: calls may run concurrently
    auto& e = dnnl_cpu_engine();
    try {
        const auto forward_desc =
            bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                                   any_src, any_w, plain_bias, any_dst, strides, dilation, pad_l, pad_r)
                 : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                                   any_src, any_w, any_dst, strides, dilation, pad_l, pad_r);
        const dnnl::convolution_forward::primitive_desc forward(forward_desc, attr, e);
        Plan plan;
        switch (pass) {
            case Pass::Forward:
                plan.primitive = dnnl::convolution_forward(forward);
                plan.args = {make_arg(DNNL_ARG_SRC, false, plain_src, forward.src_desc()),
                             make_arg(DNNL_ARG_WEIGHTS, false, plain_w, forward.weights_desc()),
                             make_arg(DNNL_ARG_DST, true, plain_dst, forward.dst_desc())};
                if (bias) plan.args.push_back(make_arg(DNNL_ARG_BIAS, false, plain_bias, forward.bias_desc()));
                plan.scratchpad = forward.scratchpad_desc();
                break;
            case Pass::BackwardData: {
                const dnnl::convolution_backward_data::primitive_desc pd(
                    dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, any_src, any_w, any_dst,
                                                          strides, dilation, pad_l, pad_r),
                    attr, e, forward);
                plan.primitive = dnnl::convolution_backward_data(pd);
                plan.args = {make_arg(DNNL_ARG_DIFF_DST, false, plain_dst, pd.diff_dst_desc()),
                             make_arg(DNNL_ARG_WEIGHTS, false, plain_w, pd.weights_desc()),
                             make_arg(DNNL_ARG_DIFF_SRC, true, plain_src, pd.diff_src_desc())};
                plan.scratchpad = pd.scratchpad_desc();
                break;
            }
            case Pass::BackwardWeights: {
                const dnnl::convolution_backward_weights::primitive_desc pd(
                    dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, any_src, any_w,
                                                             any_dst, strides, dilation, pad_l, pad_r),
                    attr, e, forward);
                plan.primitive = dnnl::convolution_backward_weights(pd);
                plan.args = {make_arg(DNNL_ARG_SRC, false, plain_src, pd.src_desc()),
                             make_arg(DNNL_ARG_DIFF_DST, false, plain_dst, pd.diff_dst_desc()),
                             make_arg(DNNL_ARG_DIFF_WEIGHTS, true, plain_w, pd.diff_weights_desc())};
                plan.scratchpad = pd.scratchpad_desc();
                break;
            }
        }
        return plan;
    } catch (const dnnl::error&) {
        return std::nullopt;  // unsupported geometry (e.g. negative trailing padding): im2col serves it
    }
}

using Key = std::array<std::int64_t, 19>;

// The plan for (pass, geometry, bias, threads), built on first use; nullptr when oneDNN
// declines. The thread count is part of the key: oneDNN sizes a primitive's work split for
// the OpenMP count at its creation and runs that many threads whatever the count at
// execution. Keyed on geometry alone, the first step's team stuck: a plan built while the
// adaptive count read a busy machine ran one thread on an idle one, and one built on an
// idle machine ran two beside a busy process (the `contended` bench's 0.97x).
const Plan* plan_for(Pass pass, const ConvGeometry& g, bool bias, int threads) {
    static std::mutex mutex;
    static std::map<Key, std::optional<Plan>> plans;
    const Key key{static_cast<std::int64_t>(pass), bias, g.N, g.C, g.H, g.W, g.O, g.kh, g.kw, g.sh, g.sw, g.dh,
                  g.dw, g.pt, g.pl, g.OH, g.OW, g.groups, threads};
    std::lock_guard lock(mutex);
    auto it = plans.find(key);
    // A program that convolves ever new shapes must not grow this without bound; a
    // training loop's handful of geometries is rebuilt at most once after a clear.
    if (it == plans.end() && plans.size() >= 512) plans.clear();
    if (it == plans.end()) it = plans.emplace(key, build_plan(pass, g, bias)).first;
    return it->second ? &*it->second : nullptr;
}

bool usable(const ConvGeometry& g) {
    // oneDNN has no empty tensors; int32 offsets inside its kernels bound the sizes.
    for (std::int64_t v : {g.N, g.C, g.H, g.W, g.O, g.kh, g.kw, g.OH, g.OW})
        if (v <= 0) return false;
    constexpr std::int64_t limit = std::int64_t{1} << 30;
    return g.N * g.C * g.H * g.W < limit && g.N * g.O * g.OH * g.OW < limit && g.O * g.C * g.kh * g.kw < limit;
}

// Runs `plan` on the caller's buffers (one per plan.args entry, in order), with the OpenMP
// count it was built for (run sets it). Bit i of `prepared` says buffer i is already in the
// layout the primitive chose (a weight reordered once for all pieces of a batch).
void execute(const Plan& plan, const std::vector<void*>& buffers, unsigned prepared = 0) {
    dnnl::stream& stream = dnnl_thread_stream();
    auto& e = dnnl_cpu_engine();
    std::unordered_map<int, dnnl::memory> args;
    std::vector<std::pair<dnnl::memory, dnnl::memory>> results;  // (chosen, plain) to reorder back
    for (std::size_t i = 0; i < plan.args.size(); ++i) {
        const Arg& a = plan.args[i];
        if (a.reorder && (prepared >> i & 1u)) {
            args.emplace(a.id, dnnl::memory(a.chosen, e, buffers[i]));
            continue;
        }
        dnnl::memory user(a.plain, e, buffers[i]);
        if (!a.reorder) {
            args.emplace(a.id, user);
            continue;
        }
        dnnl::memory mine(a.chosen, e, dnnl_scratch(i, a.chosen.get_size()));
        if (a.output)
            results.emplace_back(mine, user);
        else
            a.reorder->execute(stream, user, mine);
        args.emplace(a.id, mine);
    }
    args.emplace(DNNL_ARG_SCRATCHPAD,
                 dnnl::memory(plan.scratchpad, e, dnnl_scratch(plan.args.size(), plan.scratchpad.get_size())));
    plan.primitive.execute(stream, args);
    for (std::size_t i = 0, r = 0; i < plan.args.size(); ++i)
        if (plan.args[i].output && plan.args[i].reorder) {
            plan.args[i].reorder->execute(stream, results[r].first, results[r].second);
            ++r;
        }
    stream.wait();
}

// Batch pieces. oneDNN splits one call's work evenly over its team, so every convolution
// ends when the slower thread does; the two vCPUs here are not alike (the second ran the
// CNN step 12-25% slower than the first, varying by the hour), and the faster one waited
// out the difference at every call. Cut into more pieces of the batch than there are
// threads, each run by a one-thread primitive on whichever team thread is free next
// (run_chunks claims chunks as threads come free), the faster thread takes more pieces.
// The count depends only on the batch and get_num_threads(), never on the size of a team
// of two or more, so results repeat for a given thread count. A weight gradient keeps one
// partial gradient per piece: where those would pass kMaxPartialBytes (wide layers on many
// threads: 512x512x3x3 on 16 threads would hold 600 MB) it runs on one primitive instead.
constexpr std::int64_t kMaxPartialBytes = std::int64_t(16) << 20;

std::int64_t weight_elements(const ConvGeometry& g) { return g.O * (g.C / g.groups) * g.kh * g.kw; }

std::int64_t batch_pieces(Pass pass, const ConvGeometry& g) {
    const std::int64_t threads = num_threads();
    if (threads < 2 || g.N < 2 * threads || omp_in_parallel() || serial_thread) return 1;
    // A default count beside busy processes can leave a team of one (team_threads): the
    // pieces would then run one after another, which a whole-batch primitive does better.
    if (team_threads() < 2) return 1;
    const std::int64_t pieces = std::min<std::int64_t>(g.N, 4 * threads);
    if (pass == Pass::BackwardWeights &&
        pieces * weight_elements(g) * std::int64_t(sizeof(float)) > kMaxPartialBytes)
        return 1;
    return pieces;
}

// The element offset of sample n in an (N, C, H, W) tensor of this geometry's input or output.
std::int64_t input_offset(const ConvGeometry& g, std::int64_t n) { return n * g.C * g.H * g.W; }
std::int64_t output_offset(const ConvGeometry& g, std::int64_t n) { return n * g.O * g.OH * g.OW; }

// Scratch slots of the calling thread that execute() does not use (it takes 0..args).
constexpr std::size_t kSharedWeightsSlot = 8, kPartialsSlot = 9;

// Runs `pass` over g's batch in `pieces` pieces of at most `per` samples. `buffers` are the
// whole call's (run's order); batch-major ones are offset per piece; the weight, read by
// every piece of a forward or input-gradient pass, is reordered once; a weight gradient is
// summed over the pieces' partial gradients in piece order.
void run_pieces(Pass pass, const ConvGeometry& g, std::int64_t pieces, const Plan& plan,
                const Plan& last_plan, std::int64_t per, const std::vector<void*>& buffers) {
    const std::size_t weight_index = pass == Pass::BackwardWeights ? 2 : 1;
    const Arg& weight_arg = plan.args[weight_index];
    std::vector<void*> shared = buffers;
    unsigned prepared = 0;
    if (pass != Pass::BackwardWeights && weight_arg.reorder &&
        weight_arg.chosen == last_plan.args[weight_index].chosen) {
        auto& e = dnnl_cpu_engine();
        void* blocked = dnnl_scratch(kSharedWeightsSlot, weight_arg.chosen.get_size());
        dnnl::memory from(weight_arg.plain, e, buffers[weight_index]), to(weight_arg.chosen, e, blocked);
        weight_arg.reorder->execute(dnnl_thread_stream(), from, to);
        dnnl_thread_stream().wait();
        shared[weight_index] = blocked;
        prepared = 1u << weight_index;
    }
    const std::int64_t weight_count = weight_elements(g);
    const std::size_t partial_bytes = std::size_t(pieces * weight_count) * sizeof(float);
    float* partials =
        pass == Pass::BackwardWeights ? static_cast<float*>(dnnl_scratch(kPartialsSlot, partial_bytes)) : nullptr;
    auto offset = [](void* p, std::int64_t elements) { return static_cast<void*>(static_cast<float*>(p) + elements); };
    run_chunks(pieces, [&](std::int64_t piece) {
        const std::int64_t n0 = piece * per;
        std::vector<void*> mine = shared;
        switch (pass) {
            case Pass::Forward:  // x, w, out (, bias)
                mine[0] = offset(shared[0], input_offset(g, n0));
                mine[2] = offset(shared[2], output_offset(g, n0));
                break;
            case Pass::BackwardData:  // grad_out, w, grad_in
                mine[0] = offset(shared[0], output_offset(g, n0));
                mine[2] = offset(shared[2], input_offset(g, n0));
                break;
            case Pass::BackwardWeights:  // x, grad_out, grad_w
                mine[0] = offset(shared[0], input_offset(g, n0));
                mine[1] = offset(shared[1], output_offset(g, n0));
                mine[2] = partials + piece * weight_count;
                break;
        }
        execute(piece + 1 == pieces ? last_plan : plan, mine, prepared);
    });
    if (pass == Pass::BackwardWeights) {
        float* grad_w = static_cast<float*>(buffers[2]);
        parallel_for(weight_count, grain::cheap / std::max<std::int64_t>(pieces, 1), [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t i = b; i < e; ++i) {
                float total = partials[i];
                for (std::int64_t p = 1; p < pieces; ++p) total += partials[p * weight_count + i];
                grad_w[i] = total;
            }
        });
    }
}

template <class... Pointers>
bool run(Pass pass, const ConvGeometry& g, bool bias, Pointers... pointers) {
    if (!usable(g)) return false;
    const std::vector<void*> buffers{const_cast<void*>(static_cast<const void*>(pointers))...};
    try {
        if (const std::int64_t wanted = batch_pieces(pass, g); wanted > 1) {
            const std::int64_t per = (g.N + wanted - 1) / wanted, pieces = (g.N + per - 1) / per;
            ConvGeometry piece = g, last = g;
            piece.N = per;
            last.N = g.N - per * (pieces - 1);
            const LibraryThreads one(1);  // one-thread primitives: each piece runs on one team thread
            const Plan* plan = plan_for(pass, piece, bias, 1);
            const Plan* last_plan = plan ? plan_for(pass, last, bias, 1) : nullptr;
            if (plan && last_plan) {
                run_pieces(pass, g, pieces, *plan, *last_plan, per, buffers);
                return true;
            }
        }
        const LibraryThreads library;
        const Plan* plan = plan_for(pass, g, bias, library.count());  // the count oneDNN builds and runs for
        if (!plan) return false;
        execute(*plan, buffers);
    } catch (const dnnl::error& e) {
        fail("conv2d", std::string("oneDNN failed to run a convolution: ") + e.what());
    }
    return true;
}

}  // namespace

bool direct_conv_available() { return true; }

bool direct_conv_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* out) {
    return bias ? run(Pass::Forward, g, true, x, w, out, bias) : run(Pass::Forward, g, false, x, w, out);
}

bool direct_conv_backward_data(const ConvGeometry& g, const float* grad_out, const float* w, float* grad_in) {
    return run(Pass::BackwardData, g, false, grad_out, w, grad_in);
}

bool direct_conv_backward_weights(const ConvGeometry& g, const float* x, const float* grad_out, float* grad_w) {
    return run(Pass::BackwardWeights, g, false, x, grad_out, grad_w);
}

}  // namespace tg::detail

#else  // no oneDNN: the callers' im2col path does everything

namespace tg::detail {

bool direct_conv_available() { return false; }
bool direct_conv_forward(const ConvGeometry&, const float*, const float*, const float*, float*) { return false; }
bool direct_conv_backward_data(const ConvGeometry&, const float*, const float*, float*) { return false; }
bool direct_conv_backward_weights(const ConvGeometry&, const float*, const float*, float*) { return false; }

}  // namespace tg::detail

#endif
