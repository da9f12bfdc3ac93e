// How much of this process's CPUs other processes are using: what the default thread
// count (parallel.cpp's team_threads) shrinks to beside a busy neighbour.
#pragma once

#include "tapegrad/export.hpp"

namespace tg::detail {

// The CPUs other processes left idle over the last window of at least 100 ms: this
// process's CPUs (its affinity mask) less the CPU time the rest of the system spent on them,
// averaged over the window and rounded to whole CPUs; at least 1. 0 while unknown (the first
// window, or no /proc/stat). Cheap between windows (one relaxed atomic load); safe from any
// thread. Exported for test_parallel.
TG_API int idle_cpus();

// The arithmetic of idle_cpus(), apart for tests: `cpus` CPUs on which the rest of the
// system spent `others_cpu_seconds` (their busy time less this process's own CPU time) in
// `wall_seconds`. A neighbour counts from half a CPU on.
TG_API int idle_cpus_of(int cpus, double others_cpu_seconds, double wall_seconds);

}  // namespace tg::detail
