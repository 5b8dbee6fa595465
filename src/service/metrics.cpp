#include "service/metrics.h"

#include "origin/client.h"
#include "piff/segment_patcher.h"
#include "service/build_info.h"

#include <algorithm>
#include <sstream>
#include <type_traits>

namespace dashpiff {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shared-memory counters need address-free atomics");
static_assert(std::is_trivially_destructible_v<std::atomic<std::uint64_t>>);

namespace {

int status_slot(int status) {
  for (int i = 0; i < MetricsBlock::kStatusSlots - 1; ++i)
    if (MetricsBlock::kStatusCodes[i] == status) return i;
  return status == 504 ? MetricsBlock::kStatusSlots - 1 : MetricsBlock::kStatusSlots;
}

int slot_status(int slot) {
  if (slot < MetricsBlock::kStatusSlots - 1) return MetricsBlock::kStatusCodes[slot];
  return slot == MetricsBlock::kStatusSlots - 1 ? 504 : 0;
}

constexpr PiffMode kModeOrder[] = {PiffMode::off, PiffMode::free, PiffMode::uuid_free, PiffMode::convert,
                               PiffMode::automatic};
static_assert(std::size(kModeOrder) == MetricsBlock::kModes);
// origin_errors[] is indexed by OriginError: a new class must grow the array.
// `protocol` is the enum's last value (origin/client.h).
static_assert(kOriginErrorCount == MetricsBlock::kOriginErrors,
              "MetricsBlock::kOriginErrors must count every OriginError");

constexpr auto relaxed = std::memory_order_relaxed;

int latency_bucket(double seconds) {
  int bucket = 0;
  while (bucket < MetricsBlock::kLatencyBuckets - 1 && seconds > MetricsBlock::kLatencyBounds[bucket]) ++bucket;
  return bucket;
}

void histogram_text(std::ostream& o, const char* name, const std::string& labels,
                    const std::atomic<std::uint64_t>* buckets, std::uint64_t micros) {
  std::uint64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (int b = 0; b < MetricsBlock::kLatencyBuckets; ++b) {
    cumulative += buckets[b].load(relaxed);
    o << name << "_bucket{" << labels << sep << "le=\"";
    if (b < MetricsBlock::kLatencyBuckets - 1) o << MetricsBlock::kLatencyBounds[b]; else o << "+Inf";
    o << "\"} " << cumulative << '\n';
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  o << name << "_sum" << braces << ' ' << micros / 1e6 << '\n' << name << "_count" << braces << ' ' << cumulative << '\n';
}

}  // namespace

void MetricsBlock::count_request(Route route, int status, double seconds) {
  const int r = static_cast<int>(route), s = status_slot(status);
  requests[r][s].fetch_add(1, relaxed);
  request_latency[r][s][latency_bucket(seconds)].fetch_add(1, relaxed);
  request_latency_micros[r][s].fetch_add(static_cast<std::uint64_t>(seconds * 1e6), relaxed);
}

MetricsBlock::WorkerSlot* MetricsBlock::claim_worker_slot(pid_t pid, unsigned threads) {
  for (auto& slot : workers) {
    std::int64_t expected = 0;
    if (slot.pid.compare_exchange_strong(expected, pid)) {
      slot.busy.store(0);
      slot.transfers.store(0);
      slot.paused_on_client.store(0);
      slot.waiting_on_origin.store(0);
      slot.threads.store(threads);
      return &slot;
    }
  }
  return nullptr;
}

void MetricsBlock::release_worker_slot(pid_t pid) {
  for (auto& slot : workers)
    if (slot.pid.load() == pid) {
      slot.threads.store(0);
      slot.busy.store(0);
      slot.transfers.store(0);
      slot.paused_on_client.store(0);
      slot.waiting_on_origin.store(0);
      slot.pid.store(0);
    }
}

void MetricsBlock::observe_origin(double seconds, OriginError error) {
  origin_latency[latency_bucket(seconds)].fetch_add(1, relaxed);
  origin_latency_count.fetch_add(1, relaxed);
  origin_latency_micros.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), relaxed);
  if (error != OriginError::none) origin_errors[static_cast<int>(error)].fetch_add(1, relaxed);
}

