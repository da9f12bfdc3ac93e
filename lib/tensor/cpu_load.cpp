// The CPUs other processes leave idle, for the default thread count (cpu_load.hpp).
//
// A time average, not a snapshot: the first version counted the system's runnable tasks at
// the instant of a read (/proc/loadavg's "running" less our own threads in state R), and any
// short-lived task that happened to be running then (a kworker, a shell, the profiler) read
// as a busy neighbour and put the next 20 ms on one thread: the 2-core CNN step's reps
// ranged over 21-37 ms on an idle machine. Busy time over a window of 100 ms or more sees
// a neighbour that keeps a CPU busy and not one that runs for a millisecond.
#include "tensor/cpu_load.hpp"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace tg::detail {
namespace {

constexpr auto kWindow = std::chrono::milliseconds(100);

struct Sample {
    double wall = 0;    // steady clock, seconds
    double busy = -1;   // busy seconds of this process's CPUs, summed; < 0 when unreadable
    double own = 0;     // this process's CPU seconds
    int cpus = 0;       // how many CPUs `busy` covers
};

double seconds_of(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Sums the busy time (user, nice, system, irq, softirq: not idle, iowait or steal, which no
// process of this system spent) of the "cpuN" lines of /proc/stat whose N is in this
// thread's affinity mask.
void read_busy(Sample& s) {
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof mask, &mask) != 0) return;
    std::FILE* f = std::fopen("/proc/stat", "r");
    if (f == nullptr) return;
    static const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
    char line[512];
    unsigned long long busy = 0;
    int cpus = 0;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::strncmp(line, "cpu", 3) != 0) {
            if (cpus > 0) break;  // the cpuN lines come first, together
            continue;
        }
        int cpu = -1;
        unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
        if (std::sscanf(line + 3, "%d %llu %llu %llu %llu %llu %llu %llu", &cpu, &user, &nice, &system, &idle, &iowait,
                        &irq, &softirq) != 8)
            continue;  // the first line, "cpu  ...", is the sum over all CPUs
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &mask)) continue;
        busy += user + nice + system + irq + softirq;
        ++cpus;
    }
    std::fclose(f);
    if (cpus == 0 || ticks_per_second <= 0) return;
    s.busy = static_cast<double>(busy) / ticks_per_second;
    s.cpus = cpus;
}

Sample take_sample() {
    Sample s;
    s.wall = seconds_of(CLOCK_MONOTONIC);
    s.own = seconds_of(CLOCK_PROCESS_CPUTIME_ID);
    read_busy(s);
    return s;
}

}  // namespace

int idle_cpus_of(int cpus, double others_cpu_seconds, double wall_seconds) {
    if (cpus <= 0 || !(wall_seconds > 0)) return 0;
    const double others = std::max(0.0, others_cpu_seconds / wall_seconds);
    const int neighbours = static_cast<int>(std::floor(others + 0.5));
    return std::max(1, cpus - neighbours);
}

int idle_cpus() {
    using Clock = std::chrono::steady_clock;
    static std::atomic<Clock::rep> next_read{0};
    static std::atomic<int> idle{0};
    const Clock::rep now = Clock::now().time_since_epoch().count();
    if (now < next_read.load(std::memory_order_relaxed)) return idle.load(std::memory_order_relaxed);

    static std::mutex mutex;
    static Sample last;
    std::unique_lock lock(mutex, std::try_to_lock);
    if (!lock.owns_lock()) return idle.load(std::memory_order_relaxed);  // another thread is reading
    next_read.store(now + std::chrono::duration_cast<Clock::duration>(kWindow).count(), std::memory_order_relaxed);
    const Sample s = take_sample();
    int result = 0;
    if (s.busy >= 0 && last.busy >= 0) {
        // A window of over a second (the process did not ask for a while) averages over a
        // past that may be gone; one with another set of CPUs (the affinity changed) compares
        // unlike sums: both keep the last answer and start a new window.
        const double wall = s.wall - last.wall;
        result = s.cpus == last.cpus && wall <= 1.0
                     ? idle_cpus_of(s.cpus, (s.busy - last.busy) - (s.own - last.own), wall)
                     : idle.load(std::memory_order_relaxed);
    }
    last = s;
    idle.store(result, std::memory_order_relaxed);
    return result;
}

}  // namespace tg::detail
