#include "util/parallel.h"

#include <sched.h>
#include <unistd.h>

namespace cadcrafter {

void unpin_current_thread() {
  // Ask for every configured CPU; the kernel intersects the mask with the CPUs the process's
  // cpuset allows, so this never widens what the machine's owner granted.
  cpu_set_t all;
  CPU_ZERO(&all);
  const long n = ::sysconf(_SC_NPROCESSORS_CONF);
  for (long i = 0; i < n && i < CPU_SETSIZE; ++i) CPU_SET(static_cast<int>(i), &all);
  (void)::sched_setaffinity(0, sizeof all, &all);  // best effort: a failure leaves the pin as it was
}

}  // namespace cadcrafter
