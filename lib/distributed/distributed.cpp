// tg::distributed over MPI: init / finalize, collectives on tensors with a deadline,
// broadcast of module state. (DistributedDataParallel: ddp.cpp; the sampler: sampler.cpp.)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>

#include "distributed/comm.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/serialize.hpp"
#include "tensor/check.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::distributed {

namespace {

std::atomic<long long> timeout_ms{-1};  // -1: not read from the environment yet

bool mpi_initialized() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized;
}

}  // namespace

namespace detail {

void require_init(std::string_view op) {
    TG_CHECK(mpi_initialized(), op, "tg::distributed::init() has not been called (or finalize() already was)");
}

void check_mpi(int rc, std::string_view op) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    TG_CHECK(false, op, "rank {} of {}: MPI error: {}", rank(), world_size(), std::string(text, len));
}

MPI_Datatype mpi_type(Dtype dtype, std::string_view op) {
    switch (dtype) {
        case Dtype::Float32: return MPI_FLOAT;
        case Dtype::Float64: return MPI_DOUBLE;
        case Dtype::Int64: return MPI_INT64_T;
        case Dtype::Bool: return MPI_UNSIGNED_CHAR;
    }
    TG_CHECK(false, op, "unknown dtype");
    return MPI_DATATYPE_NULL;
}

void progress(std::vector<MPI_Request>& requests) {
    if (requests.empty()) return;
    int done = 0;
    MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE);
}

