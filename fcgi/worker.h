// One worker process: `threads` threads serving FastCGI connections on the
// inherited listen socket, each thread with its own OriginClient.
//
// nginx keeps its connections to the pool open between requests
// (fastcgi_keep_conn on, upstream keepalive). An idle kept connection pins
// no thread: listen socket and idle connections sit in one epoll set per
// worker, and whichever thread is free takes the next new connection or the
// next request on a kept one.
//
// When no serving thread is free, the worker's event loop minds the door
// (issue 13): it looks at what waits in the set, answers a /healthz whose
// request has fully arrived on the spot, and queues everything else for the
// next free thread (a semaphore eventfd in the same set), so /healthz says
// whether the worker can take work, not whether a thread happened to be free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "options.h"
#include "service/config.h"
#include "service/metrics.h"
#include "unique_fd.h"

namespace dashpiff {

class EventLoop;
class OriginClient;
class Router;

class Worker {
 public:
  // `wake_fd` becoming readable tells every thread to stop; in-flight
  // requests finish first. The worker never reads it, so one write wakes all.
  // `pool` gives the threads and max-requests; `config` is what the router serves with.
  Worker(const Config& config, const PoolConfig& pool, MetricsBlock& metrics, int listen_fd, int wake_fd);

  // Runs until woken (or until max-requests is reached) and every in-flight
  // request is done. Returns the process exit status.
  int run();
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

 private:
  struct Connection;
  class Launcher;

  void serve_loop();
  Connection* accept_connection();
  enum class Served { closed, kept, handed_off };
  // One request on `conn`: the connection closed, kept for the next request,
  // or handed to the event loop with its answer (which gives it back).
  Served serve(Connection& conn, Router& router, OriginClient& origin, std::string& out_buffer);
  // The event loop is done with `conn`'s answer.
  void transfer_done(Connection* conn, bool keep);
  bool rearm(Connection& conn);
  void close_connection(Connection* conn);
  void close_locked(Connection* conn);  // conn_mutex_ held
  // Once the threads have stopped: answers a request already waiting on an
  // idle kept connection, and closes every connection the loop does not hold.
  void close_idle_connections(Router& router, OriginClient& origin, std::string& out_buffer);
  void set_listening(bool on);  // callers hold conn_mutex_
  bool recycle_due();
  // On the loop thread, while every serving thread is busy: what waits in
  // the set is answered there (/healthz) or queued for the threads.
  void overflow();
  void queue_for_threads(Connection* conn);
  Connection* take_queued();
  // Serves `conn`'s request on the calling thread and settles the connection.
  void serve_and_settle(Connection& conn, Router& router, OriginClient& origin, std::string& out_buffer);

  const Config& config_;
  const PoolConfig& pool_;
  MetricsBlock& metrics_;
  MetricsBlock::WorkerSlot* slot_;  // pool saturation gauges; may be null
  int listen_fd_;
  UniqueFd stop_fd_;  // eventfd: written once when this worker decides to recycle
  UniqueFd epoll_fd_;
  std::atomic<std::uint64_t> served_{0};
  std::atomic<bool> recycling_{false};

  // epoll tags for the non-connection descriptors.
  char listen_tag_ = 0;
  char stop_tag_ = 0;
  char queued_tag_ = 0;

  std::atomic<int> waiting_{0};  // serving threads in epoll_wait, ready for a request
  std::atomic<bool> door_open_{false};  // loop_ is set: the loop may serve at the door (run())
  std::atomic<bool> stopping_{false};
  std::mutex overflow_mutex_;  // held by the loop while it serves from the set (overflow)
  UniqueFd queued_fd_;  // eventfd (semaphore): one count per connection in queued_

  std::mutex conn_mutex_;  // guards the members below; taken per connection, not per request
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::size_t max_connections_;
  bool listening_ = true;        // the listen socket is in the epoll set
  bool listen_closed_ = false;   // accept failed for good (the pool is draining)
  std::deque<Connection*> queued_;  // requests the loop took while every thread was busy
  bool queue_closed_ = false;       // the threads are gone: close_idle_connections answers what waits

  // Segment transfers (issue 13); created by run(), before the threads.
  std::unique_ptr<EventLoop> loop_;
  // What the loop thread answers with at the door.
  std::unique_ptr<OriginClient> loop_origin_;
  std::unique_ptr<Router> loop_router_;
  std::string loop_buffer_;
};

}  // namespace dashpiff
