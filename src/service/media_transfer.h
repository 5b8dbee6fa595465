// The /media/ answer as an object that outlives the router call (issue 13):
// the front end's event loop runs its origin transfer and the answer streams
// through the same handler as on the threaded path, with the same ending
// (abort on a broken origin body, counts, the log line).
#pragma once

#include <memory>

#include "origin/client.h"
#include "service/route_context.h"

namespace dashpiff {

class MediaStream;

// What the front end offers the router for taking answers over.
class TransferLauncher {
 public:
  virtual ~TransferLauncher() = default;
  // False when the worker is at its cap of concurrent transfers (then the
  // router refuses at once with 503 and Retry-After; /healthz turns 503).
  virtual bool has_room() const = 0;
  // Takes the answer over: `ctx`'s request moves into the transfer and the
  // front end gives it its own sink. The router only returns afterwards.
  virtual void launch(RouteContext& ctx, OriginRequest request) = 0;
};

class MediaTransfer final : public OriginHandler {
 public:
  // Copies what `ctx` knows so far and moves its request; `sink` (the front
  // end's, outliving this) answers from now on. ctx.origin and ctx.rewrites
  // belong to the launching thread and are never used here.
  MediaTransfer(RouteContext& ctx, OriginRequest request, ResponseSink& sink);
  ~MediaTransfer() override;
  MediaTransfer(const MediaTransfer&) = delete;
  MediaTransfer& operator=(const MediaTransfer&) = delete;

  const OriginRequest& origin_request() const { return origin_request_; }
  bool on_head(const OriginHead& head) override;
  bool on_data(std::string_view chunk) override;
  // The fetch is over: completes or aborts the answer, counts it, logs it;
  // or, true, the answer goes on with another fetch of origin_request()
  // (a range of the origin's own bytes asked of the origin, MediaStream),
  // which only a client still there (`may_continue`) gets.
  bool finish(const OriginResult& result, bool may_continue);

 private:
  Request request_;
  RouteContext ctx_;
  std::unique_ptr<MediaStream> stream_;
  OriginRequest origin_request_;
};

}  // namespace dashpiff
