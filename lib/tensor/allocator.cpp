// Tensor buffers. Large blocks are cached on release and handed out again for the same
// size class: a training step allocates the same large activations and gradients every
// iteration, and glibc gives blocks above its mmap threshold back to the kernel (and trims
// the heap top) at each free, so without a cache every step faulted its memory in again
// (measured: ~40% of an LSTM step and most of the CNN example's system time).
// Small blocks go straight to aligned_alloc, whose own free lists serve them well.
// The cache holds at most TG_CACHE_MB megabytes (environment; default 1024, 0 disables);
// a release beyond that frees for real.
#include "tensor/allocator.hpp"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace tg::detail {
namespace {

constexpr std::size_t kAlignment = 64;          // a cache line; what xsimd's widest loads like
constexpr std::size_t kMinCached = 128 << 10;   // glibc mmaps blocks from 128 kB up; below, its bins do well
constexpr std::size_t kGranule = 64 << 10;      // size classes of large blocks

std::size_t cache_limit_from_env() {
    const char* env = std::getenv("TG_CACHE_MB");
    if (env == nullptr || *env == '\0') return std::size_t(1024) << 20;
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    return end != env ? static_cast<std::size_t>(mb) << 20 : std::size_t(1024) << 20;
}

struct BlockCache {
    std::mutex mutex;
    std::map<std::size_t, std::vector<void*>> free_blocks;  // by capacity
    std::size_t cached_bytes = 0;
    std::size_t limit = cache_limit_from_env();
};

// Never destroyed: tensors held by other static objects may be released after main returns.
BlockCache& cache() {
    static auto* c = new BlockCache;
    return *c;
}

void* system_alloc(std::size_t capacity) {
    void* data = std::aligned_alloc(kAlignment, capacity);
    if (data == nullptr) throw std::bad_alloc();
    return data;
}

void* acquire_from_system_or_cache(std::size_t bytes, std::size_t* capacity) {
    if (bytes < kMinCached) {
        *capacity = bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
        return system_alloc(*capacity);
    }
    *capacity = (bytes + kGranule - 1) / kGranule * kGranule;
    BlockCache& c = cache();
    {
        std::lock_guard<std::mutex> lock(c.mutex);
        auto it = c.free_blocks.find(*capacity);
        if (it != c.free_blocks.end() && !it->second.empty()) {
            void* data = it->second.back();
            it->second.pop_back();
            c.cached_bytes -= *capacity;
            return data;
        }
    }
    try {
        return system_alloc(*capacity);
    } catch (const std::bad_alloc&) {
        empty_block_cache();  // the cache may be what stands in the way
        return system_alloc(*capacity);
    }
}

// glibc gives freed memory at the top of its heap back to the kernel beyond M_TRIM_THRESHOLD:
// 128 kB, raised only when a large mmapped block is freed, which the cache above prevents.
// So a step that allocates and frees dozens of medium buffers below the cache's 128 kB (an
// LSTM's gates and states: 16-64 kB each) had them faulted in again every iteration: a
// tenth of an LSTMCell or nn::LSTM step (perf: page faults under the first writes of the
// gate GEMMs and kernels; 9,190 faults per benchmark run, 7,799 with this, 11% faster). The
// thresholds are set to where glibc's own dynamic adjustment tops out (mmap 32 MB; trim
// 64 MB, twice that), at load, unless the user tuned malloc already (MALLOC_*_ variables,
// GLIBC_TUNABLES) or set TG_MALLOC_TUNING=0. docs/design.md, "Tensor = handle".
bool user_tuned_malloc() {
    for (const char* name : {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"})
        if (std::getenv(name) != nullptr) return true;
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    return tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr;
}

bool tune_malloc() {
    const char* opt_out = std::getenv("TG_MALLOC_TUNING");
    if ((opt_out != nullptr && std::strcmp(opt_out, "0") == 0) || user_tuned_malloc()) return false;
    return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 64 << 20) == 1;
}

[[maybe_unused]] const bool malloc_tuned = tune_malloc();

thread_local BlockSource* t_source = nullptr;
// Per thread: a shared atomic would put a locked add, and a cache line the threads fight
// over, on every allocation of every op for the sake of a test counter.
thread_local std::uint64_t t_acquisitions = 0;

}  // namespace

ScopedBlockSource::ScopedBlockSource(BlockSource* source) : previous_(t_source) { t_source = source; }
ScopedBlockSource::~ScopedBlockSource() { t_source = previous_; }

std::uint64_t block_acquisitions() { return t_acquisitions; }

void* acquire_block(std::size_t bytes, std::size_t* capacity) {
    BlockSource* source = t_source;
    if (source != nullptr) {
        if (void* data = source->take(bytes)) {
            *capacity = 0;  // the source's: release_block leaves it alone
            return data;
        }
    }
    ++t_acquisitions;
    void* data = acquire_from_system_or_cache(bytes, capacity);
    if (source != nullptr) source->acquired(data, bytes);
    return data;
}

void release_block(void* data, std::size_t capacity) {
    if (data == nullptr || capacity == 0) return;  // capacity 0: a BlockSource's block
    if (capacity >= kMinCached) {
        BlockCache& c = cache();
        std::lock_guard<std::mutex> lock(c.mutex);
        if (c.cached_bytes + capacity <= c.limit) {
            c.free_blocks[capacity].push_back(data);
            c.cached_bytes += capacity;
            return;
        }
    }
    std::free(data);
}

std::size_t cached_block_bytes() {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    return c.cached_bytes;
}

void empty_block_cache() {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    for (auto& [capacity, blocks] : c.free_blocks)
        for (void* data : blocks) std::free(data);
    c.free_blocks.clear();
    c.cached_bytes = 0;
}

}  // namespace tg::detail
