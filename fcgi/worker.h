// One worker process: `threads` accept threads on the inherited FastCGI
// listen socket, each with its own FCGX_Request and OriginClient.
#pragma once

#include <atomic>
#include <cstdint>

#include "config.h"
#include "metrics.h"

namespace dashpiff {

class Worker {
 public:
  // `wake_fd` becoming readable tells every thread to stop accepting; in-flight
  // requests finish first. The worker never reads it, so one write wakes all.
  Worker(const Config& config, MetricsBlock& metrics, int listen_fd, int wake_fd);

  // Runs until woken (or until max-requests is reached) and every in-flight
  // request is done. Returns the process exit status.
  int run();
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

 private:
  void accept_loop();
  bool recycle_due();

  const Config& config_;
  MetricsBlock& metrics_;
  int listen_fd_;
  int wake_fd_;
  int stop_fd_;  // eventfd: written once when this worker decides to recycle
  std::atomic<std::uint64_t> served_{0};
  std::atomic<bool> recycling_{false};
};

}  // namespace dashpiff
