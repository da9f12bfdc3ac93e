#include "tensor/packed_linear.hpp"

#ifdef TG_HAVE_DNNL

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/aligned_buffer.hpp"
#include "tensor/dnnl_support.hpp"
#include "tensor/parallel.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::detail {

namespace {

using Tag = dnnl::memory::format_tag;
constexpr auto f32 = dnnl::memory::data_type::f32;

// The memory objects of one call in flight, made once and pointed at each call's buffers:
// making five dnnl::memory objects per call would cost a tenth of a batch-1 layer.
struct Bindings {
    dnnl::memory src, weights, bias, dst, scratchpad;
    std::unordered_map<int, dnnl::memory> args;
};

// The primitive for one OpenMP thread count: oneDNN sizes a primitive's work split for the
// count at its creation and runs that many threads whatever the count later
// (direct_conv.cpp, plan_for), so each count gets its own.
struct Variant {
    int threads = 0;
    bool declined = false;  // oneDNN has only its reference kernel at this count: run() says no
    dnnl::inner_product_forward::primitive_desc pd;
    dnnl::inner_product_forward primitive;
    bool plain_weights = false;  // the kernel reads (out, in) as it is: nothing to pack
    // What `packed` was made from: the storage (by identity: a weak_ptr keeps its control
    // block, so a new storage at the same address is never taken for it), the pointer and
    // the storage's version at the time.
    std::weak_ptr<Storage> source;
    const float* source_data = nullptr;
    std::uint64_t source_version = 0;
    std::shared_ptr<void> packed;  // shared: a call still reading the old copy keeps it alive
    std::vector<std::unique_ptr<Bindings>> spare;
};

bool same_storage(const std::weak_ptr<Storage>& a, const std::shared_ptr<Storage>& b) {
    return !a.owner_before(b) && !b.owner_before(a);
}

class DnnlPackedLinear final : public PackedLinear {
public:
    DnnlPackedLinear(std::int64_t rows, std::int64_t in, std::int64_t out, bool bias, bool relu)
        : rows_(rows), in_(in), out_(out), bias_(bias), relu_(relu) {}

    // The count a call runs with: one thread below the GEMM grain (a batch-1 layer), the
    // team otherwise.
    int call_threads() const {
        const double macs = double(rows_) * double(in_) * double(out_);
        return macs < grain::serial_gemm_macs ? 1 : team_threads();
    }

