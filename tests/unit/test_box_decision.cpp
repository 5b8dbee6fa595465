// "Hold, forward or give up" from a top-level box header alone
// (piff/box_decision.h), case by case.
#include <boost/test/unit_test.hpp>

#include <string>

#include "piff/box_decision.h"

using namespace dashpiff;
namespace bm = dashpiff::bmff;

BOOST_TEST_DONT_PRINT_LOG_VALUE(dashpiff::BoxAction)

namespace {

bm::BoxHeader header(const std::string& type, std::uint64_t size,
                     bm::SizeForm form = bm::SizeForm::compact) {
  bm::BoxHeader h;
  h.type = bm::load_u32(reinterpret_cast<const std::uint8_t*>(type.data()));
  h.size = size;
  h.header_size = 8;
  h.form = form;
  return h;
}

PatchOptions options(std::size_t max_held = 1000) {
  PatchOptions o;
  o.max_held_box = max_held;
  return o;
}

StreamFacts facts(bool may_resize, bool moved) {
  StreamFacts f;
  f.may_resize = may_resize;
  f.moofs_moved = moved;
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(box_decision)

BOOST_AUTO_TEST_CASE(moof_and_moov_are_held_up_to_max_held_box) {
  for (const char* type : {"moof", "moov"}) {
    bm::BoxHeader h = header(type, 1000);
    BOOST_TEST(decide_box(h, options(), facts(false, false)).action == BoxAction::hold);
    h.size = 1001;
    const BoxDecision d = decide_box(h, options(), facts(true, true));
    BOOST_TEST(d.action == BoxAction::give_up);
    BOOST_TEST(d.reason.find("exceeds max_held_box (1000)") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_moof_to_the_end_of_the_stream_cannot_be_held) {
  const BoxDecision d =
      decide_box(header("moof", 0, bm::SizeForm::to_end), options(), facts(true, false));
  BOOST_TEST(d.action == BoxAction::give_up);
  BOOST_TEST(d.reason == "moof with size 0 (to end of stream) passed through");
}

BOOST_AUTO_TEST_CASE(mdat_and_other_boxes_are_forwarded_whatever_their_size) {
  for (const char* type : {"mdat", "styp", "free", "emsg", "uuid"}) {
    const BoxDecision d = decide_box(header(type, 1u << 30), options(), facts(true, true));
    BOOST_TEST(d.action == BoxAction::forward, type);
    BOOST_TEST(d.reason.empty());
  }
  BOOST_TEST(decide_box(header("mdat", 0, bm::SizeForm::to_end), options(), facts(true, true)).action ==
             BoxAction::forward);
}

BOOST_AUTO_TEST_CASE(a_sidx_is_held_only_where_sizes_may_still_change) {
  BOOST_TEST(decide_box(header("sidx", 500), options(), facts(true, false)).action == BoxAction::hold);
  BOOST_TEST(decide_box(header("sidx", 500), options(), facts(false, false)).action ==
             BoxAction::forward);
  // Its own cap, not max_held_box.
  BOOST_TEST(decide_box(header("sidx", kMaxHeldSidx), options(10), facts(true, false)).action ==
             BoxAction::hold);
  BOOST_TEST(decide_box(header("sidx", kMaxHeldSidx + 1), options(), facts(true, false)).action ==
             BoxAction::forward);
  BOOST_TEST(decide_box(header("sidx", 0, bm::SizeForm::to_end), options(), facts(true, false)).action ==
             BoxAction::forward);
}

BOOST_AUTO_TEST_CASE(an_mfra_is_held_only_after_a_moof_moved) {
  BOOST_TEST(decide_box(header("mfra", 900), options(), facts(true, false)).action ==
             BoxAction::forward);
  BOOST_TEST(decide_box(header("mfra", 900), options(), facts(false, true)).action == BoxAction::hold);
  const BoxDecision d = decide_box(header("mfra", 2000), options(), facts(false, true));
  BOOST_TEST(d.action == BoxAction::give_up);
  BOOST_TEST(d.reason == "mfra of 2000 bytes cannot be held; its tfra offsets are stale");
}

BOOST_AUTO_TEST_SUITE_END()
