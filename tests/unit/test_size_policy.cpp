// The size policy and the output plan (issue 14): one answer to "may this box
// change size?", and a length that is known before the first byte and then
// kept, on the real fixture segments.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "bmff_test_support.h"
#include "piff/segment_patcher.h"
#include "piff/size_policy.h"

using namespace dashpiff;
using namespace testbmff;

namespace {

Bytes load(const std::string& stream, const std::string& file) {
  const char* data = std::getenv("DASHPIFF_TEST_DATA");
  BOOST_REQUIRE_MESSAGE(data, "DASHPIFF_TEST_DATA is not set (make check sets it)");
  const std::string path = std::string(data) + "/streams/" + stream + "/" + file;
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes concat(const Bytes& a, const Bytes& b) {
  Bytes out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

struct Planned {
  std::optional<OutputPlan> plan;
  std::size_t bytes_before_plan = 0;  // sink calls before the plan: must stay 0
  Bytes out;
  PatchStats stats;
};

// Patches `in` in chunks with a Decided callback and the input's length.
Planned run(const Bytes& in, PiffMode m, bool tell_length = true, std::size_t chunk = 1000) {
  Planned r;
  PatchOptions o;
  o.mode = m;
  if (tell_length) o.input_length = in.size();
  SegmentPatcher p(
      o,
      [&](const std::uint8_t* d, std::size_t n) {
        if (!r.plan) r.bytes_before_plan += n;
        r.out.insert(r.out.end(), d, d + n);
        return true;
      },
      [&](const OutputPlan& plan) {
        BOOST_TEST(!r.plan.has_value(), "decided twice");
        r.plan = plan;
      });
  for (std::size_t at = 0; at < in.size(); at += chunk) p.feed(in.data() + at, std::min(chunk, in.size() - at));
  p.finish();
  r.stats = p.stats();
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(size_policy)

BOOST_AUTO_TEST_CASE(one_verdict_from_mode_request_and_promises) {
  BOOST_TEST(SizePolicy(PiffMode::free, false).preserves_size());
  BOOST_TEST(SizePolicy(PiffMode::off, false).preserves_size());
  BOOST_TEST(SizePolicy(PiffMode::convert, true).preserves_size());
  SizePolicy p(PiffMode::automatic, false);
  BOOST_TEST(!p.preserves_size());
  BOOST_TEST(p.may_resize(0));
  p.lock_until(100, "a sidx covers it");
  BOOST_TEST(p.blocker(99) == "a sidx covers it");
  BOOST_TEST(p.may_resize(100));
  p.lock_until(50, "shorter lock loses");
  BOOST_TEST(p.blocker(10) == "a sidx covers it");
  p.lock_all("a length was promised");
  BOOST_TEST(p.blocker(1u << 30) == "a length was promised");
  BOOST_TEST(!SizePolicy(PiffMode::free, false).may_resize(0));
  BOOST_TEST(!SizePolicy(PiffMode::convert, true).may_resize(0));
}

BOOST_AUTO_TEST_CASE(one_fragment_gets_its_exact_length_before_the_first_byte) {
  for (PiffMode m : {PiffMode::free, PiffMode::uuid_free, PiffMode::convert, PiffMode::automatic}) {
    for (const std::string stream : {"clear", "cenc-piff", "piff-only", "piff-only-aux", "piff-override-iv16"}) {
      BOOST_TEST_CONTEXT(to_string(m) << " " << stream) {
        const Bytes in = load(stream, "seg-0-1.m4s");
        const Planned r = run(in, m);
        BOOST_REQUIRE(r.plan.has_value());
        BOOST_TEST(r.bytes_before_plan == 0u);
        BOOST_REQUIRE(r.plan->length.has_value());
        BOOST_TEST(*r.plan->length == r.out.size());
        BOOST_TEST(r.plan->identical == (r.out == in));
        BOOST_TEST(r.out == patch(in, [&] { PatchOptions o; o.mode = m; return o; }()));  // same bytes as unplanned
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(init_segments_are_converted_whole_with_their_length) {
  for (const std::string file : {"init-0.mp4", "init-1.mp4"}) {
    const Bytes in = load("piff-init", file);
    const Planned r = run(in, PiffMode::convert);
    BOOST_REQUIRE(r.plan && r.plan->length);
    BOOST_TEST(*r.plan->length == r.out.size());
    BOOST_TEST((r.out != in));  // the PIFF init boxes became CENC ones
    BOOST_TEST(!r.plan->identical);
  }
}

BOOST_AUTO_TEST_CASE(resized_first_fragment_of_several_streams_chunked_and_converts_all) {
  const Bytes in = concat(load("piff-only", "seg-0-1.m4s"), load("piff-only", "seg-0-2.m4s"));
  const Planned r = run(in, PiffMode::convert);
  BOOST_REQUIRE(r.plan.has_value());
  BOOST_TEST(!r.plan->length.has_value());
  BOOST_TEST(r.stats.piff_converted >= 2u);
  BOOST_TEST(r.stats.passthrough_events == 0u);
  BOOST_TEST(r.out.size() > in.size());
}

BOOST_AUTO_TEST_CASE(promised_length_locks_later_fragments) {
  // First fragment keeps its size (CENC beside PIFF: neutralised), so the
  // input's length is promised; the PIFF-only fragment after it must then
  // keep its size too, and is left unconverted rather than break the promise.
  const Bytes in = concat(load("cenc-piff", "seg-0-1.m4s"), load("piff-only", "seg-0-2.m4s"));
  const Planned r = run(in, PiffMode::automatic);
  BOOST_REQUIRE(r.plan && r.plan->length);
  BOOST_TEST(*r.plan->length == in.size());
  BOOST_TEST(r.out.size() == in.size());
  BOOST_TEST(!r.plan->identical);
  BOOST_TEST(r.stats.passthrough_events >= 1u);
  BOOST_TEST(r.stats.passthrough_reason.find("Content-Length was promised") != std::string::npos,
             r.stats.passthrough_reason);
}

BOOST_AUTO_TEST_CASE(several_unchanged_fragments_promise_the_input_length) {
  const Bytes in = load("multi-moof", "seg-0-1.m4s");
  for (PiffMode m : {PiffMode::free, PiffMode::automatic, PiffMode::convert}) {
    const Planned r = run(in, m);
    BOOST_REQUIRE(r.plan && r.plan->length);
    BOOST_TEST(*r.plan->length == r.out.size());
    BOOST_TEST(!r.plan->identical);  // later fragments were not known when it was made
  }
}

BOOST_AUTO_TEST_CASE(unknown_input_length_gives_no_length_unless_all_was_held) {
  const Bytes in = load("piff-only", "seg-0-1.m4s");
  const Planned r = run(in, PiffMode::convert, false);
  BOOST_REQUIRE(r.plan.has_value());
  BOOST_TEST(!r.plan->length.has_value());  // the mdat after the moof could be any length
  BOOST_TEST(r.bytes_before_plan == 0u);
  // An init segment ends with its moov: nothing follows, all was held.
  const Bytes init = load("piff-init", "init-0.mp4");
  const Planned i = run(init, PiffMode::convert, false);
  BOOST_REQUIRE(i.plan && i.plan->length);
  BOOST_TEST(*i.plan->length == i.out.size());
}

BOOST_AUTO_TEST_CASE(off_mode_and_garbage_are_identical_with_the_input_length) {
  const Bytes in = load("piff-only", "seg-0-1.m4s");
  const Planned off = run(in, PiffMode::off);
  BOOST_REQUIRE(off.plan && off.plan->length);
  BOOST_TEST(off.plan->identical);
  BOOST_TEST(*off.plan->length == in.size());
  Bytes text(5000, 'x');
  text[0] = text[1] = text[2] = 0;
  text[3] = 3;  // a box size under 8: not ISO BMFF
  const Planned junk = run(text, PiffMode::convert);
  BOOST_REQUIRE(junk.plan && junk.plan->length);
  BOOST_TEST(junk.plan->identical);
  BOOST_TEST(junk.out == text);
}

BOOST_AUTO_TEST_SUITE_END()
