// The one relocation mechanism (piff/relocation.h): where bytes go when parts
// of a sequence change size, and how offsets and sizes follow them.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <vector>

#include "bmff/box.h"
#include "piff/relocation.h"

using dashpiff::FieldUpdate;
using dashpiff::OffsetField;
using dashpiff::Relocation;

BOOST_AUTO_TEST_SUITE(relocation)

BOOST_AUTO_TEST_CASE(bytes_after_a_resized_replacement_move_by_its_change) {
  Relocation r;
  BOOST_TEST(r.add(100, 20, 60));  // +40
  BOOST_TEST(r.add(200, 10, 0));   // -10
  BOOST_TEST(*r.map(0) == 0u);
  BOOST_TEST(*r.map(100) == 100u);   // the replacement's first byte stays
  BOOST_TEST(!r.map(101));           // inside it: no longer the same byte
  BOOST_TEST(*r.map(120) == 160u);
  BOOST_TEST(*r.map(200) == 240u);
  BOOST_TEST(*r.map(210) == 240u);
  BOOST_TEST(*r.map(1000) == 1030u);
  BOOST_TEST(r.delta() == 30);
}

BOOST_AUTO_TEST_CASE(an_insertion_lands_before_the_byte_at_its_offset) {
  Relocation r;
  BOOST_TEST(r.add(50, 0, 8));
  BOOST_TEST(*r.map(49) == 49u);
  BOOST_TEST(*r.map(50) == 58u);
}

BOOST_AUTO_TEST_CASE(same_size_replacements_move_nothing) {
  Relocation r;
  BOOST_TEST(r.add(10, 4, 4));
  BOOST_TEST(!r.resizes());
  BOOST_TEST(*r.map(12) == 12u);
}

BOOST_AUTO_TEST_CASE(replacements_must_ascend_without_overlap) {
  Relocation r;
  BOOST_TEST(r.add(100, 20, 30));
  BOOST_TEST(!r.add(110, 4, 8));
  BOOST_TEST(!r.add(50, 0, 8));
  BOOST_TEST(r.steps() == 1u);
}

BOOST_AUTO_TEST_CASE(offsets_and_sizes_follow_alike) {
  Relocation r;
  r.add(100, 20, 60);  // +40
  FieldUpdate u{};
  std::string error;
  // An offset from 0 to past the change, a size spanning it, a size before it.
  OffsetField offset{8, 4, 32, 0, 500, "offset"};
  OffsetField named = offset;
  named.box = dashpiff::bmff::fourcc("moof");
  named.traf = 2;
  BOOST_TEST(named.name() == "traf#2 'moof' offset");
  BOOST_TEST(relocate(offset, r, u, error));
  BOOST_TEST(u.value == 540u);
  OffsetField span{0, 4, 32, 90, 100, "size"};
  BOOST_TEST(relocate(span, r, u, error));
  BOOST_TEST(u.value == 140u);
  OffsetField before{0, 4, 32, 0, 100, "before"};
  BOOST_TEST(relocate(before, r, u, error));
  BOOST_TEST(u.value == 100u);
  OffsetField inside{0, 4, 32, 0, 110, "inside"};
  BOOST_TEST(!relocate(inside, r, u, error));
  BOOST_TEST(error == "inside points into a rewritten box");
}

BOOST_AUTO_TEST_CASE(a_value_that_outgrows_its_bits_is_refused) {
  Relocation r;
  r.add(100, 0, 16);
  FieldUpdate u{};
  std::string error;
  OffsetField f{0, 4, 31, 0, 0x7ffffff8u, "data_offset"};
  BOOST_TEST(!relocate(f, r, u, error));
  BOOST_TEST(error == "data_offset out of range after the rewrite");
}

BOOST_AUTO_TEST_CASE(storing_keeps_the_bits_above_the_value) {
  std::vector<std::uint8_t> b{0x80, 0, 0x01, 0x00, 0xaa};
  dashpiff::store_field(b.data(), FieldUpdate{0, 4, 31, 0x300});
  BOOST_TEST((b == std::vector<std::uint8_t>{0x80, 0, 0x03, 0x00, 0xaa}));
  std::vector<std::uint8_t> w(8, 0xff);
  dashpiff::store_field(w.data(), FieldUpdate{0, 8, 64, 0x0102030405060708ull});
  BOOST_TEST((w == std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

BOOST_AUTO_TEST_SUITE_END()
