// Service counters, kept in one block of lock-free atomics that needs no
// constructor and no destructor, so that the process front end can place it in
// memory shared by every worker (fcgi/shared_metrics.h) and a /metrics scrape
// on any worker sees the whole pool.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/types.h>

#include "piff/mode.h"
#include "service/route.h"

namespace dashpiff {

// Counted here, defined by their owners (origin/client.h, piff/segment_patcher.h).
enum class OriginError;
struct PatchStats;

struct MetricsBlock {
  static constexpr int kStatusSlots = 20;  // the codes below, then "other"
  static constexpr int kStatusCodes[kStatusSlots - 1] = {200, 204, 206, 301, 302, 304, 307, 308, 400, 403,
                                                        404, 405, 413, 414, 416, 431, 500, 502, 503};
  static constexpr int kLatencyBuckets = 12;  // upper bounds below, then +Inf
  static constexpr double kLatencyBounds[kLatencyBuckets - 1] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                0.5,   1,    2.5,   5,    10};
  static constexpr int kModes = 5;         // PiffMode values
  static constexpr int kOriginErrors = 16; // OriginError values

  static constexpr int kWorkerSlots = 256;  // live worker processes the pool gauges can see

  std::atomic<std::uint64_t> requests[static_cast<int>(Route::count_)][kStatusSlots + 1];
  // Time from the request reaching the worker to its last byte handed to the
  // web server, per route and status (the same slots as `requests`).
  std::atomic<std::uint64_t> request_latency[static_cast<int>(Route::count_)][kStatusSlots + 1][kLatencyBuckets];
  std::atomic<std::uint64_t> request_latency_micros[static_cast<int>(Route::count_)][kStatusSlots + 1];
  std::atomic<std::uint64_t> origin_latency[kLatencyBuckets];
  std::atomic<std::uint64_t> origin_latency_count;
  std::atomic<std::uint64_t> origin_latency_micros;
  std::atomic<std::uint64_t> origin_errors[kOriginErrors];
  std::atomic<std::uint64_t> bytes_from_origin;
  std::atomic<std::uint64_t> bytes_to_client;
  std::atomic<std::uint64_t> piff_neutralised[kModes];
  std::atomic<std::uint64_t> piff_converted[kModes];
  std::atomic<std::uint64_t> segments_passed_unparsed;
  std::atomic<std::uint64_t> manifests_rewritten;
  std::atomic<std::uint64_t> on_demand_expanded;  // SegmentBase Representations given a SegmentList
  std::atomic<std::uint64_t> on_demand_kept;      // ... left as they were (index unreadable)
  std::atomic<std::uint64_t> fastcgi_connections;  // accepted from the web server
  std::atomic<std::uint64_t> workers_alive;
  std::atomic<std::uint64_t> workers_restarted;
  std::atomic<std::uint64_t> draining;  // nonzero while the pool shuts down
  std::atomic<std::uint64_t> transfers_refused;  // segment requests refused at max-transfers (issue 13)
  std::atomic<std::uint64_t> origin_fetches_shared;  // answers given another's identical fetch (issue 14)

  // Pool saturation: one slot per live worker process, so that a worker that
  // dies mid-request takes its busy threads with it (the supervisor frees
  // the slot when it reaps the process).
  struct WorkerSlot {
    std::atomic<std::int64_t> pid;  // 0: free
    std::atomic<std::uint64_t> threads;
    std::atomic<std::int64_t> busy;
    // The worker's event loop (issue 13): transfers open, and of those the
    // ones paused on their client and the ones waiting for origin bytes.
    std::atomic<std::int64_t> transfers;
    std::atomic<std::int64_t> paused_on_client;
    std::atomic<std::int64_t> waiting_on_origin;
  };
  WorkerSlot workers[kWorkerSlots];

  void count_request(Route route, int status, double seconds);
  void observe_origin(double seconds, OriginError error);
  void count_patch(PiffMode mode, const PatchStats& stats);
  // A worker's slot, or nullptr when all are taken (its threads then go
  // uncounted; nothing else depends on the slot).
  WorkerSlot* claim_worker_slot(pid_t pid, unsigned threads);
  void release_worker_slot(pid_t pid);
  std::string prometheus_text() const;
};

}  // namespace dashpiff