void MetricsBlock::count_patch(PiffMode mode, const PatchStats& stats) {
  const auto m = static_cast<int>(mode);
  piff_neutralised[m].fetch_add(stats.piff_neutralised, relaxed);
  piff_converted[m].fetch_add(stats.piff_converted, relaxed);
  if (stats.passthrough_events) segments_passed_unparsed.fetch_add(1, relaxed);
}

std::string MetricsBlock::prometheus_text() const {
  std::ostringstream o;
  o << "# HELP dashpiff_requests_total Requests answered, by route and status.\n"
       "# TYPE dashpiff_requests_total counter\n";
  for (int r = 0; r < static_cast<int>(Route::count_); ++r)
    for (int s = 0; s <= kStatusSlots; ++s) {
      const auto v = requests[r][s].load(relaxed);
      if (!v) continue;
      const int code = slot_status(s);
      o << "dashpiff_requests_total{route=\"" << to_string(static_cast<Route>(r)) << "\",status=\""
        << (code ? std::to_string(code) : std::string("other")) << "\"} " << v << '\n';
    }
  o << "# HELP dashpiff_request_duration_seconds Time to answer, by route and status.\n"
       "# TYPE dashpiff_request_duration_seconds histogram\n";
  for (int r = 0; r < static_cast<int>(Route::count_); ++r)
    for (int s = 0; s <= kStatusSlots; ++s) {
      if (!requests[r][s].load(relaxed)) continue;
      const int code = slot_status(s);
      histogram_text(o, "dashpiff_request_duration_seconds",
                     std::string("route=\"") + to_string(static_cast<Route>(r)) + "\",status=\"" +
                         (code ? std::to_string(code) : std::string("other")) + '"',
                     request_latency[r][s], request_latency_micros[r][s].load(relaxed));
    }
  o << "# HELP dashpiff_origin_duration_seconds Time to fetch from origin.\n"
       "# TYPE dashpiff_origin_duration_seconds histogram\n";
  histogram_text(o, "dashpiff_origin_duration_seconds", "", origin_latency, origin_latency_micros.load(relaxed));
  o << "# HELP dashpiff_origin_errors_total Origin fetches that failed, by kind.\n"
       "# TYPE dashpiff_origin_errors_total counter\n";
  for (int e = 1; e < kOriginErrors; ++e)
    o << "dashpiff_origin_errors_total{kind=\"" << to_string(static_cast<OriginError>(e)) << "\"} "
      << origin_errors[e].load(relaxed) << '\n';
  o << "# TYPE dashpiff_origin_bytes_total counter\n"
    << "dashpiff_origin_bytes_total " << bytes_from_origin.load(relaxed) << '\n'
    << "# TYPE dashpiff_client_bytes_total counter\n"
    << "dashpiff_client_bytes_total " << bytes_to_client.load(relaxed) << '\n';
  o << "# HELP dashpiff_piff_boxes_total PIFF boxes handled, by mode and action.\n"
       "# TYPE dashpiff_piff_boxes_total counter\n";
  for (int m = 0; m < kModes; ++m) {
    o << "dashpiff_piff_boxes_total{mode=\"" << to_string(kModeOrder[m]) << "\",action=\"neutralised\"} "
      << piff_neutralised[m].load(relaxed) << '\n';
    o << "dashpiff_piff_boxes_total{mode=\"" << to_string(kModeOrder[m]) << "\",action=\"converted\"} "
      << piff_converted[m].load(relaxed) << '\n';
  }
  o << "# HELP dashpiff_segments_passed_unparsed_total Segments passed on (partly) unchanged because they could not be parsed.\n"
       "# TYPE dashpiff_segments_passed_unparsed_total counter\n"
    << "dashpiff_segments_passed_unparsed_total " << segments_passed_unparsed.load(relaxed) << '\n'
    << "# TYPE dashpiff_manifests_rewritten_total counter\n"
    << "dashpiff_manifests_rewritten_total " << manifests_rewritten.load(relaxed) << '\n'
    << "# HELP dashpiff_on_demand_representations_total On-demand (SegmentBase) Representations per rewrite: "
       "expanded to one URL per subsegment, or kept as the origin wrote them.\n"
       "# TYPE dashpiff_on_demand_representations_total counter\n"
    << "dashpiff_on_demand_representations_total{result=\"expanded\"} " << on_demand_expanded.load(relaxed) << '\n'
    << "dashpiff_on_demand_representations_total{result=\"kept\"} " << on_demand_kept.load(relaxed) << '\n'
    << "# HELP dashpiff_fastcgi_connections_total Connections accepted from the web server (kept ones serve many requests).\n"
       "# TYPE dashpiff_fastcgi_connections_total counter\n"
    << "dashpiff_fastcgi_connections_total " << fastcgi_connections.load(relaxed) << '\n'
    << "# HELP dashpiff_transfers_refused_total Segment requests refused with 503 at the cap of concurrent transfers.\n"
       "# TYPE dashpiff_transfers_refused_total counter\n"
    << "dashpiff_transfers_refused_total " << transfers_refused.load(relaxed) << '\n'
    << "# HELP dashpiff_origin_fetches_shared_total Manifest requests answered from an identical origin fetch already "
       "in flight (one conditional GET for concurrent revalidations).\n"
       "# TYPE dashpiff_origin_fetches_shared_total counter\n"
    << "dashpiff_origin_fetches_shared_total " << origin_fetches_shared.load(relaxed) << '\n'
    << "# TYPE dashpiff_workers_alive gauge\n"
    << "dashpiff_workers_alive " << workers_alive.load(relaxed) << '\n'
    << "# TYPE dashpiff_workers_restarted_total counter\n"
    << "dashpiff_workers_restarted_total " << workers_restarted.load(relaxed) << '\n';
  std::uint64_t threads = 0;
  std::int64_t busy = 0, transfers = 0, paused = 0, waiting = 0;
  for (const auto& slot : workers) {
    if (!slot.pid.load(relaxed)) continue;
    threads += slot.threads.load(relaxed);
    busy += slot.busy.load(relaxed);
    transfers += slot.transfers.load(relaxed);
    paused += slot.paused_on_client.load(relaxed);
    waiting += slot.waiting_on_origin.load(relaxed);
  }
  o << "# HELP dashpiff_transfers_in_flight Segment transfers open on the workers' event loops.\n"
       "# TYPE dashpiff_transfers_in_flight gauge\n"
    << "dashpiff_transfers_in_flight " << std::max<std::int64_t>(transfers, 0) << '\n'
    << "# HELP dashpiff_transfers_paused_on_client Transfers whose origin is paused because the client side is full.\n"
       "# TYPE dashpiff_transfers_paused_on_client gauge\n"
    << "dashpiff_transfers_paused_on_client " << std::max<std::int64_t>(paused, 0) << '\n'
    << "# HELP dashpiff_transfers_paused_on_origin Transfers with everything sent, waiting for origin bytes.\n"
       "# TYPE dashpiff_transfers_paused_on_origin gauge\n"
    << "dashpiff_transfers_paused_on_origin " << std::max<std::int64_t>(waiting, 0) << '\n';
  o << "# HELP dashpiff_worker_threads Serving threads of the live workers (workers x threads).\n"
       "# TYPE dashpiff_worker_threads gauge\n"
    << "dashpiff_worker_threads " << threads << '\n'
    << "# HELP dashpiff_worker_threads_busy Serving threads in a request now (this scrape is one).\n"
       "# TYPE dashpiff_worker_threads_busy gauge\n"
    << "dashpiff_worker_threads_busy " << std::max<std::int64_t>(busy, 0) << '\n';
  const BuildInfo& build = build_info();
  o << "# HELP dashpiff_build_info The running build's version and commit.\n"
       "# TYPE dashpiff_build_info gauge\n"
    << "dashpiff_build_info{version=\"" << build.version << "\",commit=\"" << build.commit << "\"} 1\n";
  return o.str();
}

}  // namespace dashpiff
