// One event loop per worker process (issue 13): every segment transfer of the
// worker runs here, on one thread, so a transfer that waits — on its client,
// on nginx or on its origin — holds no thread.
//
// The loop owns an epoll set, a libcurl multi handle driven through its
// multi socket interface, and each transfer's FastCGI connection (made
// non-blocking while the loop has it). Backpressure runs end to end: once a
// transfer holds `transfer-buffer` bytes its socket could not take, libcurl
// pauses the origin (CURL_WRITEFUNC_PAUSE, TCP flow control does the rest);
// when the socket drains the transfer resumes. Memory per transfer is that
// buffer plus libcurl's receive buffer of the same size.
//
// The serving threads still read requests (libfcgi) and answer everything
// else, manifest rewriting included: they are the small pool beside the loop.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "options.h"
#include "origin/client.h"
#include "service/config.h"
#include "service/metrics.h"
#include "service/route_context.h"

namespace dashpiff {

class EventLoop {
 public:
  // Called on the loop thread when a transfer is over with its connection:
  // `keep` when the answer ended cleanly and the web server may send the
  // next request on it (the connection is then blocking again).
  using Done = std::function<void(void* conn, bool keep)>;

  // `slot` (may be null) takes the worker's transfer gauges.
  EventLoop(const Config& config, const PoolConfig& pool, MetricsBlock& metrics, MetricsBlock::WorkerSlot* slot,
            Done done);
  ~EventLoop();  // finish() and join
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Below the cap of concurrent transfers (max-transfers).
  bool has_room() const;
  // From a serving thread: the answer in `ctx` and its connection (`fd`,
  // FastCGI request `request_id`; `keep` false when the connection cannot
  // serve another request) go to the loop.
  void launch(void* conn, int fd, int request_id, bool keep, RouteContext& ctx, OriginRequest request);
  // The loop thread ends once every transfer is over; returns after it has.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dashpiff
