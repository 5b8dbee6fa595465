// What the proxying routes (/mpd/, /media/, /inspect/) share: decoding the
// route's encoded URL, the headers sent to the origin and back to the client,
// and how an origin failure is worded and numbered.
#include "service/origin_proxy.h"

#include "service/inert.h"

#include <algorithm>
#include <cstdlib>

#include "http/uri.h"
#include "http/url_codec.h"
#include "mpd/rewriter.h"
#include "mpd/urls.h"
#include "mss/manifest.h"
#include "service/validators.h"

namespace dashpiff {

int status_for(OriginError e) {
  switch (e) {
    case OriginError::scheme_refused:
    case OriginError::host_refused:
    case OriginError::address_refused: return 403;
    case OriginError::bad_url: return 400;
    case OriginError::timeout: return 504;
    case OriginError::internal: return 500;
    default: return 502;
  }
}

void fail_from_origin(RouteContext& ctx, const OriginResult& r, std::string says) {
  ctx.fail(status_for(r.told != OriginError::none ? r.told : r.error), says.empty() ? r.client_message : std::move(says));
  ctx.note = origin_detail(r);
}

std::string origin_detail(const OriginResult& r) { return std::string(to_string(r.error)) + ": " + r.message; }

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

std::string shared_fetch_key(const OriginRequest& request) {
  // Lengths before every variable part: no two different requests make one
  // key, whatever their strings.
  std::string key;
  auto put = [&key](std::string_view part) {
    key += std::to_string(part.size());
    key += ':';
    key += part;
  };
  put(request.method);
  put(request.url);
  for (const auto& [name, value] : request.headers) {
    if (iequals(name, "X-Request-Id") || iequals(name, "X-Forwarded-For")) continue;
    put(name);
    put(value);
  }
  key += request.decode_body ? 'd' : '-';
  key += std::to_string(request.max_body_bytes) + '/' + std::to_string(request.max_decoded_ratio) + '/' +
         std::to_string(request.time_limit.count());
  return key;
}

namespace {

// Whether `pick` holds for an item of the Cache-Control or Vary lists of
// `headers` (a Cache-Control item by its directive's name: private="field"
// is private too).
template <class Pick>
bool any_item(const Headers& headers, bool cache_control, const Pick& pick) {
  for (const auto& [name, value] : headers) {
    if (!iequals(name, cache_control ? "Cache-Control" : "Vary")) continue;
    std::string_view list = value;
    while (!list.empty()) {
      const auto comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
      if (cache_control) item = item.substr(0, item.find('='));
      if (pick(mpd::trim_ws(item))) return true;
    }
  }
  return false;
}

}  // namespace

bool shared_answer_reusable(const Headers& origin_headers) {
  return !any_item(origin_headers, true, [](std::string_view d) { return iequals(d, "private"); }) &&
         !any_item(origin_headers, false, [](std::string_view v) {
           return v == "*" || iequals(v, "X-Forwarded-For") || iequals(v, "X-Request-Id");
         });
}

bool answer_for_anyone(const Headers& origin_headers, const std::vector<std::string>& forwarded) {
  return shared_answer_reusable(origin_headers) &&
         !any_item(origin_headers, true, [](std::string_view d) { return iequals(d, "no-store"); }) &&
         !any_item(origin_headers, false, [&](std::string_view v) {
           return std::any_of(forwarded.begin(), forwarded.end(), [&](const std::string& f) { return iequals(v, f); });
         });
}

// The origin response headers that describe the representation and go on to
// the client (RFC 9110 §6.6, §8; RFC 9111 §5): its type, freshness, date,
// language and Vary. Length, range and validator are the caller's, because
// they belong to the bytes actually sent. Age goes with the freshness it
// qualifies: an answer a cache before the origin held for 50 s of its
// max-age=60 has 10 s left, not 60 (RFC 9111 §4.2.3, §5.1). Not the
// disposition: its filename names a file a browser saves from this site
// (RFC 6266 §4.3: "invoice.html", "setup.exe"), a player never reads it, and
// a converted body is no longer the file the origin named.
Headers representation_headers(const Headers& origin, bool keep_type, bool keep_encoding) {
  static constexpr std::string_view kPassed[] = {"Cache-Control", "Expires", "Age", "Last-Modified",
                                                 "Content-Language"};
  Headers out;
  std::string vary;
  for (const auto& [name, value] : origin) {
    bool pass = (keep_type && iequals(name, "Content-Type")) || (keep_encoding && iequals(name, "Content-Encoding"));
    for (auto p : kPassed) pass = pass || iequals(name, p);
    if (iequals(name, "Vary")) vary += (vary.empty() ? "" : ", ") + value;  // several lines merge into one
    else if (pass) out.emplace_back(name, value);
  }
  if (!vary.empty()) out.emplace_back("Vary", vary);
  // Proxied bodies are inert on this site (service/inert.h).
  if (keep_type)
    make_inert(out);
  else
    set_header(out, "Content-Security-Policy", std::string(kProxiedBodyPolicy));
  return out;
}

// The origin's answer exactly as it came: its own bytes, so its own validator,
// length and range.
Headers origin_layout_headers(const OriginHead& head, std::optional<std::uint64_t> length, bool keep_encoding) {
  Headers out = representation_headers(head.headers, true, keep_encoding);
  for (std::string_view name : {"ETag", "Content-Range", "Accept-Ranges"})
    if (const auto* v = find_header(head.headers, name)) out.emplace_back(std::string(name), *v);
  // A 204 has no body and no Content-Length (RFC 9110 §8.6, §15.3.5),
  // whatever its origin declared: nginx passed an origin's on.
  if (length && head.status != 204) out.emplace_back("Content-Length", std::to_string(*length));
  return out;
}

Headers client_response_headers(const OriginHead& head, bool body_changed, std::optional<std::uint64_t> length,
                                bool keep_encoding) {
  if (!body_changed) return origin_layout_headers(head, length, keep_encoding);
  Headers out = representation_headers(head.headers, true, keep_encoding);
  if (auto etag = answer_etag(head.headers, false, "mss")) out.emplace_back("ETag", *etag);
  if (length) out.emplace_back("Content-Length", std::to_string(*length));
  return out;
}

std::optional<EntityTag> origin_tag(const Headers& headers) {
  const auto* v = find_header(headers, "ETag");
  return v ? parse_entity_tag(*v) : std::nullopt;
}

// The validator of an answer in `layout`: the origin's own when the bytes are
// the origin's, a weak tag of that layout otherwise, none without an origin tag.
std::optional<std::string> answer_etag(const Headers& origin, bool identical, std::string_view layout) {
  const auto* raw = find_header(origin, "ETag");
  if (!raw) return std::nullopt;
  if (identical) return *raw;
  const auto tag = parse_entity_tag(*raw);
  if (!tag) return std::nullopt;
  return layout_etag(*tag, layout);
}

// A 304 to the client: the freshness the origin's 304 carries, and the
// validator of what the client holds (RFC 9110 §15.4.5).
Headers not_modified_headers(const Headers& origin_304, const std::optional<std::string>& held_tag) {
  Headers out = representation_headers(origin_304, false, false);
  if (held_tag) out.emplace_back("ETag", *held_tag);
  return out;
}

Headers confirmed_not_modified(const RouteContext& ctx, const Headers& origin_304, std::string_view layout) {
  const auto current = origin_tag(origin_304);
  const auto* inm = find_header(ctx.request.headers, "If-None-Match");
  return not_modified_headers(origin_304,
                              inm ? confirmed_tag(*inm, current ? &*current : nullptr, layout) : std::nullopt);
}

// The client's If-None-Match as the origin must see it for an answer in
// `layout` (validators.h); the client's own list for the origin's layout.
void set_origin_conditionals(RouteContext& ctx, Headers& origin_headers, std::string_view layout) {
  remove_header(origin_headers, "If-None-Match");
  if (!layout.empty()) {
    // The client's If-Match names this layout's tag, which the origin does
    // not know: judged here (refused_by_precondition), as its date is.
    remove_header(origin_headers, "If-Match");
    remove_header(origin_headers, "If-Unmodified-Since");
  }
  const auto* inm = find_header(ctx.request.headers, "If-None-Match");
  if (!inm) return;
  bool forwarded = false;
  for (const auto& allowed : ctx.config.forward_headers) forwarded = forwarded || iequals(allowed, "If-None-Match");
  if (!forwarded) return;
  const std::string mapped = layout.empty() ? *inm : origin_if_none_match(*inm, layout);
  if (!mapped.empty()) origin_headers.emplace_back("If-None-Match", mapped);
}

// The client's conditional request holds for an answer with validator `etag`
// and `last_modified` (RFC 9110 §13.1.2, §13.1.3: If-None-Match, weakly
// compared, wins over If-Modified-Since; a date is compared as the origin
// wrote it, as nginx's "if_modified_since exact" does).
bool client_holds(const Request& r, const std::optional<std::string>& etag, const std::string* last_modified) {
  if (const auto* inm = find_header(r.headers, "If-None-Match")) {
    const auto current = etag ? parse_entity_tag(*etag) : std::nullopt;
    for (const EntityTag& t : parse_entity_tags(*inm))
      if (t.opaque == "*" || (current && t.opaque == current->opaque)) return true;
    return false;
  }
  const auto* ims = find_header(r.headers, "If-Modified-Since");
  return ims && last_modified && *ims == *last_modified;
}

bool refused_by_precondition(RouteContext& ctx, const std::optional<std::string>& etag,
                             const std::string* last_modified) {
  const auto* if_match = find_header(ctx.request.headers, "If-Match");
  const auto* since = find_header(ctx.request.headers, "If-Unmodified-Since");
  if (!if_match && !since) return false;
  auto why = failed_precondition(if_match ? *if_match : "", since ? *since : "", etag, last_modified);
  if (!why) return false;
  ctx.fail(412, std::move(*why));
  return true;
}

bool refused_by_precondition(RouteContext& ctx, const Headers& tagged, const Headers& dated) {
  std::optional<std::string> etag;
  if (const auto* v = find_header(tagged, "ETag")) etag = *v;
  return refused_by_precondition(ctx, etag, find_header(dated, "Last-Modified"));
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

std::optional<ByteSpan> content_range_span(const Headers& headers) {
  const auto* v = find_header(headers, "Content-Range");
  if (!v) return std::nullopt;
  const std::string_view text = mpd::trim_ws(*v);
  if (text.substr(0, 6) != "bytes ") return std::nullopt;
  const std::string_view rest = text.substr(6);
  return parse_byte_span(rest.substr(0, rest.find('/')));
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
  // A patching mode answers HEAD as GET would, which may take the first moof.
  const bool patching = ctx.config.piff_mode != PiffMode::off;
  req.method = ctx.request.method == "HEAD" && !patching ? "HEAD" : "GET";
  // Ranges of a patched layout are cut here, never asked of the origin.
  req.headers = origin_request_headers(ctx, !patching);
  if (patching) {
    set_origin_conditionals(ctx, req.headers, to_string(ctx.config.piff_mode));
    // A 304 carries the validator the 200 would have carried (RFC 9110
    // §15.4.5), and in a patching mode that depends on the layout decision,
    // which needs the first moof: a date is judged here once the answer is
    // decided (MediaStream::answer), never by the origin.
    remove_header(req.headers, "If-Modified-Since");
  }
  req.max_body_bytes = ctx.config.max_segment_bytes;
  return req;
}

bool BufferingHandler::on_data(std::string_view chunk) {
  if (budget_) {
    if (!budget_->take(chunk.size())) {
      over_budget = true;
      return false;
    }
    held_ += chunk.size();
  }
  body.append(chunk);
  if (scan_ && !scan_->feed(chunk)) {
    const std::string_view start = std::string_view(body).substr(0, 4096);
    const auto* type = find_header(head.headers, "Content-Type");
    if (head.status >= 200 && head.status < 300 &&
        (looks_like_mpd(type ? *type : "", start) || mss::looks_like_smooth(start))) {
      refusal = scan_->refusal();
      return false;
    }
    scan_.reset();
  }
  return true;
}

XmlLimits manifest_limits(const Config& c) {
  XmlLimits l;
  l.max_elements = c.max_manifest_elements;
  l.max_depth = c.max_manifest_depth;
  l.max_attributes = c.max_manifest_attributes;
  l.max_attribute_bytes = c.max_manifest_attribute_bytes;
  l.max_text_bytes = c.max_manifest_text_bytes;
  return l;
}

bool fetched_whole(RouteContext& ctx, const OriginRequest& req, const BufferingHandler& got,
                   const OriginResult& result, const char* what) {
  if (!result.shared) {  // a shared fetch is counted once, with its own request
    ctx.metrics.observe_origin(result.seconds, result.error);
    ctx.metrics.bytes_from_origin.fetch_add(result.body_bytes, std::memory_order_relaxed);
  }
  if (got.over_budget) {
    // The worker's capacity, not the origin's fault: a fast refusal to try
    // again, as at the cap of concurrent transfers.
    ctx.note = "at max-held-bytes";
    ctx.answer(503, "text/plain; charset=utf-8", "busy: at the worker's budget of held answers (max-held-bytes)\n",
               {{"Retry-After", "1"}, {"Cache-Control", "no-store"}});
    return false;
  }
  if (!got.refusal.empty()) {
    ctx.fail(502, std::string("origin ") + what + " refused: " + got.refusal);
    return false;
  }
  if (!result.ok()) {
    if (result.error == OriginError::too_large && req.max_decoded_ratio > 0 &&
        result.message.find("expands") != std::string::npos)
      ctx.fail(502, std::string("origin ") + what + " refused: " + result.message + " (max-manifest-gzip-ratio)");
    else if (result.error == OriginError::too_large)
      fail_from_origin(ctx, result,
                       std::string("origin ") + what + " larger than " + std::to_string(req.max_body_bytes) + " bytes");
    else
      fail_from_origin(ctx, result);
    return false;
  }
  ctx.origin_status = got.head.status;
  return true;
}

}  // namespace dashpiff
