#include <boost/test/unit_test.hpp>

#include "service/validators.h"

using namespace dashpiff;

BOOST_AUTO_TEST_SUITE(validators)

BOOST_AUTO_TEST_CASE(entity_tags_parse_and_lists_split_on_quotes) {
  const auto strong = parse_entity_tag("\"abc\"");
  BOOST_REQUIRE(strong);
  BOOST_TEST(!strong->weak);
  BOOST_TEST(strong->opaque == "abc");
  const auto weak = parse_entity_tag(" W/\"a,b\" ");
  BOOST_REQUIRE(weak);
  BOOST_TEST(weak->weak);
  BOOST_TEST(weak->str() == "W/\"a,b\"");
  BOOST_TEST(!parse_entity_tag("abc"));
  BOOST_TEST(!parse_entity_tag("\"a\"b\""));
  const auto list = parse_entity_tags("\"x\", W/\"a,b\",junk, \"y\"");
  BOOST_REQUIRE(list.size() == 3u);
  BOOST_TEST(list[1].opaque == "a,b");
  BOOST_TEST(parse_entity_tags("*").front().opaque == "*");
}

BOOST_AUTO_TEST_CASE(each_layout_has_its_own_weak_tag_mapped_back_for_the_origin) {
  const EntityTag origin{false, "5f-27a9"};
  const std::string auto_tag = layout_etag(origin, "auto");
  BOOST_TEST(auto_tag == "W/\"5f-27a9.dashpiff-auto\"");
  BOOST_TEST(layout_etag(origin, "free") != auto_tag);
  // Ours, mapped back; the origin's own and other layouts' dropped (judged
  // once the answer is known).
  BOOST_TEST(origin_if_none_match(auto_tag + ", \"5f-27a9\", W/\"5f-27a9.dashpiff-free\"", "auto") ==
             "W/\"5f-27a9\"");
  BOOST_TEST(origin_if_none_match("\"5f-27a9\"", "auto").empty());
  // "*" is judged once the answer is known: the origin's 304 to it names no
  // tag of this layout, and the client's 304 must carry one (RFC 9110 §15.4.5).
  BOOST_TEST(origin_if_none_match("*", "auto").empty());
  BOOST_TEST(origin_if_none_match("*, " + auto_tag, "auto") == "W/\"5f-27a9\"");
  const EntityTag current{false, "5f-27a9"};
  BOOST_TEST(confirmed_tag("\"zz\", " + auto_tag, &current, "auto").value_or("") == auto_tag);
  BOOST_TEST(!confirmed_tag("\"5f-27a9\"", &current, "auto"));
  BOOST_TEST(!confirmed_tag(auto_tag, nullptr, "auto"));
}

BOOST_AUTO_TEST_CASE(single_ranges_of_a_known_length) {
  using K = ByteRange::Kind;
  auto r = parse_range("bytes=0-99", 1000);
  BOOST_TEST((r.kind == K::satisfiable && r.first == 0 && r.last == 99));
  r = parse_range("bytes=900-", 1000);
  BOOST_TEST((r.kind == K::satisfiable && r.first == 900 && r.last == 999));
  r = parse_range("bytes=-50", 1000);
  BOOST_TEST((r.kind == K::satisfiable && r.first == 950 && r.last == 999));
  r = parse_range("bytes=-5000", 1000);
  BOOST_TEST((r.kind == K::satisfiable && r.first == 0));
  r = parse_range("bytes=990-2000", 1000);
  BOOST_TEST((r.kind == K::satisfiable && r.last == 999));
  BOOST_TEST((parse_range("bytes=1000-", 1000).kind == K::unsatisfiable));
  BOOST_TEST((parse_range("bytes=-0", 1000).kind == K::unsatisfiable));
  BOOST_TEST((parse_range("bytes=0-1,5-6", 1000).kind == K::none));  // answered whole
  BOOST_TEST((parse_range("bytes=5-1", 1000).kind == K::none));
  BOOST_TEST((parse_range("items=0-1", 1000).kind == K::none));
  BOOST_TEST((parse_range("bytes=99999999999999999999-", 1000).kind == K::none));
}

