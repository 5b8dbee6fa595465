// /mpd/ and /media/: fetch from origin, transform, answer.
#include <cstdlib>
#include <optional>

#include <nlohmann/json.hpp>

#include "mpd/rewriter.h"
#include "service/route_context.h"
#include "piff/segment_patcher.h"
#include "http/uri.h"
#include "http/url_codec.h"

namespace dashpiff {
namespace {

int status_for(OriginError e) {
  switch (e) {
    case OriginError::scheme_refused:
    case OriginError::host_refused:
    case OriginError::address_refused: return 403;
    case OriginError::bad_url: return 400;
    case OriginError::timeout: return 504;
    default: return 502;
  }
}

std::string origin_failure(const OriginResult& r) {
  switch (status_for(r.error)) {
    case 403: return "origin refused by policy: " + r.message;
    case 504: return "origin timed out: " + r.message;
    default: return "origin failed (" + std::string(to_string(r.error)) + "): " + r.message;
  }
}

bool is_http_url(const Uri& u) { return (u.scheme == "http" || u.scheme == "https") && !u.host().empty(); }

// Request headers for the origin: the configured set, never hop-by-hop, Host
// or a client's X-Forwarded-*; our own X-Forwarded-For and X-Request-Id added.
Headers origin_request_headers(const RouteContext& ctx, bool allow_range) {
  const Request& r = ctx.request;
  Headers out;
  for (const auto& [name, value] : r.headers) {
    if (is_hop_by_hop(name, r.headers) || iequals(name, "Host") || iequals(name, "Accept-Encoding") ||
        iequals(name, "X-Request-Id") || (name.size() >= 12 && iequals(name.substr(0, 12), "X-Forwarded-")))
      continue;
    if (!allow_range && (iequals(name, "Range") || iequals(name, "If-Range"))) continue;
    for (const auto& allowed : ctx.config.forward_headers)
      if (iequals(name, allowed)) {
        out.emplace_back(name, value);
        break;
      }
  }
  std::string xff;
  if (const auto* chain = find_header(r.headers, "X-Forwarded-For")) xff = *chain + ", ";
  if (!r.remote_addr.empty()) out.emplace_back("X-Forwarded-For", xff + r.remote_addr);
  out.emplace_back("X-Request-Id", r.request_id);
  return out;
}

// Origin response headers the client gets. A changed body keeps only a weak
// validator: the transformation is deterministic, so origin revalidation
// (If-None-Match is compared weakly) still works through a CDN.
Headers client_response_headers(const OriginHead& head, bool body_changed, std::optional<std::uint64_t> length,
                                bool keep_encoding) {
  static constexpr std::string_view kPassed[] = {"Content-Type", "Cache-Control", "Expires", "Last-Modified",
                                                 "Content-Range", "Accept-Ranges", "Content-Language",
                                                 "Content-Disposition"};
  Headers out;
  for (const auto& [name, value] : head.headers) {
    bool pass = false;
    for (auto p : kPassed) pass = pass || iequals(name, p);
    if (keep_encoding && iequals(name, "Content-Encoding")) pass = true;
    if (iequals(name, "ETag")) {
      if (!body_changed || value.rfind("W/", 0) == 0) out.emplace_back("ETag", value);
      else out.emplace_back("ETag", "W/" + value);
      continue;
    }
    if (pass) out.emplace_back(name, value);
  }
  if (length) out.emplace_back("Content-Length", std::to_string(*length));
  return out;
}

// Splits the path after the route prefix into the encoded part and the rest.
struct Encoded {
  std::string decoded;
  std::string_view rest;
};

std::optional<Encoded> decode_leading(RouteContext& ctx, std::string_view encoded_and_rest) {
  const auto slash = encoded_and_rest.find('/');
  const auto enc = encoded_and_rest.substr(0, slash);
  if (enc.empty()) {
    ctx.fail(400, "missing encoded URL after the route");
    return std::nullopt;
  }
  auto decoded = decode_url(enc);
  if (!decoded) {
    ctx.fail(400, "malformed encoded URL (dangling '!' or unknown escape code)");
    return std::nullopt;
  }
  Encoded out{std::move(*decoded), {}};
  if (slash != std::string_view::npos) out.rest = encoded_and_rest.substr(slash + 1);
  if (!is_http_url(Uri::parse(out.decoded))) {
    ctx.fail(400, "encoded URL is not an absolute http or https URL");
    return std::nullopt;
  }
  return out;
}

std::optional<std::uint64_t> content_length(const Headers& headers) {
  const auto* value = find_header(headers, "Content-Length");
  if (!value || value->empty() || value->find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::strtoull(value->c_str(), nullptr, 10);
}

bool looks_like_text(const OriginHead& head) {
  const auto* type = find_header(head.headers, "Content-Type");
  return type && (type->rfind("text/", 0) == 0 || type->find("json") != std::string::npos ||
                  type->find("xml") != std::string::npos);
}

class BufferingHandler final : public OriginHandler {
 public:
  OriginHead head;
  std::string body;
  bool on_head(const OriginHead& h) override {
    head = h;
    return true;
  }
  bool on_data(std::string_view chunk) override {
    body.append(chunk);
    return true;
  }
};

}  // namespace

void handle_manifest(RouteContext& ctx, std::string_view encoded_and_rest) {
  const auto target = decode_leading(ctx, encoded_and_rest);
  if (!target) return;
  if (!target->rest.empty()) {
    ctx.fail(400, "manifest route takes one encoded URL: /mpd/{encoded}");
    return;
  }
  OriginRequest req;
  req.url = target->decoded;
  if (!ctx.request.query.empty()) req.url += "?" + ctx.request.query;
  req.headers = origin_request_headers(ctx, false);
  req.decode_body = true;
  req.max_body_bytes = ctx.config.max_manifest_bytes;

  BufferingHandler got;
  const OriginResult result = ctx.origin.fetch(req, got);
  ctx.metrics.observe_origin(result.seconds, result.error);
  ctx.metrics.bytes_from_origin.fetch_add(result.body_bytes, std::memory_order_relaxed);
  if (!result.ok()) {
    if (result.error == OriginError::too_large)
      ctx.fail(502, "origin manifest larger than " + std::to_string(ctx.config.max_manifest_bytes) + " bytes");
    else
      ctx.fail(status_for(result.error), origin_failure(result));
    return;
  }
  ctx.origin_status = got.head.status;
  const auto* type = find_header(got.head.headers, "Content-Type");
  const bool ok = got.head.status >= 200 && got.head.status < 300;
  if (!ok || !looks_like_mpd(type ? *type : "", std::string_view(got.body).substr(0, 4096))) {
    // Not ours to change: pass it on (already decoded, so no Content-Encoding).
    ctx.begin(got.head.status, client_response_headers(got.head, false, got.body.size(), false));
    ctx.write(got.body);
    return;
  }

  const Uri effective = Uri::parse(got.head.effective_url.empty() ? req.url : got.head.effective_url);
  MpdRewriteOptions options;
  options.manifest_url = strip_query(effective.str());
  options.manifest_query = effective.query.value_or("");
  options.carry_query = ctx.config.token_mode == TokenMode::pass;
  // Both modes hand CENC-only players senc data for PIFF-only segments, so
  // those players must also find the cenc descriptor they look for.
  options.add_cenc_protection =
      ctx.config.piff_mode == PiffMode::convert || ctx.config.piff_mode == PiffMode::automatic;
  options.max_bytes = ctx.config.max_manifest_bytes;
  MpdRewriteResult fresh;
  const MpdRewriteResult* rewritten = ctx.rewrites.find(got.body, options);
  if (!rewritten) {
    try {
      fresh = rewrite_mpd(got.body, options);
    } catch (const MpdError& e) {
      ctx.fail(502, std::string("origin MPD refused: ") + e.what());
      return;
    }
    ctx.rewrites.store(got.body, options, fresh);
    rewritten = &fresh;
  }
  ctx.metrics.manifests_rewritten.fetch_add(1, std::memory_order_relaxed);
  ctx.note = std::to_string(rewritten->urls_rewritten) + " urls rewritten";
  Headers headers = client_response_headers(got.head, true, rewritten->xml.size(), false);
  if (!type) headers.emplace_back("Content-Type", "application/dash+xml");
  ctx.begin(got.head.status, std::move(headers));
  ctx.write(rewritten->xml);
}

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

namespace {

// The origin request a /media/ (or /inspect/) path stands for; nullopt after
// answering 400.
std::optional<OriginRequest> media_request(RouteContext& ctx, std::string_view encoded_and_rest) {
  const auto target = decode_leading(ctx, encoded_and_rest);
  if (!target) return std::nullopt;
  if (target->rest.empty()) {
    ctx.fail(400, "media route needs a path: /media/{encoded base}/{path}");
    return std::nullopt;
  }
  // The base may carry the manifest's query (token-mode=pass); it applies to
  // every segment under that base.
  Uri base = Uri::parse(target->decoded);
  std::string query = base.query.value_or("");
  base.query.reset();
  base.fragment.reset();
  if (!ctx.request.query.empty()) query += (query.empty() ? "" : "&") + ctx.request.query;

  OriginRequest req;
  // The rest is always a path below the base: "./" keeps a segment name
  // such as "live2026-11-27T10:00:00Z.m4s" from reading as a URL scheme.
  req.url = resolve_uri(base.str(), "./" + std::string(target->rest));
  if (!is_http_url(Uri::parse(req.url))) {
    ctx.fail(400, "media path does not resolve to an http or https URL");
    return std::nullopt;
  }
  if (!query.empty()) req.url += "?" + query;
  req.method = ctx.request.method == "HEAD" ? "HEAD" : "GET";
  req.headers = origin_request_headers(ctx, true);
  req.max_body_bytes = ctx.config.max_segment_bytes;
  return req;
}

}  // namespace

void handle_media(RouteContext& ctx, std::string_view encoded_and_rest) {
  const auto req = media_request(ctx, encoded_and_rest);
  if (!req) return;
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
    ctx.fail(status_for(result.error), origin_failure(result));
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