    // Null when oneDNN has only its reference kernel for this shape (slower than sgemm); the
    // answer is kept either way, so a declined count costs one primitive_desc, not one a call.
    Variant* variant(int threads) {
        for (auto& v : variants_)
            if (v->threads == threads) return v->declined ? nullptr : v.get();
        auto v = std::make_unique<Variant>();
        v->threads = threads;
        auto& e = dnnl_cpu_engine();
        const dnnl::memory::desc src({rows_, in_}, f32, Tag::nc), weights({out_, in_}, f32, Tag::any),
            bias({out_}, f32, Tag::x), dst({rows_, out_}, f32, Tag::nc);
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per thread: calls may run concurrently
        if (relu_) {
            dnnl::post_ops ops;
            ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
            attr.set_post_ops(ops);
        }
        const auto desc = bias_ ? dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference, src, weights, bias, dst)
                                : dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference, src, weights, dst);
        v->pd = dnnl::inner_product_forward::primitive_desc(desc, attr, e);
        if (std::string(v->pd.impl_info_str()).rfind("ref", 0) == 0) {
            v->declined = true;
            variants_.push_back(std::move(v));
            return nullptr;
        }
        v->primitive = dnnl::inner_product_forward(v->pd);
        v->plain_weights = v->pd.weights_desc() == dnnl::memory::desc({out_, in_}, f32, Tag::oi);
        variants_.push_back(std::move(v));
        return variants_.back().get();
    }

    void repack_if_stale(Variant& v, const std::shared_ptr<Storage>& w_storage, const float* w) {
        if (v.packed && v.source_data == w && v.source_version == w_storage->version && same_storage(v.source, w_storage))
            return;
        auto& e = dnnl_cpu_engine();
        const dnnl::memory::desc plain({out_, in_}, f32, Tag::oi);
        auto packed = shared_aligned_buffer(v.pd.weights_desc().get_size());
        dnnl::memory from(plain, e, const_cast<float*>(w)), to(v.pd.weights_desc(), e, packed.get());
        dnnl::reorder(from, to).execute(dnnl_thread_stream(), from, to);
        dnnl_thread_stream().wait();
        v.packed = std::move(packed);
        v.source = w_storage;
        v.source_data = w;
        v.source_version = w_storage->version;
        packs_.fetch_add(1, std::memory_order_relaxed);
    }

    std::unique_ptr<Bindings> make_bindings(const Variant& v) const {
        auto& e = dnnl_cpu_engine();
        auto b = std::make_unique<Bindings>();
        b->src = dnnl::memory(v.pd.src_desc(), e, DNNL_MEMORY_NONE);
        b->weights = dnnl::memory(v.pd.weights_desc(), e, DNNL_MEMORY_NONE);
        b->dst = dnnl::memory(v.pd.dst_desc(), e, DNNL_MEMORY_NONE);
        b->args = {{DNNL_ARG_SRC, b->src}, {DNNL_ARG_WEIGHTS, b->weights}, {DNNL_ARG_DST, b->dst}};
        if (bias_) {
            b->bias = dnnl::memory(v.pd.bias_desc(), e, DNNL_MEMORY_NONE);
            b->args.emplace(DNNL_ARG_BIAS, b->bias);
        }
        if (v.pd.scratchpad_desc().get_size() > 0) {
            b->scratchpad = dnnl::memory(v.pd.scratchpad_desc(), e, DNNL_MEMORY_NONE);
            b->args.emplace(DNNL_ARG_SCRATCHPAD, b->scratchpad);
        }
        return b;
    }

    bool run(const float* x, const std::shared_ptr<Storage>& w_storage, const float* w, const float* b,
             float* y) override {
        const LibraryThreads library(call_threads());
        const int threads = library.count();
        try {
            Variant* v = nullptr;
            std::shared_ptr<void> packed;
            std::unique_ptr<Bindings> bind;
            {
                std::lock_guard lock(mutex_);
                v = variant(threads);
                if (v == nullptr) return false;
                if (!v->plain_weights) repack_if_stale(*v, w_storage, w);
                packed = v->packed;
                if (!v->spare.empty()) {
                    bind = std::move(v->spare.back());
                    v->spare.pop_back();
                }
            }
            if (!bind) bind = make_bindings(*v);
            bind->src.set_data_handle(const_cast<float*>(x));
            bind->weights.set_data_handle(v->plain_weights ? const_cast<float*>(w) : packed.get());
            bind->dst.set_data_handle(y);
            if (bias_) bind->bias.set_data_handle(const_cast<float*>(b));
            if (v->pd.scratchpad_desc().get_size() > 0)
                bind->scratchpad.set_data_handle(dnnl_scratch(0, v->pd.scratchpad_desc().get_size()));
            v->primitive.execute(dnnl_thread_stream(), bind->args);
            dnnl_thread_stream().wait();
            std::lock_guard lock(mutex_);
            v->spare.push_back(std::move(bind));
            return true;
        } catch (const dnnl::error&) {
            return false;
        }
    }

    // Makes the primitive for the current thread count: false when oneDNN declines the shape.
    bool prepare() {
        try {
            const LibraryThreads library(call_threads());
            const int threads = library.count();
            std::lock_guard lock(mutex_);
            return variant(threads) != nullptr;
        } catch (const dnnl::error&) {
            return false;
        }
    }

    std::uint64_t packs() const override { return packs_.load(std::memory_order_relaxed); }

private:
    std::int64_t rows_, in_, out_;
    bool bias_, relu_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Variant>> variants_;
    std::atomic<std::uint64_t> packs_{0};
};

}  // namespace

std::unique_ptr<PackedLinear> PackedLinear::make(std::int64_t rows, std::int64_t in, std::int64_t out, bool bias,
                                                 bool relu) {
    // oneDNN has no empty tensors, and int32 offsets inside its kernels bound the sizes.
    constexpr std::int64_t limit = std::int64_t{1} << 30;
    if (rows <= 0 || in <= 0 || out <= 0 || rows * in >= limit || out * in >= limit || rows * out >= limit) return nullptr;
    auto kernel = std::make_unique<DnnlPackedLinear>(rows, in, out, bias, relu);
    return kernel->prepare() ? std::move(kernel) : nullptr;
}

}  // namespace tg::detail

#else  // no oneDNN: the executor keeps eager linear

namespace tg::detail {

std::unique_ptr<PackedLinear> PackedLinear::make(std::int64_t, std::int64_t, std::int64_t, bool, bool) { return nullptr; }

}  // namespace tg::detail

#endif