BOOST_AUTO_TEST_CASE(if_range_needs_the_current_strong_tag_or_date) {
  const std::optional<EntityTag> strong = EntityTag{false, "a"};
  const std::optional<EntityTag> weak = EntityTag{true, "a.dashpiff-auto"};
  const std::string date = "Sun, 06 Dec 2026 03:00:00 GMT";
  BOOST_TEST(if_range_holds("\"a\"", strong, nullptr));
  BOOST_TEST(!if_range_holds("\"b\"", strong, nullptr));
  BOOST_TEST(!if_range_holds("W/\"a.dashpiff-auto\"", weak, nullptr));  // a weak tag never matches
  BOOST_TEST(!if_range_holds("\"a\"", weak, nullptr));                  // the other layout
  BOOST_TEST(if_range_holds(date, strong, &date));
  BOOST_TEST(!if_range_holds(date, weak, nullptr));  // a date names the origin's bytes only
}

BOOST_AUTO_TEST_CASE(http_dates_in_their_three_forms) {
  // RFC 9110 §5.6.7's example, 784111777 s after the epoch, in each form.
  BOOST_TEST(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").value_or(0) == 784111777);
  BOOST_TEST(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").value_or(0) == 784111777);
  BOOST_TEST(parse_http_date("Sun Nov  6 08:49:37 1994").value_or(0) == 784111777);
  BOOST_TEST(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT").value_or(-1) == 0);
  BOOST_TEST(parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT").value_or(0) == 1835481599);
  BOOST_TEST(parse_http_date("Sun, 06 Dec 2026 16:07:20 GMT").value_or(0) == 1796573240);
  for (const char* bad : {"", "garbage", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
                          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT"})
    BOOST_TEST(!parse_http_date(bad), bad);
}

BOOST_AUTO_TEST_CASE(if_match_compares_strongly_and_wins_over_if_unmodified_since) {
  const std::optional<std::string> strong = std::string("\"a\""), weak = std::string("W/\"a.dashpiff-auto\"");
  const std::string lm = "Sun, 06 Nov 1994 08:49:37 GMT";
  BOOST_TEST(!failed_precondition("\"a\"", "", strong, &lm));
  BOOST_TEST(!failed_precondition("\"x\", \"a\"", "", strong, &lm));
  BOOST_TEST(failed_precondition("\"b\"", "", strong, &lm).has_value());
  BOOST_TEST(failed_precondition("W/\"a\"", "", strong, &lm).has_value());  // §13.1.1: strong comparison
  BOOST_TEST(failed_precondition("W/\"a.dashpiff-auto\"", "", weak, &lm).has_value());
  BOOST_TEST(failed_precondition("\"a\"", "", std::nullopt, &lm).has_value());
  BOOST_TEST(!failed_precondition("*", "", weak, &lm));
  // If-Match present: If-Unmodified-Since is not looked at (§13.2.2).
  BOOST_TEST(!failed_precondition("\"a\"", "Sat, 05 Nov 1994 08:49:37 GMT", strong, &lm));
  BOOST_TEST(!failed_precondition("", lm, strong, &lm));
  BOOST_TEST(!failed_precondition("", "Mon, 07 Nov 1994 08:49:37 GMT", strong, &lm));
  BOOST_TEST(failed_precondition("", "Sat, 05 Nov 1994 08:49:37 GMT", strong, &lm).has_value());
  BOOST_TEST(!failed_precondition("", "garbage", strong, &lm));                        // not a date: ignored
  BOOST_TEST(!failed_precondition("", "Sat, 05 Nov 1994 08:49:37 GMT", strong, nullptr));  // no date to judge
}

BOOST_AUTO_TEST_SUITE_END()
