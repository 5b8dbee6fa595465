#include "service/router.h"

#include "util/strings.h"

#include <cctype>
#include <new>
#include <random>

#include "service/log.h"
#include "service/media_transfer.h"
#include "service/route_context.h"

namespace dashpiff {

Headers RouteContext::base_headers() const {
  Headers h;
  if (!config.cors_origin.empty()) {
    h.emplace_back("Access-Control-Allow-Origin", config.cors_origin);
    // Players read these on cross-origin segment and manifest answers.
    h.emplace_back("Access-Control-Expose-Headers",
                   "Content-Length, Content-Range, Content-Type, Date, ETag, Last-Modified, X-Request-Id");
  }
  h.emplace_back("X-Request-Id", request.request_id);
  // No answer of this site is ever sniffed into a type it was not sent as.
  h.emplace_back("X-Content-Type-Options", "nosniff");
  return h;
}

std::string RouteContext::public_base() const {
  if (!config.public_base_url.empty()) {
    std::string base = config.public_base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base;
  }
  std::string scheme = request.scheme;
  if (const auto* proto = find_header(request.headers, "X-Forwarded-Proto")) {
    const std::string first = proto->substr(0, proto->find(','));
    if (first == "https" || first == "http") scheme = first;
  }
  const auto* host = find_header(request.headers, "Host");
  std::string h = host ? *host : "localhost";
  // A Host header is attacker-controlled: keep only what a host[:port] may hold.
  for (unsigned char c : h)
    if (!(std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']')) return {};
  return scheme + "://" + h;
}

void RouteContext::begin(int s, Headers headers) {
  status = s;
  Headers all = base_headers();
  all.reserve(all.size() + headers.size());
  for (auto& h : headers) all.push_back(std::move(h));
  sink.begin(s, all);
}

bool RouteContext::write(std::string_view chunk) {
  if (request.method == "HEAD" || chunk.empty()) return true;
  bytes_out += chunk.size();
  return sink.write(chunk);
}

void RouteContext::answer(int s, std::string_view content_type, std::string_view body, Headers extra) {
  extra.emplace_back("Content-Type", std::string(content_type));
  extra.emplace_back("Content-Length", std::to_string(body.size()));
  begin(s, std::move(extra));
  write(body);
}

void RouteContext::fail(int s, std::string reason) {
  note = reason;
  if (sink.started()) return;  // too late for a status: the log line tells
  answer(s, "text/plain; charset=utf-8", reason + "\n", {{"Cache-Control", "no-store"}});
}

namespace {

bool has_prefix(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::size_t header_bytes(const Headers& headers) {
  std::size_t n = 0;
  for (const auto& [k, v] : headers) n += k.size() + v.size() + 4;
  return n;
}

void answer_preflight(RouteContext& ctx) {
  Headers h = {{"Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS"},
               {"Access-Control-Max-Age", "86400"},
               {"Content-Length", "0"}};
  if (const auto* asked = find_header(ctx.request.headers, "Access-Control-Request-Headers"))
    h.emplace_back("Access-Control-Allow-Headers", *asked);
  else
    h.emplace_back("Access-Control-Allow-Headers", "Range, Content-Type");
  h.emplace_back("Vary", "Access-Control-Request-Headers");
  ctx.begin(204, std::move(h));
}

bool method_allowed(RouteContext& ctx, std::initializer_list<std::string_view> methods) {
  for (auto m : methods)
    if (ctx.request.method == m) return true;
  std::string allow;
  for (auto m : methods) allow += (allow.empty() ? "" : ", ") + std::string(m);
  ctx.note = "method " + ctx.request.method + " not allowed";
  ctx.answer(405, "text/plain; charset=utf-8", ctx.note + "\n", {{"Allow", allow + ", OPTIONS"}});
  return false;
}

void log_request(const RouteContext& ctx) {
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ctx.started).count();
  // Appended to one reserved string: an ostringstream (locale, sentry,
  // virtual calls per field) was about a twentieth of a cached manifest's
  // instructions (callgrind, bench/profile.py --workload mpd).
  const std::string_view path = std::string_view(ctx.request.path).substr(0, 200);
  std::string line;
  line.reserve(160 + ctx.request.request_id.size() + path.size() + ctx.note.size());
  line.append("req id=").append(ctx.request.request_id);
  line.append(" route=").append(to_string(ctx.route));
  line.append(" method=").append(ctx.request.method);
  line.append(" status=").append(std::to_string(ctx.status));
  line.append(" origin=").append(std::to_string(ctx.origin_status));
  line.append(" bytes=").append(std::to_string(ctx.bytes_out));
  line.append(" ms=").append(std::to_string(static_cast<long long>(ms + 0.5)));
  line.append(" boxes=").append(std::to_string(ctx.boxes));
  line.append(" path=").append(path);
  if (!ctx.note.empty()) line.append(" note=\"").append(ctx.note).append("\"");
  log_line(ctx.status >= 500 ? LogLevel::warn : LogLevel::info, line);
}

}  // namespace

std::string make_request_id(const Request& request) {
  if (const auto* given = find_header(request.headers, "X-Request-Id")) {
    bool ok = !given->empty() && given->size() <= 64;
    for (unsigned char c : *given) ok = ok && (std::isalnum(c) || c == '-' || c == '_' || c == '.');
    if (ok) return *given;
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  auto bits = rng();
  for (auto& c : id) {
    c = kHex[bits & 15];
    bits >>= 4;
  }
  return id;
}

Router::Router(const Config& config, MetricsBlock& metrics) : config_(config), metrics_(metrics) {}

void Router::handle(Request& request, ResponseSink& sink, OriginClient& origin, TransferLauncher* launcher) {
  if (request.request_id.empty()) request.request_id = make_request_id(request);
  RouteContext ctx{request, sink, origin, config_, metrics_, rewrites_};
  ctx.launcher = launcher;
  const std::string_view path = request.path;

  static constexpr std::pair<std::string_view, Route> kPrefixes[] = {
      {"/mpd/", Route::mpd},     {"/api/dash/", Route::mpd},      {"/media/", Route::media},
      {"/api/media/", Route::media}, {"/inspect/", Route::player}, {"/mss-init/", Route::mss_init}};
  std::string_view rest;
  if (path == "/create" || path == "/api/create") ctx.route = Route::create;
  else if (path == "/healthz") ctx.route = Route::health;
  else if (path == "/metrics") ctx.route = Route::metrics;
  for (const auto& [prefix, route] : kPrefixes)
    if (has_prefix(path, prefix)) {
      ctx.route = route;
      rest = path.substr(prefix.size());
    }

  try {
    if (path.size() + request.query.size() > config_.max_url_length) {
      ctx.fail(414, "request URL longer than " + std::to_string(config_.max_url_length) + " bytes");
    } else if (header_bytes(request.headers) > config_.max_header_bytes) {
      ctx.fail(431, "request headers larger than " + std::to_string(config_.max_header_bytes) + " bytes");
    } else if (request.method == "OPTIONS" && ctx.route != Route::other) {
      ctx.route = Route::preflight;
      answer_preflight(ctx);
    } else {
      switch (ctx.route) {
        case Route::create:
          if (method_allowed(ctx, {"GET", "HEAD", "POST"})) handle_create(ctx);
          break;
        case Route::mpd:
          if (method_allowed(ctx, {"GET", "HEAD"})) handle_manifest(ctx, rest);
          break;
        case Route::media:
          if (method_allowed(ctx, {"GET", "HEAD"})) handle_media(ctx, rest);
          break;
        case Route::mss_init:
          if (method_allowed(ctx, {"GET", "HEAD"})) handle_mss_init(ctx, rest);
          break;
        case Route::player:
          if (!config_.player_page) ctx.fail(404, "the player page is not enabled (player-page)");
          else if (method_allowed(ctx, {"GET"})) handle_inspect(ctx, rest);
          break;
        case Route::health:
          if (!method_allowed(ctx, {"GET", "HEAD"})) break;
          if (metrics_.draining.load()) ctx.answer(503, "text/plain", "draining\n", {{"Cache-Control", "no-store"}});
          else if (launcher && !launcher->has_room())
            ctx.answer(503, "text/plain", "at the cap of concurrent transfers\n",
                       {{"Cache-Control", "no-store"}, {"Retry-After", "1"}});
          else ctx.answer(200, "text/plain", "ok\n", {{"Cache-Control", "no-store"}});
          break;
        case Route::metrics:
          if (method_allowed(ctx, {"GET", "HEAD"}))
            ctx.answer(200, "text/plain; version=0.0.4", metrics_.prometheus_text(), {{"Cache-Control", "no-store"}});
          break;
        default:
          ctx.fail(404, "no such route: " + std::string(path.substr(0, 200)));
      }
    }
  } catch (...) {
    // Issue #12 items 2 and 3: whatever was thrown (std::bad_alloc included)
    // ends here: before the head a 500, after it a broken-off transfer,
    // never a body that looks whole.
    const char* what = current_exception_what();
    try {
      if (sink.started()) sink.abort();
      else ctx.fail(500, "internal error");
      ctx.note = std::string("internal error: ") + what;
    } catch (...) {
      sink.abort();  // no memory even for the answer: the connection is dropped
    }
  }
  if (ctx.deferred) return;  // the transfer ends the answer (service/media_transfer.h)
  finish_request(ctx);
}

void finish_request(RouteContext& ctx) {
  if (!ctx.sink.started()) ctx.fail(500, "internal error: no answer");
  ctx.sink.end();
  ctx.metrics.count_request(ctx.route, ctx.status,
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started).count());
  ctx.metrics.bytes_to_client.fetch_add(ctx.bytes_out, std::memory_order_relaxed);
  log_request(ctx);
}

}  // namespace dashpiff
