// Answers whose origin fetch runs on the front end's event loop (issue 13):
// a /media/ answer streams through the same handler as on the threaded path,
// with the same ending (abort on a broken origin body, counts, the log
// line); a /mpd/ answer waits for its whole manifest there, holding no
// thread, is answered on the loop when the origin says 304 or the bytes were
// rewritten before, and has its parse and rewrite run on a small pool beside
// the loop otherwise. Either outlives the router call that made it.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "origin/client.h"
#include "service/origin_proxy.h"
#include "service/rewrite_cache.h"
#include "service/route_context.h"

namespace dashpiff {

class MediaStream;

// What the loop drives: the origin handler plus the steps around the fetch.
// Every call but run_work() is made on the loop thread.
class LoopAnswer : public OriginHandler {
 public:
  // Before each fetch: the origin request. `manifests` is the loop's
  // rewrite cache (the manifest's conditionals come from it).
  virtual OriginRequest start(RewriteCache& manifests) = 0;
  // The fetch is over. done: the answer is complete (or broken off),
  // counted and logged; again: it goes on with another fetch, of start()'s
  // request (only when `may_continue`: the client is still there); work: it
  // still needs work off the loop, run_work() on a pool thread, then
  // resume() on the loop.
  enum class Next { done, again, work };
  virtual Next finish(const OriginResult& result, bool may_continue) = 0;
  // Never throws. `origin` is the pool thread's own client (an on-demand
  // MPD's indexes are read with it).
  virtual void run_work(OriginClient& /*origin*/) {}
  // After run_work, on the loop: done, or again (another fetch, of start()'s
  // request: an on-demand MPD's index reads), or work (run_work once more).
  // `may_continue`: the client is still there.
  virtual Next resume(bool /*may_continue*/) { return Next::done; }
  // Not empty when the fetch start() just gave may be shared with other
  // answers of the same key (shared_fetch_key): they then get the same
  // head, bytes and result (issue 14: concurrent revalidations of one
  // manifest are one conditional GET).
  virtual std::string shared_fetch_key() const { return {}; }
};

// What the front end offers the router for taking answers over.
class TransferLauncher {
 public:
  virtual ~TransferLauncher() = default;
  // False when the worker is at its cap of concurrent transfers (then the
  // router refuses at once with 503 and Retry-After; /healthz turns 503).
  virtual bool has_room() const = 0;
  // What whole answers held on this front end count against (may be null).
  virtual HeldBytes* held_bytes() { return nullptr; }
  // Takes the answer over: `make` is called before launch returns, with the
  // front end's own sink for it (ctx's request may be moved into the answer).
  using Make = std::function<std::unique_ptr<LoopAnswer>(ResponseSink& sink)>;
  virtual void launch(const Make& make) = 0;
};

// What every answer on the loop keeps of the router's context: the request
// (moved in) and a context of its own that answers through the front end's
// sink. ctx.origin and ctx.rewrites belong to the launching thread and are
// never used from it.
class LoopAnswerBase : public LoopAnswer {
 protected:
  LoopAnswerBase(RouteContext& ctx, ResponseSink& sink);
  Request request_;
  RouteContext ctx_;
};

// Hands the answer to ctx's launcher (ctx.deferred), or refuses it with 503
// when the worker is at its cap of concurrent transfers.
void launch_media(RouteContext& ctx, OriginRequest request);
void launch_manifest(RouteContext& ctx, ManifestPlan plan);

class MediaTransfer final : public LoopAnswerBase {
 public:
  // `sink` (the front end's, outliving this) answers from now on.
  MediaTransfer(RouteContext& ctx, OriginRequest request, ResponseSink& sink);
  ~MediaTransfer() override;
  MediaTransfer(const MediaTransfer&) = delete;
  MediaTransfer& operator=(const MediaTransfer&) = delete;

  OriginRequest start(RewriteCache&) override { return origin_request_; }
  bool on_head(const OriginHead& head) override;
  bool on_data(std::string_view chunk) override;
  // The fetch is over: completes or aborts the answer, counts it, logs it;
  // or, again, the answer goes on with another fetch (a range of the
  // origin's own bytes asked of the origin, MediaStream), which only a
  // client still there (`may_continue`) gets.
  Next finish(const OriginResult& result, bool may_continue) override;

 private:
  std::unique_ptr<MediaStream> stream_;
  OriginRequest origin_request_;
};

// fetch_then_answer's job on the loop (origin_proxy.h AfterFetch).
class AfterFetchTransfer final : public LoopAnswerBase {
 public:
  AfterFetchTransfer(RouteContext& ctx, AfterFetch job, ResponseSink& sink);
  AfterFetchTransfer(const AfterFetchTransfer&) = delete;
  AfterFetchTransfer& operator=(const AfterFetchTransfer&) = delete;

  OriginRequest start(RewriteCache&) override { return job_.request; }
  bool on_head(const OriginHead& head) override { return job_.handler->on_head(head); }
  bool on_data(std::string_view chunk) override { return job_.handler->on_data(chunk); }
  // With the job's work: Next::work, then run_work() on a pool thread and
  // resume() answers on the loop.
  Next finish(const OriginResult& result, bool may_continue) override;
  void run_work(OriginClient& origin) override;
  Next resume(bool may_continue) override;

 private:
  Next end();

  AfterFetch job_;
  std::optional<OriginResult> result_;  // the fetch's, kept for the answer after the work
  bool work_failed_ = false;            // out of memory or the like off the loop
};

class ManifestTransfer final : public LoopAnswerBase {
 public:
  ManifestTransfer(RouteContext& ctx, ManifestPlan plan, ResponseSink& sink);
  ManifestTransfer(const ManifestTransfer&) = delete;
  ManifestTransfer& operator=(const ManifestTransfer&) = delete;

  // The manifest's fetch, then (an on-demand MPD) its index reads, one
  // after another on the loop (ManifestWork::IndexRead).
  OriginRequest start(RewriteCache& manifests) override;
  bool on_head(const OriginHead& head) override { return reading() ? index_got_->on_head(head) : got_->on_head(head); }
  bool on_data(std::string_view chunk) override {
    return reading() ? index_got_->on_data(chunk) : got_->on_data(chunk);
  }
  Next finish(const OriginResult& result, bool may_continue) override;
  void run_work(OriginClient& origin) override;
  Next resume(bool may_continue) override;
  // The manifest's own fetch, not an index read: what it asks depends on the
  // URL and the loop's rewrite cache alone, and its bytes are held whole.
  std::string shared_fetch_key() const override { return reading() ? std::string() : dashpiff::shared_fetch_key(plan_.request); }

 private:
  bool reading() const { return index_got_.has_value(); }
  // The next index read not made yet (work_.index_reads.size() when none).
  std::size_t next_read() const;
  // Answers, counts and logs: the answer is over.
  Next end();

  ManifestPlan plan_;
  RewriteCache* cache_ = nullptr;  // the loop's
  std::optional<BufferingHandler> got_;
  std::optional<BufferingHandler> index_got_;  // while an index read is the fetch
  HeldBytes* held_ = nullptr;                  // the front end's budget for held answers
  std::size_t reading_ = 0;                    // which, in work_.index_reads
  ManifestWork work_;
  bool work_failed_ = false;  // out of memory or the like off the loop
};

}  // namespace dashpiff
