// One event loop per worker process (issue 13): every segment and manifest
// transfer of the worker runs here, on one thread, so a transfer that waits
// — on its client, on nginx or on its origin — holds no thread.
//
// The loop owns an epoll set, a libcurl multi handle driven through its
// multi socket interface, and each transfer's FastCGI connection (made
// non-blocking while the loop has it). Backpressure runs end to end: once a
// transfer holds `transfer-buffer` bytes its socket could not take, libcurl
// pauses the origin (CURL_WRITEFUNC_PAUSE, TCP flow control does the rest);
// when the socket drains the transfer resumes.
//
// Memory per paused transfer, the bound README "Limits" states: the answer's
// buffer, allocated once at T + R (T = transfer-buffer; R = libcurl's receive
// buffer, T/2 within 16K..64K: below T a transfer takes one more chunk of at
// most R), libcurl's receive buffer R, and the chunk libcurl keeps while the
// transfer is paused (at most R), so T + 3R, plus the transfer's state (easy
// handle, request, headers; 48K allowed). Default T = 64K: 208K at most,
// measured 161-173K; T = 8K: 104K at most, measured 60-82K
// (bench/transfer_memory.py; tests/e2e/test_slow_clients.py checks it). An
// answer the engine patches adds the moof it holds (max-moof-bytes, issue
// 12's per-request budget). Buffers of transfers that wait with nothing to
// send are given back at the next sweep, and the allocator's free pages once
// many transfers have ended (malloc_trim).
//
// A manifest's parse and rewrite, and the Smooth manifest parse an init
// segment is made from (LoopAnswer::run_work), run on two threads beside
// the loop; an origin 304 or bytes rewritten before are answered on
// the loop from its rewrite cache, with no thread hand-off. The serving
// threads read requests (libfcgi) and answer everything else (/create,
// /metrics). While every one of them is busy the loop also minds the worker's door
// (Front): it answers /healthz itself, so the load balancer hears whether
// the worker can take work, not whether a thread happened to be free.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "options.h"
#include "origin/client.h"
#include "service/config.h"
#include "service/metrics.h"
#include "service/media_transfer.h"

namespace dashpiff {

class EventLoop {
 public:
  // Called on the loop thread when a transfer is over with its connection:
  // `keep` when the answer ended cleanly and the web server may send the
  // next request on it (the connection is then blocking again).
  using Done = std::function<void(void* conn, bool keep)>;

  // The worker's front door, looked after by the loop when no serving thread
  // is free (issue 13: /healthz answers while every thread is busy).
  // `saturated` (any thread) says no serving thread is waiting for a request;
  // `overflow` (on the loop thread) takes what waits at the door then.
  struct Front {
    std::function<bool()> saturated;
    std::function<void()> overflow;
  };

  // `slot` (may be null) takes the worker's transfer gauges.
  EventLoop(const Config& config, const PoolConfig& pool, MetricsBlock& metrics, MetricsBlock::WorkerSlot* slot,
            Done done, Front front = {});
  ~EventLoop();  // finish() and join
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Below the cap of concurrent transfers (max-transfers).
  bool has_room() const;
  // The budget of bytes this worker's answers hold whole (max-held-bytes).
  HeldBytes* held_bytes();
  // From a serving thread: the answer `make` gives and its connection
  // (`fd`, FastCGI request `request_id`; `keep` false when the connection
  // cannot serve another request) go to the loop. `make` runs before this
  // returns.
  void launch(void* conn, int fd, int request_id, bool keep, const TransferLauncher::Make& make);
  // The loop thread ends once every transfer is over; returns after it has.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dashpiff
