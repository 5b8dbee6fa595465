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

BOOST_AUTO_TEST_SUITE_END()
