// State shared by the route handlers while one request is answered. Internal
// to the router: handlers are free functions over a RouteContext.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "service/config.h"
#include "http/byte_span.h"
#include "http/message.h"
#include "service/metrics.h"
#include "origin/client.h"
#include "service/rewrite_cache.h"

namespace dashpiff {

class TransferLauncher;

struct RouteContext {
  RouteContext(Request& r, ResponseSink& s, OriginClient& o, const Config& c, MetricsBlock& m, RewriteCache& w)
      : request(r), sink(s), origin(o), config(c), metrics(m), rewrites(w) {}

  Request& request;
  ResponseSink& sink;
  OriginClient& origin;
  const Config& config;
  MetricsBlock& metrics;
  RewriteCache& rewrites;
  Route route = Route::other;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  // Filled in as the answer is made, for the request log line.
  int status = 0;
  int origin_status = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t boxes = 0;
  std::string note;  // reason for an error, or what was done

  // Set by a front end that runs transfers on its event loop; `deferred`
  // once a handler has handed the answer to it (the router then neither
  // ends nor logs it: the transfer does when it is over).
  TransferLauncher* launcher = nullptr;
  bool deferred = false;
  // An on-demand subsegment's byte range (/media/{first}-{last}/...): the
  // answer is that range of the origin's file as a whole object, on either
  // path (service/subsegment.cpp).
  std::optional<ByteSpan> subsegment;

  // Where this service is reached from the player's side, "scheme://host[:port]":
  // public-base-url, else from the request (Host, X-Forwarded-Proto); empty
  // when the Host header holds what no host[:port] may.
  std::string public_base() const;
  // Headers every answer carries: CORS, request id.
  Headers base_headers() const;
  void begin(int status, Headers headers);
  bool write(std::string_view chunk);
  // A complete small answer.
  void answer(int status, std::string_view content_type, std::string_view body, Headers extra = {});
  // One-line reason in text/plain, never cached by a CDN.
  void fail(int status, std::string reason);
};

// The end of every answer: a 500 if nothing was answered, the sink ended,
// the request counted and logged.
void finish_request(RouteContext& ctx);

// Route handlers.
void handle_create(RouteContext& ctx);
void handle_manifest(RouteContext& ctx, std::string_view encoded_and_rest);
void handle_media(RouteContext& ctx, std::string_view encoded_and_rest);
void handle_inspect(RouteContext& ctx, std::string_view encoded_and_rest);
void handle_mss_init(RouteContext& ctx, std::string_view encoded_and_rest);

// application/x-www-form-urlencoded field lookup (also for query strings).
std::string form_field(std::string_view form, std::string_view name, bool* found = nullptr);
std::string percent_decode(std::string_view in, bool plus_is_space);

}  // namespace dashpiff
