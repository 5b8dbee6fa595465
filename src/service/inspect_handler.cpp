// /inspect/{enc(base)}/{path}: what the segment engine does to a segment, as
// JSON, for the /player page.
#include <nlohmann/json.hpp>

#include "piff/segment_patcher.h"
#include "service/origin_proxy.h"

namespace dashpiff {

// /inspect/{enc}/{path}: what the segment engine does to that segment, as
// JSON, for the /player page. The segment goes through the engine into a
// counting sink; nothing of it is sent.
void handle_inspect(RouteContext& ctx, std::string_view encoded_and_rest) {
  auto req = media_request(ctx, encoded_and_rest);
  if (!req) return;
  req->method = "GET";
  std::uint64_t bytes_out = 0;
  PatchOptions options;
  options.mode = ctx.config.piff_mode;
  options.max_held_box = ctx.config.max_held_box;
  SegmentPatcher patcher(options, [&](const std::uint8_t*, std::size_t n) {
    bytes_out += n;
    return true;
  });
  struct Inspector final : OriginHandler {
    SegmentPatcher& patcher;
    int status = 0;
    explicit Inspector(SegmentPatcher& p) : patcher(p) {}
    bool on_head(const OriginHead& head) override {
      status = head.status;
      return true;
    }
    bool on_data(std::string_view chunk) override { return patcher.feed(chunk); }
  } inspector(patcher);
  const OriginResult result = ctx.origin.fetch(*req, inspector);
  if (!result.ok()) {
    fail_from_origin(ctx, result);
    return;
  }
  patcher.finish();
  const PatchStats& stats = patcher.stats();
  ctx.origin_status = inspector.status;
  nlohmann::json answer = {{"url", req->url},
                           {"origin_status", inspector.status},
                           {"mode", to_string(ctx.config.piff_mode)},
                           {"bytes_in", stats.bytes_in},
                           {"bytes_out", bytes_out},
                           {"piff_neutralised", stats.piff_neutralised},
                           {"piff_converted", stats.piff_converted},
                           {"passthrough_reason", stats.passthrough_reason},
                           {"changes", stats.changes}};
  ctx.answer(200, "application/json", answer.dump(1) + "\n", {{"Cache-Control", "no-store"}});
}

}  // namespace dashpiff
