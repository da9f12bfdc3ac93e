// libtapegrad_openmp_env: a short spin for the OpenMP pool's idle threads unless the user
// chose a wait policy.
//
// libgomp's idle threads spin ~300000 rounds (milliseconds) before they sleep; beside a
// busy process that spinning takes the core the working thread needs, and two threads end
// up far slower than one (docs/design.md, "Threads: one OpenMP pool"). Fully passive
// waiting (no spin) cures that but makes every parallel region of a training step wake
// its workers from a futex: the 2-core MLP step lost a fifth to those wake-ups. 3000
// rounds (~0.1 ms here) bridge the gaps between one step's regions and GEMMs and cost an
// idle machine at most that much after the last one; beside a busy process the team is one
// thread anyway (parallel.cpp's team_threads), so nothing spins. libgomp reads its wait
// settings from the environment once, in its own constructor, and offers no call to change
// them later. This tiny library's constructor sets GOMP_SPINCOUNT first: it depends on
// nothing but libc and libtapegrad lists it after libgomp (DT_NEEDED order), so the
// dynamic linker loads it after libgomp and initialises it before (dependencies-first,
// reverse load order). test/scripts/openmp_wait_policy.sh checks libgomp saw it.
#include <cstdlib>

namespace {

__attribute__((constructor)) void default_to_short_spinning() {
    if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr)
        setenv("GOMP_SPINCOUNT", "3000", 0);
}

}  // namespace

// Referenced by libtapegrad so that --as-needed keeps this library in its DT_NEEDED list.
extern "C" int tg_openmp_wait_policy_linked() { return 1; }
