// What the proxying routes (/mpd/, /media/, /inspect/) share: decoding the
// route's encoded URL, the headers sent to the origin and back to the client,
// and how an origin failure is worded and numbered.
#include "service/origin_proxy.h"

#include <cstdlib>

#include "http/uri.h"
#include "http/url_codec.h"

namespace dashpiff {

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

bool fetch_whole(RouteContext& ctx, const OriginRequest& req, BufferingHandler& got, const char* what) {
  const OriginResult result = ctx.origin.fetch(req, got);
  ctx.metrics.observe_origin(result.seconds, result.error);
  ctx.metrics.bytes_from_origin.fetch_add(result.body_bytes, std::memory_order_relaxed);
  if (!result.ok()) {
    if (result.error == OriginError::too_large)
      ctx.fail(502, std::string("origin ") + what + " larger than " + std::to_string(req.max_body_bytes) + " bytes");
    else
      ctx.fail(status_for(result.error), origin_failure(result));
    return false;
  }
  ctx.origin_status = got.head.status;
  return true;
}

}  // namespace dashpiff
