#include "shared_metrics.h"

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace dashpiff {

SharedMetrics::SharedMetrics() {
  void* p = ::mmap(nullptr, sizeof(MetricsBlock), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap metrics");
  // Anonymous mappings are zero-filled, which is the atomics' initial value;
  // value-initialising makes that explicit.
  block_ = new (p) MetricsBlock{};
}

SharedMetrics::~SharedMetrics() { ::munmap(block_, sizeof(MetricsBlock)); }

}  // namespace dashpiff
