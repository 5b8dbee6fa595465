// Internal to the service: the pieces the proxying handlers (manifest, media,
// inspect) share. Not for the router or the front end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "origin/client.h"
#include "service/route_context.h"

namespace dashpiff {

// The client status for an origin failure: 403 policy, 400 bad URL, 504
// timeout, else 502.
int status_for(OriginError e);
// The one-line reason the client gets for it.
std::string origin_failure(const OriginResult& r);

// Request headers for the origin: the configured set, never hop-by-hop, Host
// or a client's X-Forwarded-*; our own X-Forwarded-For and X-Request-Id added.
Headers origin_request_headers(const RouteContext& ctx, bool allow_range);

// Origin response headers the client gets (see the definition for validators).
Headers client_response_headers(const OriginHead& head, bool body_changed, std::optional<std::uint64_t> length,
                                bool keep_encoding);

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

}  // namespace dashpiff
