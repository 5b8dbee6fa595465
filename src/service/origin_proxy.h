// Internal to the service: the pieces the proxying handlers (manifest, media,
// inspect) share. Not for the router or the front end.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/byte_span.h"
#include "mpd/prescan.h"
#include "mpd/rewriter.h"
#include "mss/mpd_writer.h"
#include "origin/client.h"
#include "service/rewrite_cache.h"
#include "service/route_context.h"
#include "service/validators.h"

namespace dashpiff {

// The client status for an origin failure: 403 policy, 400 bad URL, 504
// timeout, 500 our own failure, else 502.
int status_for(OriginError e);
// Answers an origin failure: the requester reads what failed (`says`, or
// the client's own line), never an address or a host learnt from a
// redirect; the log line with the request id keeps the detail.
void fail_from_origin(RouteContext& ctx, const OriginResult& r, std::string says = {});
// The log's line for it: the kind and the detail.
std::string origin_detail(const OriginResult& r);

// Request headers for the origin: the configured set, never hop-by-hop, Host
// or a client's X-Forwarded-*; our own X-Forwarded-For and X-Request-Id added.
Headers origin_request_headers(const RouteContext& ctx, bool allow_range);

// Requests with the same key ask the origin the same: method, URL, the
// headers but the two that only name the requester (X-Request-Id,
// X-Forwarded-For: a shared fetch carries its first requester's, as a
// cache's collapsed fetch does), and the options that shape the transfer.
// An event loop lets such requests share one fetch (issue 14: concurrent
// revalidations of one manifest are one conditional GET).
std::string shared_fetch_key(const OriginRequest& request);
// Whether an origin answer (its headers) may also answer the others that
// shared its fetch: not when it is meant for one requester (RFC 9111
// §5.2.2.7 private) or varies on what the key leaves out (§4.1: Vary: *,
// X-Forwarded-For, X-Request-Id).
bool shared_answer_reusable(const Headers& origin_headers);
// Whether an origin answer may be kept for whoever asks next (a rewrite
// cache entry revalidated with its validators): shared_answer_reusable, and
// not no-store (§5.2.2.5), and varying on none of `forwarded` (the request
// headers passed to the origin: another requester may be another variant,
// §4.1, which a 304 to the kept answer's validators need not tell apart).
bool answer_for_anyone(const Headers& origin_headers, const std::vector<std::string>& forwarded);

// Response headers per byte layout (validators.h): what describes the
// representation (type, freshness, Vary merged); the origin's answer as it
// came (its own validator, length and range); the validator of an answer in
// `layout` (the origin's own only when `identical`); a 304's headers with the
// validator of what the client holds.
Headers representation_headers(const Headers& origin, bool keep_type, bool keep_encoding);
Headers origin_layout_headers(const OriginHead& head, std::optional<std::uint64_t> length, bool keep_encoding);
std::optional<EntityTag> origin_tag(const Headers& headers);
std::optional<std::string> answer_etag(const Headers& origin, bool identical, std::string_view layout);
// The origin's headers for a whole answer of `length` bytes: as they came,
// or, for a changed body, with the validator of the "mss" layout (Smooth).
Headers client_response_headers(const OriginHead& head, bool body_changed, std::optional<std::uint64_t> length,
                                bool keep_encoding);
Headers not_modified_headers(const Headers& origin_304, const std::optional<std::string>& held_tag);
// The client's 304 after the origin's 304 to set_origin_conditionals'
// If-None-Match for `layout`: with the client's tag the origin's confirms.
Headers confirmed_not_modified(const RouteContext& ctx, const Headers& origin_304, std::string_view layout);
// Replaces the If-None-Match for the origin with the client's, mapped from
// `layout` (empty: the origin's own layout, passed as it came).
void set_origin_conditionals(RouteContext& ctx, Headers& origin_headers, std::string_view layout);
// The client's If-None-Match (or, without one, If-Modified-Since) holds for
// an answer with these validators.
bool client_holds(const Request& r, const std::optional<std::string>& etag, const std::string* last_modified);
// The client's If-Match / If-Unmodified-Since fail for an answer with these
// validators (validators.h failed_precondition): answered 412, true.
bool refused_by_precondition(RouteContext& ctx, const std::optional<std::string>& etag,
                             const std::string* last_modified);
// The same for an answer whose ETag is the one `tagged` holds (none when it
// holds none) and whose Last-Modified the one `dated` holds.
bool refused_by_precondition(RouteContext& ctx, const Headers& tagged, const Headers& dated);

// The path after the route prefix: the decoded leading URL and the rest.
struct Encoded {
  std::string decoded;
  std::string_view rest;
};
// nullopt after answering 400.
std::optional<Encoded> decode_leading(RouteContext& ctx, std::string_view encoded_and_rest);

std::optional<std::uint64_t> content_length(const Headers& headers);
// The one range a 206's Content-Range names ("bytes first-last/total",
// RFC 9110 §14.4); nullopt without one (a multipart 206 has none).
std::optional<ByteSpan> content_range_span(const Headers& headers);
bool looks_like_text(const OriginHead& head);

// The origin request a /media/ (or /inspect/) path stands for; nullopt after
// answering 400.
std::optional<OriginRequest> media_request(RouteContext& ctx, std::string_view encoded_and_rest);

// Holds a whole origin answer (manifests, Smooth fragments). Given limits,
// it pre-scans the shape of a 2xx MPD or Smooth manifest as it arrives and
// ends the fetch at the byte that crosses one (issue #12): a bomb costs what
// the limits allow, not what it declares. Other bodies pass unjudged.
// The bytes a worker holds in whole answers at once (manifests, Smooth
// fragments and the manifests behind init segments, index reads): on the
// event loop any number of them may wait at once, so each one's cap
// (max-manifest-bytes, the fragment cap) no longer bounds their sum as the
// serving threads' count did. Beyond max-held-bytes a new chunk is refused
// and its request answered 503 (issue #12: a budget per worker, not only per
// request; many small gzip manifests inflating to 16 MiB each).
class HeldBytes {
 public:
  explicit HeldBytes(std::uint64_t limit) : limit_(limit) {}
  bool take(std::uint64_t n) {
    std::uint64_t now = used_.load(std::memory_order_relaxed);
    do {
      if (n > limit_ || now > limit_ - n) return false;
    } while (!used_.compare_exchange_weak(now, now + n, std::memory_order_relaxed));
    return true;
  }
  void give(std::uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  std::uint64_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  const std::uint64_t limit_;
  std::atomic<std::uint64_t> used_{0};
};

class BufferingHandler final : public OriginHandler {
 public:
  BufferingHandler() = default;
  explicit BufferingHandler(const XmlLimits& limits) : scan_(limits) {}
  ~BufferingHandler() override {
    if (budget_) budget_->give(held_);
  }
  BufferingHandler(const BufferingHandler&) = delete;
  BufferingHandler& operator=(const BufferingHandler&) = delete;
  // The body counts against `budget` (may be null: no budget) while this lives.
  void hold_within(HeldBytes* budget) { budget_ = budget; }
  OriginHead head;
  std::string body;
  std::string refusal;       // the limit a manifest crossed
  bool over_budget = false;  // the worker's max-held-bytes was reached
  bool on_head(const OriginHead& h) override {
    head = h;
    return true;
  }
  bool on_data(std::string_view chunk) override;

