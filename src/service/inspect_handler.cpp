// /inspect/{enc(base)}/{path}: what the segment engine does to a segment, as
// JSON, for the /player page.
#include <nlohmann/json.hpp>

#include "piff/segment_patcher.h"
#include "service/origin_proxy.h"

namespace dashpiff {

namespace {

// Takes the origin's answer through the engine into a counting sink.
class Inspector final : public OriginHandler {
 public:
  explicit Inspector(const PatchOptions& options)
      : patcher_(options, [this](const std::uint8_t*, std::size_t n) {
          bytes_out_ += n;
          return true;
        }) {}
  bool on_head(const OriginHead& head) override {
    status_ = head.status;
    return true;
  }
  bool on_data(std::string_view chunk) override { return patcher_.feed(chunk); }
  void answer(RouteContext& ctx, const std::string& url, const OriginResult& result) {
    if (!result.ok()) {
      fail_from_origin(ctx, result);
      return;
    }
    patcher_.finish();
    const PatchStats& stats = patcher_.stats();
    ctx.origin_status = status_;
    nlohmann::json answer = {{"url", url},
                             {"origin_status", status_},
                             {"mode", to_string(ctx.config.piff_mode)},
                             {"bytes_in", stats.bytes_in},
                             {"bytes_out", bytes_out_},
                             {"piff_neutralised", stats.piff_neutralised},
                             {"piff_converted", stats.piff_converted},
                             {"passthrough_reason", stats.passthrough_reason},
                             {"changes", stats.changes}};
    ctx.answer(200, "application/json", answer.dump(1) + "\n", {{"Cache-Control", "no-store"}});
  }

 private:
  std::uint64_t bytes_out_ = 0;
  int status_ = 0;
  SegmentPatcher patcher_;
};

}  // namespace

// /inspect/{enc}/{path}: what the segment engine does to that segment, as
// JSON, for the /player page. The segment goes through the engine into a
// counting sink; nothing of it is sent. Fetched on the event loop like any
// segment (issue 13: a waiting origin holds no serving thread).
void handle_inspect(RouteContext& ctx, std::string_view encoded_and_rest) {
  auto req = media_request(ctx, encoded_and_rest);
  if (!req) return;
  req->method = "GET";
  PatchOptions options;
  options.mode = ctx.config.piff_mode;
  options.max_held_box = ctx.config.max_held_box;
  auto inspector = std::make_unique<Inspector>(options);
  Inspector& inspecting = *inspector;
  AfterFetch job{*req, std::move(inspector), [&inspecting, url = req->url](RouteContext& ctx, const OriginResult& result) {
                   inspecting.answer(ctx, url, result);
                 },
                 {}};
  fetch_then_answer(ctx, std::move(job));
}

}  // namespace dashpiff
