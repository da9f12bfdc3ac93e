// libtapegrad_openmp_env: passive waiting for the OpenMP pool unless the user chose.
//
// libgomp's idle threads spin ~300000 rounds (milliseconds) before they sleep; beside a
// busy process that spinning takes the core the working thread needs, and two threads end
// up far slower than one (docs/design.md, "Threads: one OpenMP pool"). libgomp reads its
// wait policy from the environment once, in its own constructor, and offers no call to
// change it later. This tiny library's constructor sets OMP_WAIT_POLICY=passive first: it
// depends on nothing but libc and libtapegrad lists it after libgomp (DT_NEEDED order), so
// the dynamic linker loads it after libgomp and initialises it before (dependencies-first,
// reverse load order). test/scripts/openmp_wait_policy.sh checks libgomp saw it.
#include <cstdlib>

namespace {

__attribute__((constructor)) void default_to_passive_waiting() {
    if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr)
        setenv("OMP_WAIT_POLICY", "passive", 0);
}

}  // namespace

// Referenced by libtapegrad so that --as-needed keeps this library in its DT_NEEDED list.
extern "C" int tg_openmp_wait_policy_linked() { return 1; }