void wait_all(std::vector<MPI_Request>& requests, std::string_view what) {
    if (requests.empty()) return;
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + timeout();
    const auto gentle = start + std::chrono::seconds(1);
    for (long spins = 0;; ++spins) {
        int done = 0;
        // Each test also progresses the reductions in flight (OpenMPI has no progress thread),
        // so poll eagerly, yielding the core to a peer that shares it; only after a second
        // (a peer that is slow or gone, not a reduction in progress) poll every millisecond.
        check_mpi(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE),
                  what);
        if (done) break;
        if (spins % 64 != 63) {
            std::this_thread::yield();
            continue;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now > gentle) {
            if (now > deadline) {
                const double waited = std::chrono::duration<double>(timeout()).count();
                tg::distributed::abort(fmt::format(
                    "tg::distributed: rank {} of {}: {} has not completed after {:g} s: another rank has "
                    "probably died or stopped taking part (set TG_DIST_TIMEOUT to wait longer); aborting the job",
                    rank(), world_size(), what, waited));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    requests.clear();
}

}  // namespace detail

bool available() { return true; }

void init(int* argc, char*** argv) {
    if (mpi_initialized()) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    TG_CHECK(!finalized, "distributed::init", "MPI was already finalized in this process");
    int provided = 0;
    // Funneled: only the thread that called init makes MPI calls (tapegrad's intra-op
    // threads never do).
    TG_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS, "distributed::init",
             "MPI_Init_thread failed");
    // Errors come back as return codes (thrown as tg::Error) instead of killing the process
    // with MPI's generic message.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

void finalize() {
    if (!mpi_initialized()) return;
    barrier();  // with the deadline: a rank that died makes this one abort, not hang
    MPI_Finalize();
}

bool is_initialized() { return mpi_initialized(); }

Context::~Context() {
    if (std::uncaught_exceptions() > 0 && mpi_initialized() && world_size() > 1)
        abort(fmt::format("tg::distributed: rank {} of {} is exiting with an exception; aborting the job", rank(),
                          world_size()));
    finalize();
}

int rank() {
    if (!mpi_initialized()) return 0;
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int world_size() {
    if (!mpi_initialized()) return 1;
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

bool is_main_process() { return rank() == 0; }

void set_timeout(std::chrono::milliseconds timeout) {
    TG_CHECK(timeout.count() > 0, "distributed::set_timeout", "the timeout must be positive, got {} ms",
             timeout.count());
    timeout_ms = timeout.count();
}

std::chrono::milliseconds timeout() {
    long long ms = timeout_ms.load();
    if (ms < 0) {
        ms = 300000;
        if (const char* env = std::getenv("TG_DIST_TIMEOUT")) {
            char* end = nullptr;
            const double seconds = std::strtod(env, &end);
            if (end != env && seconds > 0) ms = static_cast<long long>(seconds * 1000);
        }
        timeout_ms = ms;
    }
    return std::chrono::milliseconds(ms);
}

void abort(const std::string& message, int code) {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
    if (mpi_initialized()) MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
}

void all_reduce(Tensor& tensor, ReduceOp op) {
    constexpr const char* name = "distributed::all_reduce";
    detail::require_init(name);
    tg::detail::check_defined(tensor, name);
    const Dtype dtype = tensor.dtype();
    TG_CHECK(op != ReduceOp::Mean || is_floating_point(dtype), name,
             "Mean needs a floating tensor, got {} of shape {}", dtype_name(dtype), tensor.sizes());
    TG_CHECK(dtype != kBool || op == ReduceOp::Max || op == ReduceOp::Min, name,
             "a bool tensor (shape {}) can be reduced with Max or Min only", tensor.sizes());
    MPI_Op mpi_op = MPI_SUM;
    switch (op) {
        case ReduceOp::Sum:
        case ReduceOp::Mean: mpi_op = MPI_SUM; break;
        case ReduceOp::Max: mpi_op = MPI_MAX; break;
        case ReduceOp::Min: mpi_op = MPI_MIN; break;
        case ReduceOp::Product: mpi_op = MPI_PROD; break;
    }
    NoGradGuard no_grad;
    Tensor buffer = tensor.is_contiguous() ? tensor : tensor.contiguous();
    std::vector<MPI_Request> requests(1);
    detail::check_mpi(MPI_Iallreduce(MPI_IN_PLACE, impl_of(buffer).data(), static_cast<int>(buffer.numel()),
                                     detail::mpi_type(dtype, name), mpi_op, MPI_COMM_WORLD, &requests[0]),
                      name);
    detail::wait_all(requests, fmt::format("all_reduce of a {} tensor of shape {}", dtype_name(dtype),
                                           tensor.sizes()));
    if (op == ReduceOp::Mean) buffer.mul_(1.0 / world_size());
    if (buffer.unsafe_impl() != tensor.unsafe_impl()) tensor.copy_(buffer);
    ++impl_of(tensor).storage()->version;
}

void broadcast(Tensor& tensor, int root) {
    constexpr const char* name = "distributed::broadcast";
    detail::require_init(name);
    tg::detail::check_defined(tensor, name);
    TG_CHECK(root >= 0 && root < world_size(), name, "root {} is not a rank (world size {})", root, world_size());
    NoGradGuard no_grad;
    Tensor buffer = tensor.is_contiguous() ? tensor : tensor.contiguous();
    std::vector<MPI_Request> requests(1);
    detail::check_mpi(MPI_Ibcast(impl_of(buffer).data(), static_cast<int>(buffer.numel()),
                                 detail::mpi_type(buffer.dtype(), name), root, MPI_COMM_WORLD, &requests[0]),
                      name);
    detail::wait_all(requests, fmt::format("broadcast from rank {} of a tensor of shape {}", root, tensor.sizes()));
    if (buffer.unsafe_impl() != tensor.unsafe_impl()) tensor.copy_(buffer);
    ++impl_of(tensor).storage()->version;
}

void broadcast_parameters(const nn::Module& module, int root) {
    // Shapes first: a rank with a different architecture fails clearly rather than
    // receiving garbage.
    NamedTensors state = state_dict(module);
    Tensor count = from_vector(std::vector<std::int64_t>{static_cast<std::int64_t>(state.size())}, {1});
    Tensor mine = count.clone();
    broadcast(count, root);
    TG_CHECK(count.item<std::int64_t>() == mine.item<std::int64_t>(), "distributed::broadcast_parameters",
             "rank {} has {} parameters and buffers, rank {} has {}", rank(), mine.item<std::int64_t>(), root,
             count.item<std::int64_t>());
    for (auto& [name, t] : state) broadcast(t, root);
}

void barrier() {
    detail::require_init("distributed::barrier");
    std::vector<MPI_Request> requests(1);
    detail::check_mpi(MPI_Ibarrier(MPI_COMM_WORLD, &requests[0]), "distributed::barrier");
    detail::wait_all(requests, "barrier");
}

}  // namespace tg::distributed
