// Router behaviour that needs no origin: /create, limits, errors, ops routes.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "service/config.h"
#include "service/log.h"
#include "service/metrics.h"
#include "origin/client.h"
#include "service/inert.h"
#include "service/router.h"
#include "util/strings.h"

using namespace dashpiff;

namespace {

struct RecordingSink final : ResponseSink {
  int status = 0;
  Headers headers;
  std::string body;
  bool ended = false, aborted = false, began = false;
  void begin(int s, const Headers& h) override {
    BOOST_REQUIRE(!began);
    began = true;
    status = s;
    headers = h;
  }
  bool write(std::string_view c) override {
    body.append(c);
    return true;
  }
  void end() override { ended = true; }
  void abort() override { aborted = true; }
  bool started() const override { return began; }
  std::string header(std::string_view name) const {
    const auto* v = find_header(headers, name);
    return v ? *v : "";
  }
};

struct Fixture {
  Fixture() { set_log_level(LogLevel::error); }  // request lines would drown the test output
  Config config;
  MetricsBlock metrics{};
  CurlGlobal curl;
  OriginClient origin{config.origin};

  RecordingSink call(std::string method, std::string path, std::string query = "", Headers headers = {},
                     std::string body = "") {
    Request r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.query = std::move(query);
    r.headers = std::move(headers);
    r.body = std::move(body);
    r.body_too_large = r.body.size() > config.max_create_body;
    RecordingSink sink;
    Router(config, metrics).handle(r, sink, origin);
    BOOST_TEST(sink.ended);
    return sink;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(router, Fixture)

BOOST_AUTO_TEST_CASE(create_mints_from_host_and_keeps_query_unencoded) {
  auto s = call("GET", "/create", "url=http%3A%2F%2Fcdn.example%2Fa%2Fb.mpd%3Ft%3D1%26u%3D2",
                {{"Host", "proxy.example:8080"}});
  BOOST_TEST(s.status == 200);
  BOOST_TEST(nlohmann::json::parse(s.body)["url"] == "http://proxy.example:8080/mpd/http!0!1!1cdn.example!1a!1b.mpd?t=1&u=2");
  BOOST_TEST(s.header("Cache-Control") == "no-store");
}

BOOST_AUTO_TEST_CASE(create_prefers_configured_public_base) {
  config.public_base_url = "https://d1.cloudfront.net/";
  auto s = call("POST", "/api/create", "", {{"Content-Type", "application/json"}, {"Host", "internal"}},
                R"({"url":"https://o.example/m.mpd"})");
  BOOST_TEST(nlohmann::json::parse(s.body)["url"] == "https://d1.cloudfront.net/mpd/https!0!1!1o.example!1m.mpd");
}

BOOST_AUTO_TEST_CASE(create_refuses_hostile_host_header) {
  auto s = call("GET", "/create", "url=http%3A%2F%2Fo%2Fm.mpd", {{"Host", "evil.example/<script>"}});
  BOOST_TEST(s.status == 400);
}

BOOST_AUTO_TEST_CASE(create_post_without_url_is_400_and_get_is_form) {
  BOOST_TEST(call("POST", "/create", "", {{"Content-Type", "application/x-www-form-urlencoded"}}, "x=1").status == 400);
  auto form = call("GET", "/create");
  BOOST_TEST(form.status == 200);
  BOOST_TEST(form.body.rfind("<!DOCTYPE html>", 0) == 0);
}

BOOST_AUTO_TEST_CASE(create_oversized_body_is_413) {
  config.max_create_body = 10;
  BOOST_TEST(call("POST", "/create", "", {{"Content-Type", "application/json"}}, std::string(20, 'x')).status == 413);
}

BOOST_AUTO_TEST_CASE(create_refuses_deep_json_before_building_it) {
  config.max_create_body = 1 << 20;
  const std::string deep = std::string(400000, '[') + std::string(400000, ']');
  auto s = call("POST", "/create", "", {{"Content-Type", "application/json"}}, deep);
  BOOST_TEST(s.status == 400);
  BOOST_TEST(s.body.find("nested deeper than") != std::string::npos, s.body);
  // Depth 1 is all a real body has.
  s = call("POST", "/create", "", {{"Content-Type", "application/json"}, {"Host", "h"}},
           R"({"url":"http://o.example/m.mpd","x":[[{"y":1}]]})");
  BOOST_TEST(s.status == 200, s.body);
}

BOOST_AUTO_TEST_CASE(create_refuses_a_path_the_front_server_would_refuse) {
  for (const char* bad : {"http://o.example/a%zz/m.mpd", "http://o.example/a%00b/m.mpd", "http://o.example/a%2"}) {
    auto s = call("POST", "/create", "", {{"Content-Type", "application/json"}, {"Host", "h"}},
                  nlohmann::json{{"url", bad}}.dump());
    BOOST_TEST(s.status == 400, bad << ": " << s.body);
  }
  // Escapes that pass, and anything in the query (it rides as it came).
  for (const char* good : {"http://o.example/a%20b%2F/m.mpd", "http://o.example/m.mpd?t=%zz%00"}) {
    auto s = call("POST", "/create", "", {{"Content-Type", "application/json"}, {"Host", "h"}},
                  nlohmann::json{{"url", good}}.dump());
    BOOST_TEST(s.status == 200, good << ": " << s.body);
  }
}

BOOST_AUTO_TEST_CASE(create_html_answer_escapes_the_url) {
  auto s = call("POST", "/create", "", {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "text/html"}, {"Host", "h"}},
                "url=http%3A%2F%2Fo.example%2F%22%3E%3Cscript%3E.mpd");
  BOOST_TEST(s.status == 200);
  BOOST_TEST(s.body.find("<script>") == std::string::npos);
  BOOST_TEST(s.body.find("&quot;&gt;&lt;script&gt;") != std::string::npos);
  // Its own pages run nothing and are framed by no other site, whatever slips through.
  for (const auto& page : {s, call("GET", "/create")}) {
    BOOST_TEST(page.header("Content-Security-Policy").find("default-src 'none'") != std::string::npos);
    BOOST_TEST(page.header("Content-Security-Policy").find("frame-ancestors 'none'") != std::string::npos);
    BOOST_TEST(page.header("X-Content-Type-Options") == "nosniff");
  }
}

BOOST_AUTO_TEST_CASE(malformed_encoding_is_400_before_any_fetch) {
  for (const char* path : {"/mpd/http!0!1!1h!", "/mpd/a!9", "/media/x!/s.m4s", "/media/http!0!1!1h", "/mpd/ftp!0!1!1h!1m.mpd"}) {
    auto s = call("GET", path);
    BOOST_TEST(s.status == 400, path);
    BOOST_TEST(s.body.find('\n') == s.body.size() - 1, path);
  }
}

BOOST_AUTO_TEST_CASE(subsegment_range_paths_are_parsed_strictly_before_any_fetch) {
  // The origin is unreachable (port 9 on a documentation address): any of
  // these reaching it would answer 502/504/403, not 400.
  const std::string base = "/http!0!1!1192.0.2.1!09!1v!1/video.mp4";
  for (const char* range : {"5-1", "1-", "-5", "1--2", "1-2-3", "00000000000000000001-2",
                            "9223372036854775808-9223372036854775809", "0-67108864"}) {
    auto s = call("GET", "/media/" + std::string(range) + base);
    BOOST_TEST(s.status == 400, range);
    BOOST_TEST(s.body.find('\n') == s.body.size() - 1, range);
  }
  BOOST_TEST(call("GET", "/media/0-99").status == 400);
  BOOST_TEST(call("GET", "/media/0-99/http!0!1!1h!").status == 400);  // the base after it still decodes strictly
  config.max_segment_bytes = 1000;
  auto s = call("GET", "/media/0-1000" + base);
  BOOST_TEST(s.status == 400);
  BOOST_TEST(s.body.find("max-segment-bytes") != std::string::npos, s.body);
}

BOOST_AUTO_TEST_CASE(unknown_route_is_404_and_wrong_method_405) {
  BOOST_TEST(call("GET", "/nope").status == 404);
  auto s = call("DELETE", "/mpd/x");
  BOOST_TEST(s.status == 405);
  BOOST_TEST(s.header("Allow").find("GET") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(limits_answer_414_and_431) {
  config.max_url_length = 100;
  BOOST_TEST(call("GET", "/mpd/" + std::string(200, 'a')).status == 414);
  config.max_header_bytes = 50;
  BOOST_TEST(call("GET", "/healthz", "", {{"X-Big", std::string(100, 'b')}}).status == 431);
}

BOOST_AUTO_TEST_CASE(preflight_answers_cors) {
  auto s = call("OPTIONS", "/media/x/y", "", {{"Access-Control-Request-Headers", "range"}});
  BOOST_TEST(s.status == 204);
  BOOST_TEST(s.header("Access-Control-Allow-Origin") == "*");
  BOOST_TEST(s.header("Access-Control-Allow-Headers") == "range");
}

BOOST_AUTO_TEST_CASE(healthz_reports_draining) {
  BOOST_TEST(call("GET", "/healthz").status == 200);
  metrics.draining.store(1);
  BOOST_TEST(call("GET", "/healthz").status == 503);
}

BOOST_AUTO_TEST_CASE(metrics_count_requests_by_route_and_status) {
  call("GET", "/nope");
  call("GET", "/nope");
  auto s = call("GET", "/metrics");
  BOOST_TEST(s.body.find("dashpiff_requests_total{route=\"other\",status=\"404\"} 2") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(metrics_latency_histogram_pool_gauges_and_build_info) {
  call("GET", "/nope");
  auto& block = metrics;
  auto* a = block.claim_worker_slot(1001, 8);
  auto* b = block.claim_worker_slot(1002, 4);
  BOOST_REQUIRE(a && b && a != b);
  a->busy.fetch_add(3);
  auto s = call("GET", "/metrics");
  // One 404 answered before the scrape: every bucket up to +Inf counts it.
  BOOST_TEST(s.body.find("dashpiff_request_duration_seconds_bucket{route=\"other\",status=\"404\",le=\"+Inf\"} 1\n") !=
             std::string::npos);
  BOOST_TEST(s.body.find("dashpiff_request_duration_seconds_count{route=\"other\",status=\"404\"} 1\n") !=
             std::string::npos);
  BOOST_TEST(s.body.find("dashpiff_worker_threads 12\n") != std::string::npos);
  BOOST_TEST(s.body.find("dashpiff_worker_threads_busy 3\n") != std::string::npos);
  BOOST_TEST(s.body.find("dashpiff_build_info{version=\"") != std::string::npos);
  // A worker that died mid-request (reaped by the supervisor) leaves no busy thread behind.
  block.release_worker_slot(1001);
  s = call("GET", "/metrics");
  BOOST_TEST(s.body.find("dashpiff_worker_threads 4\n") != std::string::npos);
  BOOST_TEST(s.body.find("dashpiff_worker_threads_busy 0\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(request_id_is_echoed_or_made) {
  auto given = call("GET", "/healthz", "", {{"X-Request-Id", "abc-123"}});
  BOOST_TEST(given.header("X-Request-Id") == "abc-123");
  auto made = call("GET", "/healthz", "", {{"X-Request-Id", "bad id\x01"}});
  BOOST_TEST(made.header("X-Request-Id").size() == 16u);
}

BOOST_AUTO_TEST_SUITE_END()

// Issue #12 item 6: proxied bodies are inert on this site, as a browser would
// read their Content-Type.
BOOST_AUTO_TEST_SUITE(inert_content)

namespace {
std::vector<std::string> types_after(Headers h) {
  make_inert(h);
  std::vector<std::string> out;
  for (const auto& [name, value] : h)
    if (iequals(name, "Content-Type")) out.push_back(value);
  return out;
}
using Types = std::vector<std::string>;
}  // namespace

BOOST_AUTO_TEST_CASE(active_types_are_judged_by_their_essence) {
  for (const char* t : {"text/html", "TEXT/HTML; charset=utf-8", " text/html ;x=1", "image/svg+xml",
                        "text/x-javascript", "text/javascript1.5", "text/livescript", "application/x-ecmascript",
                        "application/rss+xml", "text/xml-external-parsed-entity", "application/xml-dtd"})
    BOOST_TEST(is_active_type(t), t);
  for (const char* t : {"video/mp4", "application/dash+xml", "application/dash-patch+xml; charset=utf-8",
                        "text/plain", "application/octet-stream", "text/vtt"})
    BOOST_TEST(!is_active_type(t), t);
}

BOOST_AUTO_TEST_CASE(a_type_is_passed_only_when_it_is_one_inactive_parseable_type) {
  BOOST_TEST(types_after({{"Content-Type", "video/mp4"}}) == Types{"video/mp4"});
  // A comma inside a quoted parameter separates nothing (RFC 6381 codecs).
  BOOST_TEST(types_after({{"Content-Type", "video/mp4; codecs=\"avc1.64001f, mp4a.40.2\""}}) ==
             Types{"video/mp4; codecs=\"avc1.64001f, mp4a.40.2\""});
  BOOST_TEST(types_after({{"Content-Type", "text/html"}}) == Types{"text/plain"});
  BOOST_TEST(types_after({}) == Types{"application/octet-stream"});
}

BOOST_AUTO_TEST_CASE(a_list_or_a_repeated_type_cannot_smuggle_an_active_one) {
  // A browser takes the last parseable member of all the lines joined: HTML.
  BOOST_TEST(types_after({{"Content-Type", "text/plain, text/html"}}) == Types{"text/plain"});
  BOOST_TEST(types_after({{"Content-Type", "video/mp4"}, {"Content-Type", "text/html"}}) == Types{"text/plain"});
  BOOST_TEST(types_after({{"Content-Type", "video/mp4"}, {"Content-Type", "audio/mp4"}}) ==
             Types{"application/octet-stream"});
  BOOST_TEST(types_after({{"Content-Type", "video/mp4,"}}) == Types{"video/mp4,"});
}

BOOST_AUTO_TEST_CASE(an_empty_or_unparseable_type_is_not_left_to_sniffing) {
  for (const char* t : {"", " ", "html", "text/html\x0b", "\"text/html\"", "*/*", "text/"})
    BOOST_TEST(types_after({{"Content-Type", t}}) == Types{"application/octet-stream"}, t);
}

BOOST_AUTO_TEST_SUITE_END()
