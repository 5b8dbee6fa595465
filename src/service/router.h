// Turns a plain HTTP request into an answer: /create, /mpd/, /media/, and
// the operational routes. Knows nothing of FastCGI; the front end fills a
// Request and supplies a ResponseSink and this thread's OriginClient.
// One Router per thread. Its rewrite cache serves the threaded manifest path
// (no launcher, as in tests); a worker's manifests use its event loop's.
#pragma once

#include "service/config.h"
#include "http/message.h"
#include "service/metrics.h"
#include "origin/client.h"
#include "service/rewrite_cache.h"

namespace dashpiff {

class TransferLauncher;

class Router {
 public:
  Router(const Config& config, MetricsBlock& metrics);
  // Never throws: every failure becomes an HTTP answer (or, once the answer
  // has started, a truncated body and a log line). With a launcher, /media/
  // answers are handed to it (and `request` is moved from).
  void handle(Request& request, ResponseSink& sink, OriginClient& origin, TransferLauncher* launcher = nullptr);

 private:
  const Config& config_;
  MetricsBlock& metrics_;
  RewriteCache rewrites_;
};

// A request id: the client's X-Request-Id if it is short and printable, else
// a fresh random one.
std::string make_request_id(const Request& request);

}  // namespace dashpiff
