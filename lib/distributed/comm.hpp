// Internal to tg::distributed (MPI builds): non-blocking requests waited for with the
// deadline that turns a dead peer into a clear abort instead of a hang.
#pragma once

// The C API only: no MPI C++ bindings (deprecated, and noisy under -Wextra).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <string_view>
#include <vector>

#include "tapegrad/distributed.hpp"

namespace tg::distributed::detail {

void require_init(std::string_view op);
MPI_Datatype mpi_type(Dtype dtype, std::string_view op);
// Throws tg::Error "<op>: MPI error: <text>" unless rc is MPI_SUCCESS.
void check_mpi(int rc, std::string_view op);
// Waits for every request; past the deadline, aborts the job naming `what`.
void wait_all(std::vector<MPI_Request>& requests, std::string_view what);
// Lets MPI progress outstanding non-blocking operations (without waiting).
void progress(std::vector<MPI_Request>& requests);

}  // namespace tg::distributed::detail
