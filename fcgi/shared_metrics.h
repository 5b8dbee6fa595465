// The pool's counters in one anonymous shared mapping: the supervisor creates
// it before forking, every worker inherits it and adds to the same atomics
// (php-fpm's scoreboard plays this part). Process plumbing, so it lives with
// the front end; the service only sees a MetricsBlock.
#pragma once

#include "service/metrics.h"

namespace dashpiff {

// Owns the shared mapping. Create before fork(); children inherit it.
class SharedMetrics {
 public:
  SharedMetrics();
  ~SharedMetrics();
  SharedMetrics(const SharedMetrics&) = delete;
  SharedMetrics& operator=(const SharedMetrics&) = delete;
  MetricsBlock& block() { return *block_; }

 private:
  MetricsBlock* block_;  // placed in an anonymous MAP_SHARED mapping
};

}  // namespace dashpiff
