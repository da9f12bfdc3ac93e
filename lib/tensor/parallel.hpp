// The one way kernels run in parallel: parallel_for over OpenMP, the pool OpenBLAS's
// OpenMP build uses too (docs/design.md, "Threads: one OpenMP pool"). Work is cut into
// fixed chunks that depend only on its size, the grain and the thread count, so a result
// is reproducible for a given tg::get_num_threads(); a call made inside a parallel region
// (a kernel called from a parallel kernel, or from a user's own OpenMP loop) runs serially.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <type_traits>

#include <omp.h>

namespace tg::detail {

// Grain sizes: the least work (elements, or rows for the row kernels) worth waking a
// thread for. Measured with `tg_bench grain` (tools/bench/tg_bench.cpp) on the 2-vCPU
// EPYC: waking the second thread costs ~5 µs with passive waiting, and the grains below
// are where a chunk's work first exceeds ~4× that. All kernels take their grain from here.
namespace grain {
inline constexpr std::int64_t cheap = 64 * 1024;      // add, mul, relu, copy: ~1 ns/element
inline constexpr std::int64_t costly = 8 * 1024;      // exp, log, tanh, sigmoid, erf, pow
inline constexpr std::int64_t reduction = 64 * 1024;  // sums, norms: elements read
inline constexpr std::int64_t row_elements = 16 * 1024;  // softmax/norm rows: elements per chunk
inline constexpr std::int64_t optimizer = 32 * 1024;  // Adam/SGD/RMSprop/Adagrad: parameters
inline constexpr std::int64_t copy_bytes = 256 * 1024;  // gathers, collation: bytes moved
// GEMMs below this many multiply-adds run on the calling thread alone: waking the pool's
// passively waiting workers costs tens of microseconds, more than a small product takes
// (tg::mm on oneDNN's sgemm, 2 threads against 1, this machine: 32x64x512 60 vs 10 us,
// 32x128x512 67 vs 18 us, 256^3 126 vs 140 us, 128x784x256 171 vs 225 us).
inline constexpr double serial_gemm_macs = 8e6;
}  // namespace grain

// tg::get_num_threads(), read on every call (TG_NUM_THREADS or the OpenMP default at start).
int num_threads();
// Sets it (and the calling thread's OpenMP count, which OpenBLAS's GEMMs follow).
void set_threads(int threads);
// The threads a team may use now: num_threads(), or fewer while the count is the default
// (no set_num_threads, TG_NUM_THREADS or OMP_NUM_THREADS) and other processes keep CPUs
// busy (parallel.cpp): a second thread beside a busy process cost more than it gave (the
// `contended` bench). Chunking never depends on it, so results do not either.
int team_threads();

// Around a call into OpenBLAS or oneDNN, which size their OpenMP teams by the calling
// thread's own count: makes that count `n` (a thread other than the one that called
// set_num_threads gets it too; `n` below num_threads() keeps a small call off the pool,
// grain::serial_gemm_macs) and gives the thread its own count back at the end of the scope,
// so a caller's BLAS calls after ours run with the count it set, not with the one our last
// small GEMM or one-thread convolution piece needed. Inside a parallel region it does
// nothing: the libraries run such a call on the calling thread.
class LibraryThreads {
public:
    explicit LibraryThreads(int n = team_threads()) {
        if (omp_in_parallel()) return;
        if (const int own = omp_get_max_threads(); own != n) {
            omp_set_num_threads(n);
            restore_ = own;
        }
    }
    ~LibraryThreads() {
        if (restore_ > 0) omp_set_num_threads(restore_);
    }
    LibraryThreads(const LibraryThreads&) = delete;
    LibraryThreads& operator=(const LibraryThreads&) = delete;

