// Data-parallel training over MPI (libtorch's torch.distributed + DistributedDataParallel).
//
//   int main(int argc, char** argv) {
//       tg::distributed::Context mpi(&argc, &argv);            // MPI_Init ... MPI_Finalize
//       auto model = std::make_shared<Net>();
//       tg::distributed::DistributedDataParallel ddp(model);  // broadcasts rank 0's weights
//       tg::distributed::DistributedSampler sampler(dataset_size);
//       for (epoch ...) {
//           sampler.set_epoch(epoch);                          // same seed ⇒ disjoint shards
//           for (batch of sampler.indices()) {
//               model->zero_grad();
//               F::cross_entropy(ddp.forward(x), y).backward(); // gradients averaged over ranks
//               optimizer.step();
//           }
//           if (tg::distributed::is_main_process()) { /* log, save checkpoints */ }
//       }
//   }
//   $ mpirun -np 4 ./train
//
// Built with MPI (meson option `mpi`, on when MPI is found) this runs over MPI_COMM_WORLD;
// without it every function works as a world of one process (rank 0, size 1) and init()
// throws, so a program can offer --distributed in both builds (see available()).
//
// Failure: every collective waits with a deadline (timeout(), default 300 s, environment
// TG_DIST_TIMEOUT in seconds). A rank that dies or stops calling collectives makes the
// others print "tg::distributed: rank R of N: <collective> has not completed after T s ..."
// and abort the whole job (MPI_Abort) instead of hanging; mpirun also ends the job when a
// rank exits without finalize. MPI errors are returned (not fatal) and thrown as tg::Error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::distributed {

// True when this build has MPI.
bool available();

// Initialises MPI (once; later calls do nothing). Throws tg::Error without MPI.
void init(int* argc = nullptr, char*** argv = nullptr);
// Finalises MPI after a barrier (waits with the deadline); nothing if not initialised.
void finalize();
bool is_initialized();

// RAII: init() in the constructor, finalize() in the destructor. If the destructor runs
// during stack unwinding (an exception is escaping) it aborts the job instead, so the
// other ranks do not wait for this one forever.
class Context {
public:
    explicit Context(int* argc = nullptr, char*** argv = nullptr) { init(argc, argv); }
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
};

// 0 and 1 when MPI is not initialised (a single process).
int rank();
int world_size();
// Rank 0: the process that logs, shows progress and writes checkpoints.
bool is_main_process();

// The deadline of every collective (see above).
void set_timeout(std::chrono::milliseconds timeout);
std::chrono::milliseconds timeout();

enum class ReduceOp { Sum, Mean, Max, Min, Product };

// In place, across all ranks; the tensor must have the same shape and dtype everywhere.
// Not recorded on the tape. Mean needs a floating tensor; bool supports Max / Min.
void all_reduce(Tensor& tensor, ReduceOp op = ReduceOp::Sum);
// Copies `root`'s values into `tensor` on every rank.
void broadcast(Tensor& tensor, int root = 0);
// The module's parameters and buffers from `root` to every rank (start of training).
void broadcast_parameters(const nn::Module& module, int root = 0);
void barrier();
// Aborts every rank of the job with `message` on stderr (MPI_Abort); exits without MPI.
[[noreturn]] void abort(const std::string& message, int code = 1);

// Gradient averaging while backward runs (libtorch's DistributedDataParallel). The
// constructor broadcasts rank 0's parameters and buffers, then hooks every parameter that
// requires grad. Parameters are grouped in buckets (reverse registration order, which is
// roughly the order backward produces them, at most bucket_bytes each); when the last
// gradient of a bucket arrives the bucket's non-blocking allreduce starts, while backward
// carries on. When the pass ends (tg::autograd::queue_callback) the remaining buckets are
// sent, all are waited for, and every parameter's .grad() becomes the average over ranks.
// Buckets start in the same order on every rank. A parameter that got no gradient in this
// pass contributes zeros. Each rank must run the same number of backward passes.
struct DistributedDataParallelOptions {
    std::size_t bucket_bytes = std::size_t{1} << 19;  // 512 KiB
    // false: every allreduce starts only after backward (the baseline the benchmark uses
    // to measure how much communication the overlap hides).
    bool overlap = true;
    int root = 0;  // whose initial parameters everyone starts from
};

class DistributedDataParallel {
public:
    using Options = DistributedDataParallelOptions;
    explicit DistributedDataParallel(std::shared_ptr<nn::Module> module, Options options = {});
    // A module the caller owns (it must outlive this object): `nn::Sequential model(...);`
    explicit DistributedDataParallel(nn::Module& module, Options options = {})
        : DistributedDataParallel(std::shared_ptr<nn::Module>(&module, [](nn::Module*) {}), options) {}
    ~DistributedDataParallel();
    DistributedDataParallel(const DistributedDataParallel&) = delete;
    DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

    Tensor forward(const Tensor& input) { return module_->forward(input); }
    Tensor operator()(const Tensor& input) { return forward(input); }
    nn::Module& module() { return *module_; }
    const std::shared_ptr<nn::Module>& module_ptr() const { return module_; }

    // Counters since construction (for benchmarks): backward passes synchronised, buckets
    // sent, and the seconds spent at the end of backward waiting for allreduces that had
    // not finished yet (communication not hidden behind backward).
    struct Stats {
        std::int64_t steps = 0;
        std::int64_t buckets_sent = 0;
        double wait_seconds = 0;
    };
    Stats stats() const;
    std::size_t bucket_count() const;
    // Copies the root's buffers (BatchNorm running statistics, which each rank updates from
    // its own batches) to every rank; e.g. at the end of each epoch, before evaluating.
    void broadcast_buffers();

    struct State;

private:
    std::shared_ptr<nn::Module> module_;
    std::shared_ptr<State> state_;
};

// This rank's share of the indices 0 .. size-1 (libtorch's DistributedSampler). With the
// same seed and epoch on every rank, the shards are disjoint and together cover the set:
// the (shuffled) index list is padded by repeating its start to a multiple of the world
// size (every rank then runs the same number of steps), or with drop_last cut down to one;
// rank r takes positions r, r + world, r + 2·world, ... Shuffling is the rank-independent
// permutation of (seed, epoch).
class DistributedSampler {
public:
    explicit DistributedSampler(std::int64_t size, bool shuffle = true, std::uint64_t seed = 0,
                                bool drop_last = false);
    // Explicit world size and rank (tests, or a sampler for another process group).
    static DistributedSampler for_rank(std::int64_t size, int world_size, int rank, bool shuffle = true,
                                       std::uint64_t seed = 0, bool drop_last = false);

    void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }
    std::uint64_t epoch() const { return epoch_; }
    std::vector<std::int64_t> indices() const;  // this rank's indices for the current epoch
    std::int64_t per_rank() const;              // indices().size()
    // For tg::data::DataLoaderOptions::sampler (a function of the epoch):
    //   options.sampler = tg::distributed::DistributedSampler(dataset->size()).sampler();
    std::function<std::vector<std::int64_t>(std::int64_t epoch)> sampler() const;
    int rank() const { return rank_; }
    int world_size() const { return world_; }

private:
    DistributedSampler(std::int64_t size, int world_size, int rank, bool shuffle, std::uint64_t seed,
                       bool drop_last, int);
    std::int64_t size_;
    int world_;
    int rank_;
    bool shuffle_;
    std::uint64_t seed_;
    bool drop_last_;
    std::uint64_t epoch_ = 0;
};

}  // namespace tg::distributed

TG_PUBLIC_END
