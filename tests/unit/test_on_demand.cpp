// On-demand DASH: the byte-range grammar of MPD attributes and proxy paths,
// the sidx reader (hostile indexes included) and the SegmentBase -> SegmentList
// expansion of the MPD rewrite, with a scripted index reader in place of the
// origin.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "http/byte_span.h"
#include "http/url_codec.h"
#include "mpd/rewriter.h"
#include "mpd/segment_index.h"

using namespace dashpiff;
using namespace dashpiff::mpd;

namespace {

void put(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

struct Ref {
  std::uint32_t size;
  std::uint32_t duration;
  bool index = false;
};

// A sidx box; `count` overrides the reference count written (hostile counts).
std::string sidx(int version, std::uint32_t timescale, std::uint64_t ept, std::uint64_t first_offset,
                 const std::vector<Ref>& refs, long count = -1) {
  std::string body;
  put(body, static_cast<std::uint64_t>(version) << 24, 4);
  put(body, 1, 4);
  put(body, timescale, 4);
  put(body, ept, version == 0 ? 4 : 8);
  put(body, first_offset, version == 0 ? 4 : 8);
  put(body, 0, 2);
  put(body, count < 0 ? refs.size() : static_cast<std::uint64_t>(count), 2);
  for (const Ref& r : refs) {
    put(body, (r.index ? 0x80000000u : 0u) | r.size, 4);
    put(body, r.duration, 4);
    put(body, 0x90000000u, 4);
  }
  std::string box;
  put(box, 8 + body.size(), 4);
  box += "sidx";
  return box + body;
}

IndexRead read(const std::string& bytes, std::uint64_t offset = 100, std::size_t max = kMaxSubsegments) {
  return read_segment_index(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), offset, max);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(byte_span)

BOOST_AUTO_TEST_CASE(reads_first_dash_last) {
  const auto s = parse_byte_span("922-989");
  BOOST_REQUIRE(s);
  BOOST_TEST(s->first == 922u);
  BOOST_TEST(s->last == 989u);
  BOOST_TEST(s->size() == 68u);
  BOOST_TEST(parse_byte_span("0-0")->size() == 1u);
  BOOST_TEST(byte_span_text(*s) == "922-989");
  BOOST_TEST(parse_byte_span("9223372036854775806-9223372036854775807").has_value());
}

BOOST_AUTO_TEST_CASE(refuses_anything_but_two_decimal_positions_in_order) {
  for (const char* bad : {"", "-", "1", "1-", "-1", "a-b", " 1-2", "1-2 ", "+1-2", "1-+2", "2-1", "1-2-3", "0x1-2",
                          "1--2", "01234567890123456789-1", "9223372036854775808-9223372036854775808",
                          "1-99999999999999999999", "1-2/3"})
    BOOST_TEST(!parse_byte_span(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(a_path_segment_is_a_range_only_when_digits_and_dashes) {
  BOOST_TEST(looks_like_byte_span("0-921"));
  BOOST_TEST(looks_like_byte_span("5-1"));  // meant as a range, refused by parse_byte_span: 400
  BOOST_TEST(looks_like_byte_span("--"));
  BOOST_TEST(!looks_like_byte_span(""));
  BOOST_TEST(!looks_like_byte_span(encode_url("http://o/a/")));
  BOOST_TEST(!looks_like_byte_span("1-2a"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(segment_index)

BOOST_AUTO_TEST_CASE(version_0_references_become_consecutive_byte_ranges) {
  const std::string box = sidx(0, 12800, 0, 0, {{10077, 25600}, {12862, 25600}, {14513, 25600}});
  const IndexRead r = read(box, 922);
  BOOST_REQUIRE_MESSAGE(r.index, r.error);
  BOOST_TEST(r.index->timescale == 12800u);
  BOOST_REQUIRE(r.index->subsegments.size() == 3u);
  const std::uint64_t anchor = 922 + box.size();
  BOOST_TEST(r.index->subsegments[0].bytes.first == anchor);
  BOOST_TEST(r.index->subsegments[0].bytes.last == anchor + 10077 - 1);
  BOOST_TEST(r.index->subsegments[1].bytes.first == anchor + 10077);
  BOOST_TEST(r.index->subsegments[2].bytes.last == anchor + 10077 + 12862 + 14513 - 1);
  BOOST_TEST(r.index->subsegments[2].duration == 25600u);
}

BOOST_AUTO_TEST_CASE(version_1_times_and_first_offset_are_64_bit) {
  const std::string box = sidx(1, 48000, 5000000000ull, 16, {{100, 96000}});
  const IndexRead r = read(box, 0);
  BOOST_REQUIRE_MESSAGE(r.index, r.error);
  BOOST_TEST(r.index->earliest_presentation_time == 5000000000ull);
  BOOST_TEST(r.index->subsegments[0].bytes.first == box.size() + 16);
}

BOOST_AUTO_TEST_CASE(a_count_larger_than_its_bytes_is_refused_before_anything_is_sized) {
  const IndexRead r = read(sidx(0, 1000, 0, 0, {{10, 10}}, 65535));
  BOOST_TEST(!r.index);
  BOOST_TEST(r.error.find("reference count") != std::string::npos, r.error);
}

BOOST_AUTO_TEST_CASE(zero_sizes_durations_timescales_and_empty_indexes_are_refused) {
  BOOST_TEST(!read(sidx(0, 1000, 0, 0, {{10, 10}, {0, 10}})).index);
  BOOST_TEST(!read(sidx(0, 1000, 0, 0, {{10, 0}})).index);
  BOOST_TEST(!read(sidx(0, 0, 0, 0, {{10, 10}})).index);
  BOOST_TEST(!read(sidx(0, 1000, 0, 0, {})).index);
}

BOOST_AUTO_TEST_CASE(offsets_and_times_that_overflow_are_refused) {
  // first_offset pushes the anchor past 2^63.
  BOOST_TEST(!read(sidx(1, 1000, 0, 0x7ffffffffffffff0ull, {{10, 10}})).index);
  // References summing past 2^63 from a file offset near it.
  const IndexRead r = read(sidx(0, 1000, 0, 0, {{0x7fffffff, 1}, {0x7fffffff, 1}}), kMaxBytePosition - 0x80000000ull);
  BOOST_TEST(!r.index);
  BOOST_TEST(r.error.find("overflow") != std::string::npos, r.error);
  // Durations summing past 2^63.
  BOOST_TEST(!read(sidx(1, 1000, kMaxBytePosition - 5, 0, {{10, 10}})).index);
  BOOST_TEST(!read(sidx(0, 1000, 0, 0, {{10, 10}}), kMaxBytePosition).index);
}

BOOST_AUTO_TEST_CASE(hierarchical_indexes_and_unknown_versions_are_refused) {
  BOOST_TEST(!read(sidx(0, 1000, 0, 0, {{10, 10, true}})).index);
  std::string v2 = sidx(0, 1000, 0, 0, {{10, 10}});
  v2[8] = 2;
  BOOST_TEST(!read(v2).index);
}

BOOST_AUTO_TEST_CASE(a_huge_reference_count_is_capped) {
  std::vector<Ref> refs(70, Ref{100, 10});
  BOOST_TEST(read(sidx(0, 1000, 0, 0, refs), 0, 70).index.has_value());
  const IndexRead r = read(sidx(0, 1000, 0, 0, refs), 0, 69);
  BOOST_TEST(!r.index);
  BOOST_TEST(r.error.find("more than 69") != std::string::npos, r.error);
  // 65535 declared references in 24 bytes: refused by their bytes, not allocated.
  std::string huge = sidx(0, 1000, 0, 0, {}, 65535);
  BOOST_TEST(!read(huge).index);
}

BOOST_AUTO_TEST_CASE(other_boxes_and_cut_boxes_are_not_indexes) {
  std::string moov = sidx(0, 1000, 0, 0, {{10, 10}});
  moov.replace(4, 4, "moov");
  BOOST_TEST(read(moov).error.find("not 'sidx'") != std::string::npos);
  const std::string box = sidx(0, 1000, 0, 0, {{10, 10}, {10, 10}});
  const IndexRead cut = read(box.substr(0, 30));
  BOOST_TEST(!cut.index);
  BOOST_TEST(cut.needed == box.size());  // the caller may read the rest (indexRangeExact false)
  BOOST_TEST(!read(box.substr(0, 5)).index);
  std::string to_end = box;
  to_end[0] = to_end[1] = to_end[2] = to_end[3] = 0;
  BOOST_TEST(!read(to_end).index);
  std::string tiny = box;
  tiny[3] = 4;  // smaller than its own header
  BOOST_TEST(!read(tiny).index);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(on_demand_rewrite)

namespace {

const char* const kManifest = "http://origin.example/vod/show/manifest.mpd";

// A file per URL, read by range as the origin would answer.
struct FakeOrigin {
  std::map<std::string, std::string> files;
  std::vector<std::string> asked;
  MpdRewriteOptions::IndexFetcher fetcher() {
    return [this](const std::string& url, const ByteSpan& range, std::chrono::milliseconds,
                  std::string& error) -> std::optional<std::string> {
      asked.push_back(url + " " + byte_span_text(range));
      const auto f = files.find(url);
      if (f == files.end()) {
        error = "origin answered 404 to a byte range";
        return std::nullopt;
      }
      if (range.first >= f->second.size()) {
        error = "origin answered 416 to a byte range";
        return std::nullopt;
      }
      return f->second.substr(range.first, range.size());
    };
  }
};

// init of `init_size` bytes, sidx at init_size, then the fragments' bytes.
std::string file(std::size_t init_size, const std::string& index) {
  return std::string(init_size, 'i') + index + std::string(100000, 'm');
}

MpdRewriteOptions options(FakeOrigin& origin, std::string query = "") {
  MpdRewriteOptions o;
  o.manifest_url = kManifest;
  o.manifest_query = std::move(query);
  o.fetch_index = origin.fetcher();
  return o;
}

std::string doc(const std::string& period) {
  return "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" "
         "mediaPresentationDuration=\"PT6S\" profiles=\"urn:mpeg:dash:profile:isoff-on-demand:2011\">\n" +
         period + "\n</MPD>\n";
}

std::string rep(const std::string& id, const std::string& base, const std::string& segment_base) {
  return "<Representation id=\"" + id + "\" bandwidth=\"1\"><BaseURL>" + base + "</BaseURL>" + segment_base +
         "</Representation>";
}

std::string range_url(const std::string& span, const std::string& dir, const std::string& file) {
  return "/media/" + span + "/" + encode_url(dir) + "/" + file;
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

const std::string kDir = "http://origin.example/vod/show/";

}  // namespace

BOOST_AUTO_TEST_CASE(segment_base_becomes_a_segment_list_of_range_urls) {
  FakeOrigin origin;
  const std::string index = sidx(0, 12800, 0, 0, {{1000, 25600}, {2000, 25600}, {3000, 12800}});
  origin.files[kDir + "video.mp4"] = file(922, index);
  const std::string in = doc("<Period><AdaptationSet>" +
                             rep("0", "video.mp4",
                                 "<SegmentBase indexRange=\"922-" + std::to_string(922 + index.size() - 1) +
                                     "\" indexRangeExact=\"true\" timescale=\"12800\">"
                                     "<Initialization range=\"0-921\"/></SegmentBase>") +
                             "</AdaptationSet></Period>");
  const MpdRewriteResult r = rewrite_mpd(in, options(origin));
  BOOST_TEST(r.on_demand_expanded == 1u);
  BOOST_TEST(r.on_demand_kept == 0u);
  BOOST_TEST(origin.asked.size() == 1u);
  BOOST_TEST(r.xml.find("<SegmentBase") == std::string::npos, r.xml);
  BOOST_TEST(r.xml.find("<SegmentList timescale=\"12800\">") != std::string::npos, r.xml);
  BOOST_TEST(r.xml.find("sourceURL=\"" + range_url("0-921", kDir, "video.mp4") + "\"") != std::string::npos, r.xml);
  const std::uint64_t a = 922 + index.size();
  BOOST_TEST(r.xml.find(range_url(std::to_string(a) + "-" + std::to_string(a + 999), kDir, "video.mp4")) !=
             std::string::npos);
  BOOST_TEST(r.xml.find(range_url(std::to_string(a + 3000) + "-" + std::to_string(a + 5999), kDir, "video.mp4")) !=
             std::string::npos);
  BOOST_TEST(count(r.xml, "<SegmentURL ") == 3u);
  // One S per subsegment (no @r: see on_demand.cpp), the first with its time.
  BOOST_TEST(r.xml.find("<S d=\"25600\" t=\"0\"/>") != std::string::npos, r.xml);
  BOOST_TEST(count(r.xml, "<S d=\"25600\"/>") == 1u, r.xml);
  BOOST_TEST(r.xml.find("<S d=\"12800\"/>") != std::string::npos, r.xml);
}

BOOST_AUTO_TEST_CASE(presentation_time_offset_is_rescaled_to_the_sidx_timescale) {
  FakeOrigin origin;
  const std::string index = sidx(1, 90000, 900000, 0, {{1000, 180000}});
  origin.files[kDir + "v.mp4"] = file(500, index);
  const std::string range = "500-" + std::to_string(500 + index.size() - 1);
  MpdRewriteResult r = rewrite_mpd(
      doc("<Period><AdaptationSet>" +
          rep("0", "v.mp4", "<SegmentBase indexRange=\"" + range + "\" timescale=\"1000\" presentationTimeOffset=\"10000\"/>") +
          "</AdaptationSet></Period>"),
      options(origin));
  BOOST_TEST(r.on_demand_expanded == 1u);
  BOOST_TEST(r.xml.find("presentationTimeOffset=\"900000\"") != std::string::npos, r.xml);
  BOOST_TEST(r.xml.find("timescale=\"90000\"") != std::string::npos);
  // Without Initialization the init segment is what precedes the index.
  BOOST_TEST(r.xml.find(range_url("0-499", kDir, "v.mp4")) != std::string::npos, r.xml);

  // An offset the sidx timescale cannot express keeps the Representation.
  r = rewrite_mpd(doc("<Period><AdaptationSet>" +
                      rep("0", "v.mp4", "<SegmentBase indexRange=\"" + range +
                                            "\" timescale=\"7\" presentationTimeOffset=\"1\"/>") +
                      "</AdaptationSet></Period>"),
                  options(origin));
  BOOST_TEST(r.on_demand_kept == 1u);
  BOOST_TEST(r.xml.find("<SegmentBase") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unreadable_index_leaves_the_representation_exactly_as_without_expansion) {
  FakeOrigin origin;
  std::string hostile = sidx(0, 1000, 0, 0, {{10, 10}}, 40000);
  origin.files[kDir + "bad.mp4"] = file(100, hostile);
  const std::string in = doc("<Period><AdaptationSet>" +
                             rep("0", "bad.mp4", "<SegmentBase indexRange=\"100-" +
                                                     std::to_string(100 + hostile.size() - 1) + "\"/>") +
                             rep("1", "missing.mp4", "<SegmentBase indexRange=\"100-200\"/>") +
                             rep("2", "no-index.mp4", "<SegmentBase/>") +
                             rep("3", "other.mp4", "<SegmentBase indexRange=\"100-200\"><RepresentationIndex sourceURL=\"i.sidx\"/></SegmentBase>") +
                             rep("4", "init.mp4", "<SegmentBase indexRange=\"100-200\"><Initialization sourceURL=\"i.mp4\"/></SegmentBase>") +
                             rep("5", "z.mp4", "<SegmentBase indexRange=\"0-200\"/>") +
                             "</AdaptationSet></Period>");
  const MpdRewriteResult r = rewrite_mpd(in, options(origin));
  MpdRewriteOptions plain = options(origin);
  plain.fetch_index = nullptr;
  BOOST_TEST(r.on_demand_expanded == 0u);
  BOOST_TEST(r.on_demand_kept == 6u);
  BOOST_TEST(r.on_demand_reason.find("sidx") != std::string::npos, r.on_demand_reason);
  BOOST_TEST(r.xml == rewrite_mpd(in, plain).xml);
  // Only the two with an index range in the same file and an init before it were read.
  BOOST_TEST(origin.asked.size() == 2u);
}

// Issue #12 item 1: a read is bounded by what is left of the budget, so a
// stalling origin costs the MPD the budget, not an origin timeout per
// Representation (the reader is given the time left as its own limit).
BOOST_AUTO_TEST_CASE(each_index_read_is_given_what_is_left_of_the_budget) {
  FakeOrigin origin;
  const std::string index = sidx(0, 12800, 0, 0, {{1000, 25600}});
  const std::string range = "922-" + std::to_string(922 + index.size() - 1);
  std::string reps;
  for (int i = 0; i < 6; ++i) {
    origin.files[kDir + "v" + std::to_string(i) + ".mp4"] = file(922, index);
    reps += rep(std::to_string(i), "v" + std::to_string(i) + ".mp4", "<SegmentBase indexRange=\"" + range + "\"/>");
  }
  MpdRewriteOptions o = options(origin);
  o.index_read_budget = std::chrono::milliseconds(300);
  std::vector<std::chrono::milliseconds> given;
  const auto inner = origin.fetcher();
  o.fetch_index = [&](const std::string& url, const ByteSpan& span, std::chrono::milliseconds left, std::string& error) {
    given.push_back(left);
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    return inner(url, span, left, error);
  };
  const MpdRewriteResult r = rewrite_mpd(doc("<Period><AdaptationSet>" + reps + "</AdaptationSet></Period>"), o);
  BOOST_TEST(given.size() >= 1u);
  BOOST_TEST(given.size() <= 3u);  // each read takes at least 120 ms of the 300
  for (std::size_t i = 0; i < given.size(); ++i) {
    BOOST_TEST(given[i].count() > 0);
    BOOST_TEST(given[i].count() <= 300);
    if (i) BOOST_TEST(given[i].count() <= given[i - 1].count() - 120);
  }
  BOOST_TEST(r.on_demand_kept == 6u - given.size());
}

BOOST_AUTO_TEST_CASE(an_index_range_too_large_to_read_is_not_read) {
  FakeOrigin origin;
  MpdRewriteOptions o = options(origin);
  o.max_index_bytes = 1000;
  const MpdRewriteResult r = rewrite_mpd(
      doc("<Period><AdaptationSet>" + rep("0", "v.mp4", "<SegmentBase indexRange=\"10-1009\"/>") +
          rep("1", "w.mp4", "<SegmentBase indexRange=\"10-9223372036854775807\"/>") + "</AdaptationSet></Period>"),
      o);
  BOOST_TEST(r.on_demand_kept == 2u);
  BOOST_TEST(origin.asked.size() == 1u);  // 1000 bytes is within the bound
}

BOOST_AUTO_TEST_CASE(an_inexact_index_range_is_read_again_to_the_sidx_end) {
  FakeOrigin origin;
  const std::string index = sidx(0, 1000, 0, 0, {{10, 10}, {20, 10}, {30, 10}});
  origin.files[kDir + "v.mp4"] = file(200, index);
  const MpdRewriteResult r = rewrite_mpd(
      doc("<Period><AdaptationSet>" + rep("0", "v.mp4", "<SegmentBase indexRange=\"200-239\"/>") +
          "</AdaptationSet></Period>"),
      options(origin));
  BOOST_TEST(r.on_demand_expanded == 1u, r.on_demand_reason);
  BOOST_REQUIRE(origin.asked.size() == 2u);
  BOOST_TEST(origin.asked[1].find(" 200-" + std::to_string(200 + index.size() - 1)) != std::string::npos);

  FakeOrigin exact;
  exact.files[kDir + "v.mp4"] = file(200, index);
  const MpdRewriteResult e = rewrite_mpd(
      doc("<Period><AdaptationSet>" +
          rep("0", "v.mp4", "<SegmentBase indexRange=\"200-239\" indexRangeExact=\"true\"/>") +
          "</AdaptationSet></Period>"),
      options(exact));
  BOOST_TEST(e.on_demand_kept == 1u);
  BOOST_TEST(exact.asked.size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_inherited_segment_base_is_lifted_and_copied_into_siblings_left_alone) {
  FakeOrigin origin;
  const std::string index = sidx(0, 1000, 0, 0, {{10, 10}});
  origin.files[kDir + "a.mp4"] = file(50, index);  // b.mp4 is missing
  const std::string range = "50-" + std::to_string(50 + index.size() - 1);
  const MpdRewriteResult r = rewrite_mpd(
      doc("<Period><AdaptationSet><SegmentBase indexRange=\"" + range +
          "\" timescale=\"1000\"><Initialization range=\"0-49\"/></SegmentBase>"
          "<Representation id=\"a\" bandwidth=\"1\"><BaseURL>a.mp4</BaseURL></Representation>"
          "<Representation id=\"b\" bandwidth=\"1\"><BaseURL>b.mp4</BaseURL></Representation>"
          "</AdaptationSet></Period>"),
      options(origin));
  BOOST_TEST(r.on_demand_expanded == 1u);
  BOOST_TEST(r.on_demand_kept == 1u);
  BOOST_TEST(count(r.xml, "<SegmentList") == 1u, r.xml);
  // The AdaptationSet's SegmentBase is gone; b has its own copy of it.
  BOOST_TEST(count(r.xml, "<SegmentBase") == 1u, r.xml);
  const auto b = r.xml.find("id=\"b\"");
  BOOST_TEST(r.xml.find("<SegmentBase", b) != std::string::npos, r.xml);
  BOOST_TEST(r.xml.find("<Initialization range=\"0-49\"/>", b) != std::string::npos, r.xml);
  BOOST_TEST(r.xml.find("timescale=\"1000\"", b) != std::string::npos, r.xml);
}

BOOST_AUTO_TEST_CASE(a_segment_base_shared_with_a_template_is_left_alone) {
  FakeOrigin origin;
  origin.files[kDir + "a.mp4"] = file(50, sidx(0, 1000, 0, 0, {{10, 10}}));
  const MpdRewriteResult r = rewrite_mpd(
      doc("<Period><AdaptationSet><SegmentBase indexRange=\"50-81\" timescale=\"1000\"/>"
          "<Representation id=\"a\" bandwidth=\"1\"><BaseURL>a.mp4</BaseURL></Representation>"
          "<Representation id=\"t\" bandwidth=\"1\"><SegmentTemplate media=\"t-$Number$.m4s\" duration=\"2\"/></Representation>"
          "</AdaptationSet></Period>"),
      options(origin));
  BOOST_TEST(r.on_demand_expanded == 0u);
  BOOST_TEST(r.on_demand_kept == 1u);
  BOOST_TEST(origin.asked.empty());
}

BOOST_AUTO_TEST_CASE(every_period_and_base_url_level_is_resolved_and_the_query_carried) {
  FakeOrigin origin;
  const std::string index = sidx(0, 1000, 0, 0, {{10, 10}, {10, 10}});
  const std::string range = "50-" + std::to_string(50 + index.size() - 1);
  origin.files["http://cdn.example/p1/v.mp4?tok=1"] = file(50, index);
  origin.files["http://origin.example/vod/p2/a/v.mp4?tok=1"] = file(50, index);
  const MpdRewriteResult r = rewrite_mpd(
      doc("<Period><BaseURL>http://cdn.example/p1/</BaseURL><AdaptationSet>" +
          rep("0", "v.mp4", "<SegmentBase indexRange=\"" + range + "\"/>") +
          "</AdaptationSet></Period><Period><BaseURL>../p2/</BaseURL><AdaptationSet><BaseURL>a/</BaseURL>" +
          rep("1", "v.mp4", "<SegmentBase indexRange=\"" + range + "\"/>") + "</AdaptationSet></Period>"),
      options(origin, "tok=1"));
  BOOST_TEST(r.on_demand_expanded == 2u, r.on_demand_reason);
  BOOST_REQUIRE(origin.asked.size() == 2u);
  BOOST_TEST(origin.asked[0] == "http://cdn.example/p1/v.mp4?tok=1 " + range);
  BOOST_TEST(r.xml.find(range_url("0-49", "http://cdn.example/p1/?tok=1", "v.mp4")) != std::string::npos, r.xml);
  BOOST_TEST(r.xml.find(range_url("0-49", "http://origin.example/vod/p2/a/?tok=1", "v.mp4")) != std::string::npos,
             r.xml);
}

BOOST_AUTO_TEST_CASE(the_mpd_as_a_whole_lists_a_bounded_number_of_subsegments) {
  FakeOrigin origin;
  const std::string index = sidx(0, 1000, 0, 0, std::vector<Ref>(30, Ref{10, 10}));
  const std::string range = "50-" + std::to_string(50 + index.size() - 1);
  origin.files[kDir + "a.mp4"] = file(50, index);
  origin.files[kDir + "b.mp4"] = file(50, index);
  MpdRewriteOptions o = options(origin);
  o.max_subsegments = 45;
  const MpdRewriteResult r = rewrite_mpd(
      doc("<Period><AdaptationSet>" + rep("a", "a.mp4", "<SegmentBase indexRange=\"" + range + "\"/>") +
          rep("b", "b.mp4", "<SegmentBase indexRange=\"" + range + "\"/>") + "</AdaptationSet></Period>"),
      o);
  BOOST_TEST(r.on_demand_expanded == 1u);
  BOOST_TEST(r.on_demand_kept == 1u);
  BOOST_TEST(count(r.xml, "<SegmentURL ") == 30u);
}


BOOST_AUTO_TEST_CASE(index_reads_per_rewrite_are_bounded_in_number_and_time) {
  FakeOrigin origin;
  const std::string index = sidx(0, 1000, 0, 0, {{10, 10}});
  const std::string range = "50-" + std::to_string(50 + index.size() - 1);
  std::string reps;
  for (int i = 0; i < 5; ++i) {
    origin.files[kDir + "f" + std::to_string(i) + ".mp4"] = file(50, index);
    reps += rep(std::to_string(i), "f" + std::to_string(i) + ".mp4", "<SegmentBase indexRange=\"" + range + "\"/>");
  }
  MpdRewriteOptions o = options(origin);
  o.max_index_reads = 3;
  MpdRewriteResult r = rewrite_mpd(doc("<Period><AdaptationSet>" + reps + "</AdaptationSet></Period>"), o);
  BOOST_TEST(r.on_demand_expanded == 3u);
  BOOST_TEST(r.on_demand_kept == 2u);
  BOOST_TEST(origin.asked.size() == 3u);

  // A slow origin: once the budget is spent no further read starts.
  FakeOrigin slow = origin;
  slow.asked.clear();
  MpdRewriteOptions t = options(slow);
  auto inner = t.fetch_index;
  t.fetch_index = [inner](const std::string& url, const ByteSpan& range, std::chrono::milliseconds left,
                          std::string& error) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    return inner(url, range, left, error);
  };
  // The first read starts at once; it outlasts the budget (150 ms against
  // 100), so no second one starts, however loaded the machine.
  t.index_read_budget = std::chrono::milliseconds(100);
  r = rewrite_mpd(doc("<Period><AdaptationSet>" + reps + "</AdaptationSet></Period>"), t);
  BOOST_TEST(slow.asked.size() == 1u);
  BOOST_TEST(r.on_demand_expanded == 1u);
  BOOST_TEST(r.on_demand_kept == 4u);
  BOOST_TEST(r.on_demand_reason.find("at their bound") != std::string::npos, r.on_demand_reason);
}

BOOST_AUTO_TEST_SUITE_END()
