// DistributedDataParallel: bucketed gradient allreduces started from the leaves' gradient
// hooks while backward runs, finished by a callback at the end of the pass.
#include <chrono>
#include <memory>

#include "distributed/comm.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::distributed {

struct DistributedDataParallel::State {
    struct Slot {
        Tensor param;
        std::size_t bucket = 0;
        std::int64_t offset = 0;
        std::int64_t numel = 0;
        bool filled = false;
        Tensor prior;  // the .grad() from before this pass, when there was one
    };
    struct Bucket {
        Tensor flat;
        std::vector<std::size_t> slots;
        std::size_t pending = 0;
    };

    Options options;
    std::vector<Slot> slots;
    std::vector<Bucket> buckets;
    std::size_t next_launch = 0;
    std::vector<MPI_Request> requests;
    bool in_backward = false;
    Stats stats;

    Tensor slot_view(const Slot& s) const {
        return buckets[s.bucket].flat.narrow(0, s.offset, s.numel).view(s.param.sizes());
    }

    void begin(const std::weak_ptr<State>& self) {
        in_backward = true;
        next_launch = 0;
        for (auto& b : buckets) b.pending = b.slots.size();
        for (auto& s : slots) {
            s.filled = false;
            s.prior = Tensor();
        }
        autograd::queue_callback([self] {
            if (auto state = self.lock()) state->finish();
        });
    }

    void launch(std::size_t b) {
        Bucket& bucket = buckets[b];
        requests.emplace_back();
        detail::check_mpi(MPI_Iallreduce(MPI_IN_PLACE, impl_of(bucket.flat).data(),
                                         static_cast<int>(bucket.flat.numel()),
                                         detail::mpi_type(bucket.flat.dtype(), "DistributedDataParallel"), MPI_SUM,
                                         MPI_COMM_WORLD, &requests.back()),
                          "DistributedDataParallel");
        ++stats.buckets_sent;
    }

    // Starts, in bucket order, every bucket whose gradients are all in: the same order on
    // every rank whatever order the hooks fire in.
    void launch_ready() {
        while (next_launch < buckets.size() && buckets[next_launch].pending == 0) launch(next_launch++);
    }

    void on_grad(std::size_t index, const Tensor& grad, const std::weak_ptr<State>& self) {
        if (!in_backward) begin(self);
        Slot& s = slots[index];
        NoGradGuard no_grad;
        Tensor dst = slot_view(s);
        if (s.filled) {  // a second gradient for the same leaf in one pass
            dst.add_(grad);
        } else {
            if (s.param.grad().defined()) s.prior = s.param.grad().clone();
            dst.copy_(grad);
            s.filled = true;
            --buckets[s.bucket].pending;
        }
        if (options.overlap) launch_ready();
        detail::progress(requests);
    }

    void finish() {
        if (!in_backward) return;
        NoGradGuard no_grad;
        for (std::size_t b = next_launch; b < buckets.size(); ++b)
            for (std::size_t i : buckets[b].slots)
                if (!slots[i].filled) slot_view(slots[i]).zero_();  // unused here: contributes 0
        while (next_launch < buckets.size()) launch(next_launch++);
        const auto start = std::chrono::steady_clock::now();
        detail::wait_all(requests, "DistributedDataParallel's gradient allreduce");
        stats.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double scale = 1.0 / world_size();
        for (auto& b : buckets) b.flat.mul_(scale);
        for (auto& s : slots) {
            Tensor average = slot_view(s);
            if (s.prior.defined()) {
                s.param.set_grad(s.prior.add_(average));
            } else if (Tensor g = s.param.grad(); g.defined() && g.sizes() == average.sizes()) {
                g.copy_(average);
            } else {
                s.param.set_grad(average.clone());
            }
            s.prior = Tensor();
        }
        ++stats.steps;
        in_backward = false;
    }
};

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module, Options options)
    : module_(std::move(module)), state_(std::make_shared<State>()) {
    constexpr const char* name = "DistributedDataParallel";
    TG_CHECK(module_ != nullptr, name, "the module is null");
    TG_CHECK(options.bucket_bytes > 0, name, "bucket_bytes must be positive");
    detail::require_init(name);
    state_->options = options;
    broadcast_parameters(*module_, options.root);

    // Buckets over the parameters in reverse registration order, one dtype each.
    std::vector<Tensor> params;
    for (const Tensor& p : module_->parameters())
        if (p.requires_grad()) params.push_back(p);
    std::vector<std::int64_t> fill;  // elements per bucket
    for (auto it = params.rbegin(); it != params.rend(); ++it) {
        const Tensor& p = *it;
        const std::size_t bytes = static_cast<std::size_t>(p.numel()) * element_size(p.dtype());
        auto& buckets = state_->buckets;
        const bool fresh = buckets.empty() || buckets.back().flat.dtype() != p.dtype() ||
                           (static_cast<std::size_t>(fill.back()) * element_size(p.dtype()) + bytes >
                                options.bucket_bytes &&
                            fill.back() > 0);
        if (fresh) {
            buckets.push_back({empty({0}, p.dtype()), {}, 0});
            fill.push_back(0);
        }
        State::Slot slot;
        slot.param = p;
        slot.bucket = buckets.size() - 1;
        slot.offset = fill.back();
        slot.numel = p.numel();
        fill.back() += p.numel();
        buckets.back().slots.push_back(state_->slots.size());
        state_->slots.push_back(std::move(slot));
    }
    for (std::size_t b = 0; b < state_->buckets.size(); ++b)
        state_->buckets[b].flat = zeros({fill[b]}, state_->buckets[b].flat.dtype());

    std::weak_ptr<State> weak = state_;
    for (std::size_t i = 0; i < state_->slots.size(); ++i) {
        Tensor p = state_->slots[i].param;
        p.register_hook([weak, i](const Tensor& grad) -> Tensor {
            if (auto state = weak.lock()) state->on_grad(i, grad, weak);
            return Tensor();
        });
    }
}

DistributedDataParallel::~DistributedDataParallel() {
    // Never free buffers MPI may still write into.
    if (state_ && !state_->requests.empty()) detail::wait_all(state_->requests, "DistributedDataParallel teardown");
}

DistributedDataParallel::Stats DistributedDataParallel::stats() const { return state_->stats; }
std::size_t DistributedDataParallel::bucket_count() const { return state_->buckets.size(); }

void DistributedDataParallel::broadcast_buffers() {
    for (auto& [name, t] : module_->named_buffers()) {
        Tensor buffer = t;
        broadcast(buffer, state_->options.root);
    }
}

}  // namespace tg::distributed