    // The count the libraries see now: what a oneDNN primitive must be built for.
    int count() const { return omp_get_max_threads(); }

private:
    int restore_ = 0;
};

// True on threads that must not start OpenMP teams of their own: DataLoader workers
// already run beside the main thread's pool (each would get a team: oversubscription).
inline thread_local bool serial_thread = false;
struct SerialThreadScope {
    SerialThreadScope() : previous(serial_thread) { serial_thread = true; }
    ~SerialThreadScope() { serial_thread = previous; }
    SerialThreadScope(const SerialThreadScope&) = delete;
    SerialThreadScope& operator=(const SerialThreadScope&) = delete;
    bool previous;
};

// How many chunks parallel_for cuts `n` items into: at most num_threads(), each at least
// `grain` items; 1 inside a parallel region or on a serial thread.
inline std::int64_t chunk_count(std::int64_t n, std::int64_t grain) {
    if (n <= grain || omp_in_parallel() || serial_thread) return 1;
    return std::max<std::int64_t>(1, std::min<std::int64_t>(num_threads(), n / grain));
}

// Start of chunk c of `chunks` over [0, n): boundaries fall on `first + k * quantum`
// (first < quantum), so a vector loop that aligns to its output's address meets the same
// element boundaries whatever the chunk count.
inline std::int64_t chunk_begin(std::int64_t n, std::int64_t chunks, std::int64_t c, std::int64_t quantum,
                                std::int64_t first) {
    if (c <= 0) return 0;
    if (c >= chunks) return n;
    const std::int64_t raw = n * c / chunks;
    if (raw <= first) return std::min(first, n);
    return std::min(n, first + (raw - first) / quantum * quantum);
}

// Runs chunk(context, c) for c in [0, chunks) (chunks >= 2) on a team of at most
// team_threads() threads, each thread taking the next chunk as it comes free, or in order
// on this thread when the team would be one; the first exception a chunk throws is
// rethrown here (parallel.cpp).
// Not a template: one OpenMP region for the whole library, where one per kernel (833 of
// them, 347 kB of code with their exception plumbing) made a quarter of its size.
void run_chunks_on_team(std::int64_t chunks, void (*chunk)(void* context, std::int64_t c), void* context);

// Calls chunk(c) for c in [0, chunks), in parallel, each chunk on one team thread.
// Exceptions thrown by a chunk are rethrown here (the first one). A single chunk (small
// work, the per-op path) runs inline, without an indirect call.
template <class ChunkFn>
void run_chunks(std::int64_t chunks, ChunkFn&& chunk) {
    if (chunks <= 1) {
        if (chunks == 1) chunk(std::int64_t{0});
        return;
    }
    using Fn = std::remove_reference_t<ChunkFn>;
    run_chunks_on_team(
        chunks, [](void* f, std::int64_t c) { (*static_cast<Fn*>(f))(c); },
        const_cast<void*>(static_cast<const void*>(std::addressof(chunk))));
}

// Runs body(begin, end) over [0, n) in `chunks` pieces whose boundaries are chunk_begin's.
template <class Body>
void parallel_for_chunks(std::int64_t n, std::int64_t chunks, std::int64_t quantum, std::int64_t first,
                         Body&& body) {
    if (n <= 0) return;
    if (chunks <= 1) {
        body(std::int64_t{0}, n);
        return;
    }
    run_chunks(chunks, [&](std::int64_t c) {
        const std::int64_t b = chunk_begin(n, chunks, c, quantum, first);
        const std::int64_t e = chunk_begin(n, chunks, c + 1, quantum, first);
        if (b < e) body(b, e);
    });
}

template <class Body>
void parallel_for(std::int64_t n, std::int64_t grain, Body&& body) {
    parallel_for_chunks(n, chunk_count(n, grain), 1, 0, body);
}

// For kernels whose vector loop aligns itself to `out`'s address (xtensor's assignment
// does): chunk boundaries sit on 64-byte boundaries of `out`, so every element takes the
// same (vector or scalar) path at any thread count and results stay bitwise identical.
template <class T, class Body>
void parallel_for_aligned(const T* out, std::int64_t n, std::int64_t grain, Body&& body) {
    constexpr std::int64_t quantum = 64 / sizeof(T) > 0 ? 64 / sizeof(T) : 1;
    const auto addr = reinterpret_cast<std::uintptr_t>(out);
    const std::int64_t first =
        addr % sizeof(T) == 0 ? static_cast<std::int64_t>((64 - addr % 64) % 64 / sizeof(T)) : 0;
    parallel_for_chunks(n, chunk_count(n, grain), quantum, first, body);
}

// A deterministic reduction: [0, n) cut into fixed chunks (as parallel_for), chunk(b, e)
// gives each partial, and the partials are combined left to right. The same thread count
// gives the same bits; a different one may round differently, as in any parallel sum.
template <class T, class Chunk, class Combine>
T parallel_reduce(std::int64_t n, std::int64_t grain, T identity, Chunk&& chunk, Combine&& combine) {
    const std::int64_t chunks = chunk_count(n, grain);
    if (chunks <= 1) return n > 0 ? chunk(std::int64_t{0}, n) : identity;
    constexpr std::int64_t max_chunks = 64;
    const std::int64_t used = std::min(chunks, max_chunks);
    T partials[max_chunks];
    run_chunks(used, [&](std::int64_t c) {
        partials[c] = chunk(chunk_begin(n, used, c, 1, 0), chunk_begin(n, used, c + 1, 1, 0));
    });
    T total = identity;
    for (std::int64_t c = 0; c < used; ++c) total = combine(total, partials[c]);
    return total;
}

}  // namespace tg::detail
