#include <boost/test/unit_test.hpp>

#include "service/rewrite_cache.h"

using namespace dashpiff;

namespace {

MpdRewriteOptions options(std::string query = "") {
  MpdRewriteOptions o;
  o.manifest_url = "http://o.example/live/manifest.mpd";
  o.manifest_query = std::move(query);
  return o;
}

MpdRewriteResult result(std::string xml) {
  MpdRewriteResult r;
  r.xml = std::move(xml);
  r.urls_rewritten = 1;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rewrite_cache)

BOOST_AUTO_TEST_CASE(serves_the_same_origin_bytes_under_the_same_options) {
  RewriteCache cache;
  cache.store("<MPD/>", options(), result("rewritten"));
  const auto hit = cache.find("<MPD/>", options());
  BOOST_REQUIRE(hit);
  BOOST_TEST(hit->xml == "rewritten");
}

BOOST_AUTO_TEST_CASE(misses_when_origin_bytes_or_options_differ) {
  RewriteCache cache;
  cache.store("<MPD/>", options(), result("rewritten"));
  BOOST_TEST(!cache.find("<MPD />", options()));
  BOOST_TEST(!cache.find("<MPD/>", options("token=1")));
  auto other = options();
  other.carry_query = false;
  BOOST_TEST(!cache.find("<MPD/>", other));
  other = options();
  other.manifest_url = "http://o.example/live/other.mpd";
  BOOST_TEST(!cache.find("<MPD/>", other));
  // The proxy's address the xlink:hrefs name (a request with another Host
  // must not get an MPD naming the first one's).
  other = options();
  other.public_base = "http://elsewhere.example";
  BOOST_TEST(!cache.find("<MPD/>", other));
}

BOOST_AUTO_TEST_CASE(evicts_least_recently_used_past_the_entry_cap) {
  RewriteCache cache(1 << 20, 2);
  cache.store("a", options(), result("A"));
  cache.store("b", options(), result("B"));
  BOOST_TEST(cache.find("a", options()) != nullptr);  // a is now the most recent
  cache.store("c", options(), result("C"));
  BOOST_TEST(cache.find("a", options()) != nullptr);
  BOOST_TEST(cache.find("b", options()) == nullptr);
  BOOST_TEST(cache.find("c", options()) != nullptr);
}

BOOST_AUTO_TEST_CASE(keeps_within_its_byte_budget_and_skips_huge_manifests) {
  RewriteCache cache(4000, 100);
  cache.store(std::string(2000, 'x'), options(), result("X"));  // over a quarter of the budget
  BOOST_TEST(cache.find(std::string(2000, 'x'), options()) == nullptr);
  for (char c = 'a'; c <= 'j'; ++c) cache.store(std::string(400, c), options(), result(std::string(1, c)));
  BOOST_TEST(cache.find(std::string(400, 'a'), options()) == nullptr);
  BOOST_TEST(cache.find(std::string(400, 'j'), options()) != nullptr);
}

BOOST_AUTO_TEST_CASE(keeps_origin_validators_per_fetch_for_revalidation) {
  RewriteCache cache;
  OriginValidation v;
  v.fetch_key = "http://o.example/live/manifest.mpd\n10";
  v.etag = "\"e1\"";
  v.headers = {{"ETag", "\"e1\""}, {"Cache-Control", "max-age=1"}};
  cache.store("<MPD/>", options(), result("R1"), v);
  const auto* hit = cache.find_revalidatable(v.fetch_key);
  BOOST_REQUIRE(hit);
  BOOST_TEST(hit->result.xml == "R1");
  BOOST_TEST(hit->origin.etag == "\"e1\"");
  BOOST_TEST(!cache.find_revalidatable("http://o.example/other.mpd\n10"));
  // Same bytes under new validators: the entry takes them, one entry stays.
  v.etag = "\"e2\"";
  cache.store("<MPD/>", options(), result("R1"), v);
  BOOST_TEST(cache.find_revalidatable(v.fetch_key)->origin.etag == "\"e2\"");
  // New bytes under the same fetch key replace the old entry.
  v.etag = "\"e3\"";
  cache.store("<MPD a='1'/>", options(), result("R3"), v);
  BOOST_TEST(cache.find_revalidatable(v.fetch_key)->result.xml == "R3");
  BOOST_TEST(!cache.find("<MPD/>", options()));
  // Nothing to revalidate with: not offered for revalidation.
  OriginValidation none;
  none.fetch_key = "k";
  cache.store("<MPD b='2'/>", options(), result("R4"), none);
  BOOST_TEST(!cache.find_revalidatable("k"));
}

BOOST_AUTO_TEST_SUITE_END()

// Issue 14: concurrent revalidations of one manifest share one origin fetch
// when, and only when, they would ask the origin the same.
#include "service/origin_proxy.h"

BOOST_AUTO_TEST_SUITE(shared_fetches)

namespace {
OriginRequest manifest_request(std::string request_id, std::string client) {
  OriginRequest r;
  r.url = "http://o.example/live/manifest.mpd?t=1";
  r.decode_body = true;
  r.max_body_bytes = 16u << 20;
  r.headers = {{"If-None-Match", "\"v1\""}, {"X-Forwarded-For", std::move(client)},
               {"X-Request-Id", std::move(request_id)}};
  return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(requests_differing_only_in_who_asks_share) {
  BOOST_TEST(shared_fetch_key(manifest_request("a1", "10.0.0.1")) ==
             shared_fetch_key(manifest_request("b2", "10.0.0.2")));
}

BOOST_AUTO_TEST_CASE(anything_the_origin_could_answer_differently_to_does_not_share) {
  const auto base = shared_fetch_key(manifest_request("a", "c"));
  auto other_url = manifest_request("a", "c");
  other_url.url += "2";
  auto other_conditional = manifest_request("a", "c");
  other_conditional.headers[0].second = "\"v2\"";
  auto forwarded_cookie = manifest_request("a", "c");
  forwarded_cookie.headers.emplace_back("Cookie", "s=1");
  auto head = manifest_request("a", "c");
  head.method = "HEAD";
  auto raw = manifest_request("a", "c");
  raw.decode_body = false;
  auto smaller = manifest_request("a", "c");
  smaller.max_body_bytes = 1;
  for (const auto& r : {other_url, other_conditional, forwarded_cookie, head, raw, smaller})
    BOOST_TEST(shared_fetch_key(r) != base);
}

BOOST_AUTO_TEST_CASE(an_answer_meant_for_one_requester_is_not_handed_to_the_others) {
  // RFC 9111 §5.2.2.7 (private, with or without field names) and §4.1 (Vary
  // on what the key leaves out, or on everything).
  for (const Headers& h : std::vector<Headers>{{{"Cache-Control", "max-age=2, private"}},
                                               {{"cache-control", "PRIVATE=\"Set-Cookie\""}},
                                               {{"Vary", "Accept-Language, X-Forwarded-For"}},
                                               {{"Vary", "*"}},
                                               {{"Vary", "Origin"}, {"VARY", "x-request-id"}}})
    BOOST_TEST(!shared_answer_reusable(h));
  for (const Headers& h : std::vector<Headers>{{},
                                               {{"Cache-Control", "public, max-age=2, no-transform"}},
                                               {{"Cache-Control", "x-private-ish"}},
                                               {{"Vary", "Accept-Encoding, Origin"}}})
    BOOST_TEST(shared_answer_reusable(h));
}

BOOST_AUTO_TEST_CASE(only_an_answer_for_anyone_is_kept_for_whoever_asks_next) {
  // The rewrite cache's revalidation serves every requester: not what one
  // requester may have (private), what nobody may keep (no-store, §5.2.2.5),
  // or a variant by a header the requests carry (§4.1).
  const std::vector<std::string> forwarded = default_forward_headers();
  for (const Headers& h : std::vector<Headers>{{{"Cache-Control", "max-age=2, private"}},
                                               {{"Cache-Control", "no-store"}},
                                               {{"cache-control", "max-age=0"}, {"Cache-Control", " No-Store "}},
                                               {{"Vary", "Accept-Encoding, accept-language"}},
                                               {{"Vary", "Accept"}},
                                               {{"Vary", "*"}}})
    BOOST_TEST(!answer_for_anyone(h, forwarded));
  for (const Headers& h : std::vector<Headers>{{},
                                               {{"Cache-Control", "public, max-age=2"}},
                                               {{"Cache-Control", "no-cache"}},
                                               {{"Vary", "Accept-Encoding, Origin"}}})
    BOOST_TEST(answer_for_anyone(h, forwarded));
  // Vary on a header that is not forwarded: every request of ours is alike.
  BOOST_TEST(answer_for_anyone({{"Vary", "Accept-Language"}}, std::vector<std::string>{"Accept"}));
}

BOOST_AUTO_TEST_CASE(parts_cannot_run_into_each_other) {
  // The same bytes split differently between name and value are another request.
  auto a = manifest_request("a", "c");
  a.headers.emplace_back("X-A", "bc");
  auto b = manifest_request("a", "c");
  b.headers.emplace_back("X-Ab", "c");
  BOOST_TEST(shared_fetch_key(a) != shared_fetch_key(b));
}

BOOST_AUTO_TEST_SUITE_END()
