// On-demand DASH through the proxy (README "On-demand DASH"). The MPD rewrite
// reads each SegmentBase Representation's sidx with one Range request and
// lists every subsegment as /media/{first}-{last}/{enc(base)}/{file}; such a
// URL is answered as a whole object: the origin's bytes first..last, fetched
// with a Range request and converted like any one-fragment segment (its own
// length and validator; a client's Range is a slice of that answer).
#include "http/byte_span.h"
#include "mpd/urls.h"
#include "service/origin_proxy.h"

namespace dashpiff {
namespace {

// Without max-segment-bytes: more than any subsegment a real file has (2 s at
// 100 Mbit/s is 25 MB), few enough that a URL cannot ask for a whole film.
constexpr std::uint64_t kDefaultMaxSubsegment = 64u << 20;

// "bytes first-last/total" naming exactly `want` (RFC 9110 §14.4).
bool content_range_is(const Headers& headers, const ByteSpan& want) {
  const auto span = content_range_span(headers);
  return span && span->first == want.first && span->last == want.last;
}

}  // namespace

OriginRequest index_read_request(RouteContext& ctx, const std::string& url, const ByteSpan& range,
                                 std::chrono::milliseconds time_left) {
  OriginRequest req;
  req.url = url;
  req.time_limit = time_left;
  req.headers = origin_request_headers(ctx, false);
  for (const char* name : {"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"})
    remove_header(req.headers, name);
  req.headers.emplace_back("Range", "bytes=" + byte_span_text(range));
  req.max_body_bytes = range.size();
  return req;
}

std::optional<std::string> index_read_bytes(RouteContext& ctx, const OriginResult& result, BufferingHandler& got,
                                            const ByteSpan& range, std::string& error) {
  ctx.metrics.observe_origin(result.seconds, result.error);
  ctx.metrics.bytes_from_origin.fetch_add(result.body_bytes, std::memory_order_relaxed);
  if (!result.ok()) {
    // The reason reaches only the log line (MpdRewriteResult::on_demand_reason
    // in its note), which keeps the detail (issue #12 item 7).
    error = origin_detail(result);
    return std::nullopt;
  }
  if (got.head.status != 206 || !content_range_is(got.head.headers, range)) {
    error = got.head.status == 206 ? "origin answered another byte range"
                                   : "origin answered " + std::to_string(got.head.status) + " to a byte range";
    return std::nullopt;
  }
  return std::move(got.body);
}

MpdRewriteOptions::IndexFetcher index_fetcher(RouteContext& ctx, OriginClient& origin) {
  return [&ctx, &origin](const std::string& url, const ByteSpan& range, std::chrono::milliseconds time_left,
                         std::string& error) -> std::optional<std::string> {
    BufferingHandler got;
    const OriginResult result = origin.fetch(index_read_request(ctx, url, range, time_left), got);
    return index_read_bytes(ctx, result, got, range, error);
  };
}

void note_on_demand(RouteContext& ctx, const MpdRewriteResult& rewritten, bool fresh) {
  if (fresh) {
    ctx.metrics.on_demand_expanded.fetch_add(rewritten.on_demand_expanded, std::memory_order_relaxed);
    ctx.metrics.on_demand_kept.fetch_add(rewritten.on_demand_kept, std::memory_order_relaxed);
  }
  ctx.note += ", on-demand " + std::to_string(rewritten.on_demand_expanded) + " expanded";
  if (rewritten.on_demand_kept)
    ctx.note += ", " + std::to_string(rewritten.on_demand_kept) + " kept (" + rewritten.on_demand_reason + ")";
  if (!fresh) ctx.note += " (cached rewrite)";
}

bool is_subsegment_path(std::string_view rest) { return looks_like_byte_span(rest.substr(0, rest.find('/'))); }

std::optional<Subsegment> subsegment_request(RouteContext& ctx, std::string_view range_and_rest) {
  const auto slash = range_and_rest.find('/');
  const std::string_view text = range_and_rest.substr(0, slash);
  const auto span = parse_byte_span(text);
  // Only the form the rewriter writes (byte_span_text: no leading zeros):
  // "0990-1999" and "990-1999" name the same bytes, and a cache would keep
  // them twice.
  if (!span || byte_span_text(*span) != text) {
    ctx.fail(400, "byte range in the media path is not first-last (decimal without leading zeros, first <= last)");
    return std::nullopt;
  }
  const std::uint64_t limit = ctx.config.max_segment_bytes ? ctx.config.max_segment_bytes : kDefaultMaxSubsegment;
  if (span->size() > limit) {
    ctx.fail(400, "byte range of " + std::to_string(span->size()) + " bytes is larger than a subsegment may be (" +
                      std::to_string(limit) + ", max-segment-bytes)");
    return std::nullopt;
  }
  if (slash == std::string_view::npos) {
    ctx.fail(400, "media route with a byte range needs a file: /media/{first}-{last}/{encoded base}/{path}");
    return std::nullopt;
  }
  auto req = media_request(ctx, range_and_rest.substr(slash + 1));
  if (!req) return std::nullopt;
  // The answer is the whole converted subsegment, whatever the client asked:
  // its own Range and HEAD are answered from it (media_handler's MediaStream,
  // on the thread or the event loop: RouteContext::subsegment).
  req->method = "GET";
  req->headers = origin_request_headers(ctx, false);
  set_origin_conditionals(ctx, req->headers, subsegment_layout(ctx));
  // As for any patched layout (media_request): a date is judged here once
  // the answer is decided, so that the 304 carries the 200's validator.
  remove_header(req->headers, "If-Modified-Since");
  req->headers.emplace_back("Range", "bytes=" + byte_span_text(*span));
  req->max_body_bytes = span->size();
  return Subsegment{std::move(*req), *span};
}

std::string_view subsegment_layout(const RouteContext& ctx) { return to_string(ctx.config.piff_mode); }

std::optional<OriginHead> subsegment_head(RouteContext& ctx, const OriginHead& head, const ByteSpan& span) {
  if (head.status == 200) {
    ctx.fail(502, "origin ignored the byte range of an on-demand subsegment");
    return std::nullopt;
  }
  if (head.status != 206) return head;  // errors, 304: as for any segment
  const auto length = content_length(head.headers);
  if (!content_range_is(head.headers, span) || (length && *length != span.size())) {
    ctx.fail(502, "origin answered another byte range than the subsegment's");
    return std::nullopt;
  }
  OriginHead whole = head;
  whole.status = 200;
  remove_header(whole.headers, "Content-Range");
  set_header(whole.headers, "Content-Length", std::to_string(span.size()));
  return whole;
}

}  // namespace dashpiff
