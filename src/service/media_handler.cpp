// /media/{enc(base)}/{path}: stream the origin's segment to the client,
// through the segment engine when it is media.
#include <optional>

#include "piff/segment_patcher.h"
#include "service/origin_proxy.h"

namespace dashpiff {
namespace {

// Streams the origin's answer to the client, through the patcher when the
// answer is media.
class StreamingHandler final : public OriginHandler {
 public:
  explicit StreamingHandler(RouteContext& ctx) : ctx_(ctx) {}

  bool on_head(const OriginHead& head) override {
    ctx_.origin_status = head.status;
    const bool success = head.status == 200 || head.status == 206;
    const bool patch = success && ctx_.config.piff_mode != PiffMode::off && ctx_.request.method == "GET" &&
                       !looks_like_text(head);
    std::optional<std::uint64_t> length = content_length(head.headers);
    if (patch) {
      PatchOptions options;
      options.mode = ctx_.config.piff_mode;
      options.max_held_box = ctx_.config.max_held_box;
      options.size_preserving = head.status == 206 || find_header(ctx_.request.headers, "Range") != nullptr;
      patcher_.emplace(options, [this](const std::uint8_t* data, std::size_t size) {
        return ctx_.write(std::string_view(reinterpret_cast<const char*>(data), size));
      });
      if (!patcher_->preserves_size()) length.reset();
    }
    ctx_.begin(head.status, client_response_headers(head, patch, length, true));
    return true;
  }

  bool on_data(std::string_view chunk) override {
    if (patcher_) return patcher_->feed(chunk);
    return ctx_.write(chunk);
  }

  void on_wait() override { ctx_.sink.flush(); }

  // Flushes what the patcher still holds; the counts go to metrics and the log.
  bool finish(bool complete) {
    if (!patcher_) return true;
    const bool ok = complete ? patcher_->finish() : true;
    const PatchStats& stats = patcher_->stats();
    ctx_.boxes = stats.piff_neutralised + stats.piff_converted;
    ctx_.metrics.count_patch(ctx_.config.piff_mode, stats);
    if (stats.passthrough_events && ctx_.note.empty()) ctx_.note = "passed through: " + stats.passthrough_reason;
    return ok;
  }

 private:
  RouteContext& ctx_;
  std::optional<SegmentPatcher> patcher_;
};

}  // namespace

void handle_media(RouteContext& ctx, std::string_view encoded_and_rest) {
  const auto req = media_request(ctx, encoded_and_rest);
  if (!req) return;
  if (is_smooth_fragment_path(encoded_and_rest)) {
    handle_smooth_fragment(ctx, *req);
    return;
  }
  StreamingHandler streamer(ctx);
  const OriginResult result = ctx.origin.fetch(*req, streamer);
  ctx.metrics.observe_origin(result.seconds, result.error);
  ctx.metrics.bytes_from_origin.fetch_add(result.body_bytes, std::memory_order_relaxed);
  const bool flushed = streamer.finish(result.ok());
  if (result.ok()) {
    if (!flushed) ctx.note = "client went away";
    return;
  }
  if (!result.head_delivered || !ctx.sink.started()) {
    if (result.error == OriginError::too_large)
      ctx.fail(502, "origin segment larger than " + std::to_string(ctx.config.max_segment_bytes) + " bytes");
    else
      ctx.fail(status_for(result.error), origin_failure(result));
    return;
  }
  ctx.note = result.error == OriginError::aborted ? "client went away" : origin_failure(result);
  ctx.sink.abort();
}

}  // namespace dashpiff
