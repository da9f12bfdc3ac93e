// tg::distributed in a build without MPI: a world of one process. Collectives are the
// identity, DistributedDataParallel leaves gradients alone, and init() says how to get MPI.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "tapegrad/distributed.hpp"
#include "tensor/check.hpp"

namespace tg::distributed {

namespace {
std::chrono::milliseconds deadline{300000};
}

bool available() { return false; }

void init(int*, char***) {
    TG_CHECK(false, "distributed::init",
             "this tapegrad was built without MPI (install libopenmpi-dev and reconfigure with -Dmpi=enabled)");
}
void finalize() {}
bool is_initialized() { return false; }
Context::~Context() = default;
int rank() { return 0; }
int world_size() { return 1; }
bool is_main_process() { return true; }
void set_timeout(std::chrono::milliseconds timeout) {
    TG_CHECK(timeout.count() > 0, "distributed::set_timeout", "the timeout must be positive, got {} ms",
             timeout.count());
    deadline = timeout;
}
std::chrono::milliseconds timeout() { return deadline; }

void all_reduce(Tensor& tensor, ReduceOp) { tg::detail::check_defined(tensor, "distributed::all_reduce"); }
void broadcast(Tensor& tensor, int root) {
    tg::detail::check_defined(tensor, "distributed::broadcast");
    TG_CHECK(root == 0, "distributed::broadcast", "root {} is not a rank (world size 1)", root);
}
void broadcast_parameters(const nn::Module&, int root) {
    TG_CHECK(root == 0, "distributed::broadcast_parameters", "root {} is not a rank (world size 1)", root);
}
void barrier() {}
void abort(const std::string& message, int code) {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::_Exit(code);
}

struct DistributedDataParallel::State {
    Stats stats;
};

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module, Options)
    : module_(std::move(module)), state_(std::make_shared<State>()) {
    TG_CHECK(module_ != nullptr, "DistributedDataParallel", "the module is null");
}
DistributedDataParallel::~DistributedDataParallel() = default;
DistributedDataParallel::Stats DistributedDataParallel::stats() const { return state_->stats; }
std::size_t DistributedDataParallel::bucket_count() const { return 0; }
void DistributedDataParallel::broadcast_buffers() {}

}  // namespace tg::distributed