 private:
  std::optional<XmlPrescan> scan_;
  HeldBytes* budget_ = nullptr;
  std::uint64_t held_ = 0;
};

// An answer made once the origin's answer is over (Smooth fragments and init
// segments, held whole; /inspect, counted through the engine): the handler
// that takes the origin's answer, and what answers the client then, with the
// handler still alive. fetch_then_answer runs it on the event loop when the
// front end has one (issue 13: waiting on the origin holds no thread), here
// otherwise.
struct AfterFetch {
  OriginRequest request;
  std::unique_ptr<OriginHandler> handler;
  std::function<void(RouteContext& ctx, const OriginResult& result)> answer;
  // Optional: what is worked out from the held answer before `answer` runs
  // (a parse). With an event loop it runs on one of the loop's pool
  // threads (issue 13: one request's CPU work never holds the loop, and
  // with it every transfer of the worker); here otherwise. Touches only
  // what the job owns, never a context or a sink.
  std::function<void(const OriginResult& result)> work;
};
void fetch_then_answer(RouteContext& ctx, AfterFetch job);

// The manifest limits of the configuration.
XmlLimits manifest_limits(const Config& c);

// A whole answer fetched into `got` (on an event loop), counted in the origin
// metrics. On an origin failure answers the client (502 "origin {what} larger
// than N bytes", 502 naming the manifest limit crossed, or status_for's) and
// returns false; otherwise sets ctx.origin_status.
bool fetched_whole(RouteContext& ctx, const OriginRequest& req, const BufferingHandler& got,
                   const OriginResult& result, const char* what);

struct SmoothMpd {
  mss::MpdResult mpd;
  bool is_live = false;
  // Its validator's layout: the query the MPD's URLs carry (token-mode)
  // changes its bytes, so each variant has its own (RFC 9110 §8.8.3).
  std::string layout;
};

// /mpd/ in steps, so that the origin fetch can run on an event loop and the
// parse off it (manifest_handler.cpp). The threaded path runs them in a row.
struct ManifestPlan {
  OriginRequest request;
  std::string fetch_key;  // what the answer depends on besides the origin's bytes
  XmlLimits limits;
  bool carry_query = false;
  bool add_cenc = false;
  // The rewrite being revalidated (a copy: the cache may change while the
  // fetch runs), when the origin was asked with its validators.
  std::optional<CachedRewrite> cached;
};
// nullopt after answering 400.
std::optional<ManifestPlan> plan_manifest(RouteContext& ctx, std::string_view encoded_and_rest);
// Conditionals for the origin: the cached rewrite's validators, else the client's.
void add_manifest_conditionals(RouteContext& ctx, ManifestPlan& plan, RewriteCache& cache);
// What the fetched answer still needs once answer_fetched_manifest has
// answered what needs no parse.
struct ManifestWork {
  enum Kind { none, rewrite_mpd, smooth_mpd } kind = none;
  MpdRewriteOptions options;  // rewrite_mpd
  bool fetch_index = false;   // rewrite_mpd: expand on-demand Representations
  // An on-demand MPD's index reads made by the event loop, not by the thread
  // that rewrites (issue 13: a read that waits holds no thread; two MPDs
  // whose index origins stall held both pool threads for the whole index
  // budget, and every other rewrite of the worker waited). A pass of the
  // rewrite asks for the reads it lacks (`index_wanted`: its result is not
  // the answer), the loop makes them, the next pass has them; a read that
  // needs another (an inexact index range) takes a pass more.
  struct IndexRead {
    std::string url;
    ByteSpan range;
    bool done = false;
    std::optional<std::string> bytes;  // done: the bytes, or nullopt with `error`
    std::string error;
  };
  bool reads_on_loop = false;
  std::vector<IndexRead> index_reads;
  bool index_wanted = false;
  int passes = 0;
  std::optional<std::chrono::steady_clock::time_point> index_started;  // the first read asked
  std::string effective_url;  // smooth_mpd
  // Filled by run_manifest_work (any thread; touches no context).
  MpdRewriteResult rewritten;
  std::string error;          // the parse refused the document
  SmoothMpd smooth;           // smooth_mpd
};
ManifestWork answer_fetched_manifest(RouteContext& ctx, ManifestPlan& plan, const BufferingHandler& got,
                                     const OriginResult& result, RewriteCache& cache);
// Any thread: `origin` is that thread's client (an on-demand MPD's indexes
// are read with it); `ctx` is only read.
void run_manifest_work(ManifestWork& work, const BufferingHandler& got, RouteContext& ctx, OriginClient& origin);
void answer_manifest_work(RouteContext& ctx, ManifestPlan& plan, BufferingHandler& got, ManifestWork& work,
                          RewriteCache& cache);

// Smooth Streaming (smooth_handler.cpp): a /media/ path naming a Smooth
// fragment, the MPD answered for a Smooth manifest, the fragment rewrite.
bool is_smooth_fragment_path(std::string_view rest);
// The MPD for a Smooth manifest: made on any thread (touches no context;
// `error` says why not), answered on the request's.
SmoothMpd smooth_to_mpd(const std::string& body, const std::string& effective_url, TokenMode tokens,
                        std::string& error);
void answer_smooth_mpd(RouteContext& ctx, const OriginHead& head, const SmoothMpd& made);
void handle_smooth_fragment(RouteContext& ctx, OriginRequest req);

// On-demand DASH (subsegment.cpp): the MPD rewrite's reader of index ranges
// (one Range request each, on this thread's client); a /media/ path whose
// first segment is a byte range, its origin request (400 for a malformed or
// oversized range), the layout its answers are validated under (the mode,
// "off" included: the answer is never the origin's whole file), and the
// origin's 206 for it as the head of a whole answer (nullopt after a 502:
// the origin ignored the range or answered another).
MpdRewriteOptions::IndexFetcher index_fetcher(RouteContext& ctx, OriginClient& origin);
// One index read as its parts, for a reader that is not a blocking call
// (the event loop's, ManifestTransfer): the origin request for bytes `range`
// of `url`, and the bytes its answer gives (nullopt with the reason: the
// fetch failed, or it was not a 206 of exactly that range). Counted.
OriginRequest index_read_request(RouteContext& ctx, const std::string& url, const ByteSpan& range,
                                 std::chrono::milliseconds time_left);
std::optional<std::string> index_read_bytes(RouteContext& ctx, const OriginResult& result, BufferingHandler& got,
                                            const ByteSpan& range, std::string& error);
// Counts a rewrite's on-demand outcome (once, when it was made: `fresh`) and
// says it in the log line.
void note_on_demand(RouteContext& ctx, const MpdRewriteResult& rewritten, bool fresh);
bool is_subsegment_path(std::string_view rest);
struct Subsegment {
  OriginRequest request;
  ByteSpan span;
};
std::optional<Subsegment> subsegment_request(RouteContext& ctx, std::string_view range_and_rest);
std::string_view subsegment_layout(const RouteContext& ctx);
std::optional<OriginHead> subsegment_head(RouteContext& ctx, const OriginHead& head, const ByteSpan& span);

}  // namespace dashpiff
