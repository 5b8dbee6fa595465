// Internal to the service: the pieces the proxying handlers (manifest, media,
// inspect) share. Not for the router or the front end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/byte_span.h"
#include "mpd/prescan.h"
#include "mpd/rewriter.h"
#include "origin/client.h"
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

// The path after the route prefix: the decoded leading URL and the rest.
struct Encoded {
  std::string decoded;
  std::string_view rest;
};
// nullopt after answering 400.
std::optional<Encoded> decode_leading(RouteContext& ctx, std::string_view encoded_and_rest);

std::optional<std::uint64_t> content_length(const Headers& headers);
bool looks_like_text(const OriginHead& head);

// The origin request a /media/ (or /inspect/) path stands for; nullopt after
// answering 400.
std::optional<OriginRequest> media_request(RouteContext& ctx, std::string_view encoded_and_rest);

// Holds a whole origin answer (manifests, Smooth fragments). Given limits,
// it pre-scans the shape of a 2xx MPD or Smooth manifest as it arrives and
// ends the fetch at the byte that crosses one (issue #12): a bomb costs what
// the limits allow, not what it declares. Other bodies pass unjudged.
class BufferingHandler final : public OriginHandler {
 public:
  BufferingHandler() = default;
  explicit BufferingHandler(const XmlLimits& limits) : scan_(limits) {}
  OriginHead head;
  std::string body;
  std::string refusal;  // the limit a manifest crossed
  bool on_head(const OriginHead& h) override {
    head = h;
    return true;
  }
  bool on_data(std::string_view chunk) override;

 private:
  std::optional<XmlPrescan> scan_;
};

// The manifest limits of the configuration.
XmlLimits manifest_limits(const Config& c);

// Fetches a whole answer into `got`, counting it in the origin metrics. On an
// origin failure answers the client (502 "origin {what} larger than N bytes",
// 502 naming the manifest limit crossed, or status_for's) and returns false;
// otherwise sets ctx.origin_status.
bool fetch_whole(RouteContext& ctx, const OriginRequest& req, BufferingHandler& got, const char* what);

// Smooth Streaming (smooth_handler.cpp): a /media/ path naming a Smooth
// fragment, the MPD answered for a Smooth manifest, the fragment rewrite.
bool is_smooth_fragment_path(std::string_view rest);
void answer_smooth_manifest(RouteContext& ctx, const OriginHead& head, const std::string& body,
                            const std::string& effective_url);
void handle_smooth_fragment(RouteContext& ctx, OriginRequest req);

// On-demand DASH (subsegment.cpp): the MPD rewrite's reader of index ranges
// (one Range request each, on this thread's client); a /media/ path whose
// first segment is a byte range, its origin request (400 for a malformed or
// oversized range), the layout its answers are validated under (the mode,
// "off" included: the answer is never the origin's whole file), and the
// origin's 206 for it as the head of a whole answer (nullopt after a 502:
// the origin ignored the range or answered another).
MpdRewriteOptions::IndexFetcher index_fetcher(RouteContext& ctx);
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
