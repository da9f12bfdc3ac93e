// The thread count every parallel kernel and every GEMM uses (tg::set_num_threads).
#include "tensor/parallel.hpp"

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>

extern "C" int tg_openmp_wait_policy_linked();  // lib/tensor/openmp_wait_policy.cpp

namespace tg::detail {
namespace {

// True once the count was asked for (TG_NUM_THREADS, OMP_NUM_THREADS, set_num_threads):
// then it is used as given, whatever else runs on the machine.
std::atomic<bool> count_requested{std::getenv("TG_NUM_THREADS") != nullptr || std::getenv("OMP_NUM_THREADS") != nullptr};

// TG_NUM_THREADS if set to a positive integer, else OpenMP's default (OMP_NUM_THREADS, or
// the CPUs this process may run on).
int initial_threads() {
    if (const char* env = std::getenv("TG_NUM_THREADS")) {
        char* end = nullptr;
        const long n = std::strtol(env, &end, 10);
        if (end != env && *end == '\0' && n >= 1 && n <= 4096) return static_cast<int>(n);
    }
    return std::max(1, omp_get_max_threads());
}

std::atomic<int>& thread_count() {
    static std::atomic<int> count = [] {
        (void)tg_openmp_wait_policy_linked();
        const int n = initial_threads();
        omp_set_num_threads(n);  // OpenBLAS's OpenMP build follows the caller's OpenMP count
        return n;
    }();
    return count;
}

}  // namespace

int num_threads() { return thread_count().load(std::memory_order_relaxed); }

void set_threads(int threads) {
    count_requested.store(true, std::memory_order_relaxed);
    thread_count().store(threads, std::memory_order_relaxed);
    omp_set_num_threads(threads);
}

namespace {

// This process's runnable threads (state R in /proc/self/task/*/stat), the calling one
// included; 0 when unknown.
int own_running_threads() {
    int running = 0;
    DIR* dir = opendir("/proc/self/task");
    if (dir == nullptr) return 0;
    while (const dirent* entry = readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        char path[64];
        std::snprintf(path, sizeof path, "/proc/self/task/%.20s/stat", entry->d_name);
        std::FILE* f = std::fopen(path, "r");
        if (f == nullptr) continue;
        char line[512];
        const std::size_t n = std::fread(line, 1, sizeof line - 1, f);
        std::fclose(f);
        line[n] = '\0';
        // "tid (comm) S ...": the state follows the last ')' (comm may hold spaces and parens).
        const char* close = std::strrchr(line, ')');
        if (close != nullptr && close[1] == ' ' && close[2] == 'R') ++running;
    }
    closedir(dir);
    return running;
}

// The CPUs other processes leave idle: this process's CPUs minus the runnable tasks of the
// whole system (/proc/loadavg's fourth field, "running/total") that are not this process's
// own threads (our OpenMP workers finishing a region must not count as a busy neighbour:
// they did, and the 2-core MLP step fell back to one thread). Read at most every 20 ms
// (both reads take some microseconds); 0 when unknown.
int idle_cpus() {
    using Clock = std::chrono::steady_clock;
    static std::atomic<Clock::rep> next_read{0};
    static std::atomic<int> idle{0};
    const Clock::rep now = Clock::now().time_since_epoch().count();
    if (now < next_read.load(std::memory_order_relaxed)) return idle.load(std::memory_order_relaxed);
    next_read.store(now + std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(20)).count(),
                    std::memory_order_relaxed);
    int result = 0;
    if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
        double one, five, fifteen;
        int running = 0, total = 0;
        if (std::fscanf(f, "%lf %lf %lf %d/%d", &one, &five, &fifteen, &running, &total) == 5 && running >= 1) {
            const int others = std::max(0, running - std::max(1, own_running_threads()));
            result = std::max(1, omp_get_num_procs() - others);
        }
        std::fclose(f);
    }
    idle.store(result, std::memory_order_relaxed);
    return result;
}

}  // namespace

int team_threads() {
    const int n = num_threads();
    if (n <= 1 || count_requested.load(std::memory_order_relaxed)) return n;
    const int idle = idle_cpus();
    return idle > 0 ? std::min(n, idle) : n;
}

void run_chunks_on_team(std::int64_t chunks, void (*chunk)(void* context, std::int64_t c), void* context) {
    const int team = static_cast<int>(std::min<std::int64_t>(chunks, team_threads()));
    if (team <= 1) {  // the same chunks, in order, on this thread
        for (std::int64_t c = 0; c < chunks; ++c) chunk(context, c);
        return;
    }
    std::exception_ptr error;
    std::mutex error_mutex;
#pragma omp parallel num_threads(team)
    {
        const std::int64_t team = omp_get_num_threads();
        for (std::int64_t c = omp_get_thread_num(); c < chunks; c += team) {
            try {
                chunk(context, c);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
            }
        }
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace tg::detail
