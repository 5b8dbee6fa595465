// One round trip per box description (bmff/fields.h), in all three modes:
// the payload is built here byte by byte from the clause cited, read, written
// back (identical bytes, under the box's own 4CC) and located (the fields
// tile the payload, and the fields the engine patches lie where the clause
// puts them).
#include <boost/test/unit_test.hpp>

#include "bmff/box.h"
#include "bmff/fields.h"
#include "bmff_builder.h"

using namespace testbmff;
namespace bm = dashpiff::bmff;

BOOST_TEST_DONT_PRINT_LOG_VALUE(dashpiff::bmff::IvInference)

namespace {

Bytes kid_bytes(std::uint8_t first) {
  Bytes k;
  for (std::uint8_t i = 0; i < 16; ++i) k.push_back(std::uint8_t(first + i));
  return k;
}

// The box T writes for `payload`: its own header, then the payload.
template <class T>
Bytes as_box(const Bytes& payload) {
  if (T::kType == bm::fourcc("uuid")) {
    const bm::Uuid& u = bm::usertype_of(T::kUuid);
    return uuid_box(Bytes(u.begin(), u.end()), payload);
  }
  const std::string type = bm::fourcc_text(T::kType);
  return box(type.c_str(), payload);
}

// `t` has been read from `payload` by `at`: it must have taken every byte,
// each field must start where the one before ended, a plain read must agree,
// and writing must give back the payload under T's own header.
template <class T>
void expect_round_trip(T& t, const bm::FieldLocator& at, const Bytes& payload) {
  BOOST_TEST(at.remaining() == 0u);
  std::size_t end = 0;
  for (std::size_t i = 0; i < at.fields(); ++i) {
    BOOST_TEST(at.place(i).position == end, "field " << i);
    end = at.place(i).position + at.place(i).width;
  }
  BOOST_TEST(end == payload.size());

  auto read = bm::read_fields<T>(payload.data(), payload.size());
  BOOST_REQUIRE(read);
  read->seen_as(bm::BoxHeader{});  // the CENC form where there are two
  if constexpr (T::kPiffUuid != bm::UuidKind::other) read = t;

  Bytes out;
  const std::size_t size = bm::write_box(out, *read);
  BOOST_TEST(size == out.size());
  const Bytes expected = as_box<T>(payload);
  BOOST_TEST(out == expected, bm::fourcc_text(T::kType) << " written differently");

  // The box written is the box T describes, and reads back the same.
  std::string error;
  const auto tree = bm::parse_tree(out.data(), out.size(), error);
  BOOST_REQUIRE(tree);
  BOOST_TEST(bm::is_box<T>(tree->box.header));
  auto again = bm::read_box<T>(out.data(), tree->box);
  BOOST_REQUIRE(again);
  Bytes twice;
  bm::write_box(twice, *again);
  BOOST_TEST(twice == expected);
}

// A payload read in locate mode, kept in place (the locator names fields by
// their addresses); check() then makes the round trip.
template <class T>
struct RoundTrip {
  Bytes payload;
  T fields;
  bm::FieldLocator at;
  explicit RoundTrip(Bytes p) : payload(std::move(p)), at(payload.data(), payload.size()) {
    BOOST_REQUIRE(fields.io(at));
  }
  void check() { expect_round_trip(fields, at, payload); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(box_descriptions)

BOOST_AUTO_TEST_CASE(tfhd_with_every_optional_field) {  // §8.8.7
  Bytes body;
  put32(body, 7);              // track_ID
  put64(body, 0x123456789aull);  // base_data_offset
  put32(body, 1);              // sample_description_index
  put32(body, 1001);           // default_sample_duration
  put32(body, 4000);           // default_sample_size
  put32(body, 0x01010000);     // default_sample_flags
  RoundTrip<bm::Tfhd> r(full(0, 0x00003b, body));
  BOOST_TEST(r.fields.track_id == 7u);
  BOOST_TEST(r.fields.base_data_offset == 0x123456789aull);
  BOOST_TEST(r.at.where(r.fields.base_data_offset)->position == 8u);
  BOOST_TEST(r.at.where(r.fields.default_sample_flags)->position == 28u);
  r.check();
}

BOOST_AUTO_TEST_CASE(tfhd_default_base_is_moof_has_no_optional_fields) {
  Bytes body;
  put32(body, 2);
  RoundTrip<bm::Tfhd> r(full(0, bm::Tfhd::kDefaultBaseIsMoof, body));
  BOOST_TEST(!r.at.where(r.fields.base_data_offset));  // absent under the flags
  r.check();
}

BOOST_AUTO_TEST_CASE(trun_head_locates_data_offset) {  // §8.8.8
  Bytes body;
  put32(body, 0);           // sample_count: the head is the whole box
  put32(body, 0xfffffff8);  // data_offset -8
  put32(body, 0x02000000);  // first_sample_flags
  RoundTrip<bm::TrunHead> r(full(0, 0x000005, body));
  BOOST_TEST(r.fields.data_offset == -8);
  BOOST_TEST(r.at.where(r.fields.data_offset)->position == 8u);
  BOOST_TEST(r.at.where(r.fields.data_offset)->width == 4u);
  r.check();
}

BOOST_AUTO_TEST_CASE(saiz_with_aux_type_and_per_sample_sizes) {  // §8.7.8
  Bytes body;
  put4cc(body, "cenc");
  put32(body, 0);
  put8(body, 0);  // default_sample_info_size: sizes follow
  put32(body, 3);
  put8(body, 16);
  put8(body, 22);
  put8(body, 16);
  RoundTrip<bm::Saiz> r(full(0, 1, body));
  BOOST_TEST(r.fields.size_of(1) == 22u);
  r.check();
}

BOOST_AUTO_TEST_CASE(saiz_with_a_default_size) {
  Bytes body;
  put8(body, 8);
  put32(body, 5);
  RoundTrip<bm::Saiz> r(full(0, 0, body));
  BOOST_TEST(r.fields.size_of(4) == 8u);
  r.check();
}

BOOST_AUTO_TEST_CASE(saio_version_0_locates_its_offset) {  // §8.7.9
  Bytes body;
  put32(body, 1);
  put32(body, 0x4d2);
  RoundTrip<bm::Saio> r(full(0, 0, body));
  BOOST_TEST(r.at.where(r.fields.offsets[0])->position == 8u);
  BOOST_TEST(r.at.where(r.fields.offsets[0])->width == 4u);
  r.check();
}

BOOST_AUTO_TEST_CASE(saio_version_1_with_aux_type_locates_64_bit_offsets) {
  Bytes body;
  put4cc(body, "cenc");
  put32(body, 0);
  put32(body, 2);
  put64(body, 0x100000000ull);
  put64(body, 0x100000010ull);
  RoundTrip<bm::Saio> r(full(1, 1, body));
  BOOST_TEST(r.at.where(r.fields.offsets[0])->position == 16u);
  BOOST_TEST(r.at.where(r.fields.offsets[1])->position == 24u);
  BOOST_TEST(r.at.where(r.fields.offsets[1])->width == 8u);
  r.check();
}

BOOST_AUTO_TEST_CASE(a_32_bit_field_refuses_a_64_bit_value_on_write) {
  bm::Saio t;
  t.offsets = {0x100000000ull};  // version 0: 32-bit offsets
  Bytes out{1, 2, 3};
  BOOST_TEST(bm::write_box(out, t) == 0u);
  BOOST_TEST((out == Bytes{1, 2, 3}));  // nothing half-written
  t.full.version = 1;
  BOOST_TEST(bm::write_box(out, t) == 24u);  // header 8, version/flags 4, count 4, one u64
}

BOOST_AUTO_TEST_CASE(senc_locates_its_first_entry) {  // ISO/IEC 23001-7 §7.2
  Bytes body;
  put32(body, 1);
  put(body, Bytes{1, 2, 3, 4, 5, 6, 7, 8});  // IV
  put16(body, 1);
  put16(body, 5);
  put32(body, 100);
  RoundTrip<bm::SampleEncryption> r(full(0, bm::SampleEncryption::kSubsamples, body));
  BOOST_TEST(r.at.where(r.fields.entries)->position == 8u);
  BOOST_TEST(r.at.where(r.fields.entries)->width == 16u);
  r.check();
}

BOOST_AUTO_TEST_CASE(piff_sample_encryption_with_override_fields) {  // SPEC §3
  Bytes body;
  put24(body, 1);  // AlgorithmID
  put8(body, 8);   // IV_size
  put(body, kid_bytes(0x10));
  put32(body, 1);
  put(body, Bytes{9, 9, 9, 9, 9, 9, 9, 9});
  const Bytes p = full(0, bm::SampleEncryption::kOverride, body);
  bm::SampleEncryption t;
  t.piff = true;  // the override fields exist only in the PIFF form
  bm::FieldLocator at(p.data(), p.size());
  BOOST_REQUIRE(t.io(at));
  BOOST_TEST(t.has_override());
  BOOST_TEST(at.where(t.kid)->position == 8u);
  BOOST_TEST(at.where(t.entries)->position == 28u);
  BOOST_TEST(at.remaining() == 0u);
  // Read as PIFF through read_box, written back as PIFF fields.
  const Bytes whole = uuid_box(kPiffSenc, p);
  std::string error;
  const auto tree = bm::parse_tree(whole.data(), whole.size(), error);
  BOOST_REQUIRE(tree);
  const auto piff = bm::read_box<bm::SampleEncryption>(whole.data(), tree->box);
  BOOST_REQUIRE(piff);
  BOOST_TEST(piff->piff);
  BOOST_TEST(piff->iv_size == 8u);
  Bytes out;
  bm::FieldWriter w(out);
  auto copy = *piff;
  BOOST_TEST(copy.io(w));
  BOOST_TEST(out == p);
}

BOOST_AUTO_TEST_CASE(tenc_version_0) {  // ISO/IEC 23001-7 §8.2
  Bytes body{0, 0, 1, 8};
  put(body, kid_bytes(0x20));
  RoundTrip<bm::Tenc> r(full(0, 0, body));
  BOOST_TEST(r.fields.iv_size == 8u);
  r.check();
}

BOOST_AUTO_TEST_CASE(tenc_version_1_with_a_constant_iv) {
  Bytes body{0, 0x19, 1, 0};
  put(body, kid_bytes(0x20));
  put8(body, 16);
  put(body, kid_bytes(0x80));
  RoundTrip<bm::Tenc> r(full(1, 0, body));
  BOOST_TEST(r.fields.constant_iv.size() == 16u);
  r.check();
}

BOOST_AUTO_TEST_CASE(piff_tenc_is_written_as_its_uuid) {  // PIFF 1.1 §5.3.2
  Bytes body;
  put24(body, 2);
  put8(body, 16);
  put(body, kid_bytes(0x30));
  RoundTrip<bm::PiffTenc> r(full(0, 0, body));
  BOOST_TEST(r.fields.algorithm_id == 2u);
  r.check();
}

BOOST_AUTO_TEST_CASE(pssh_version_0) {  // ISO/IEC 23001-7 §8.1
  Bytes body = kid_bytes(0x9a);
  put32(body, 5);
  put(body, Bytes{'h', 'e', 'l', 'l', 'o'});
  RoundTrip<bm::Pssh> r(full(0, 0, body));
  BOOST_TEST(r.fields.data.size() == 5u);
  r.check();
}

BOOST_AUTO_TEST_CASE(pssh_version_1_with_kids) {
  Bytes body = kid_bytes(0xed);
  put32(body, 2);
  put(body, kid_bytes(1));
  put(body, kid_bytes(2));
  put32(body, 0);
  RoundTrip<bm::Pssh> r(full(1, 0, body));
  BOOST_TEST(r.fields.kids.size() == 2u);
  BOOST_TEST(r.at.where(r.fields.kids[1])->position == 40u);
  r.check();
}

BOOST_AUTO_TEST_CASE(schm_with_and_without_uri) {  // §8.12.5
  for (std::uint32_t flags : {0u, 1u}) {
    Bytes body;
    put4cc(body, "cenc");
    put32(body, 0x00010000);
    if (flags) put(body, Bytes{'u', 'r', 'n', ':', 'x', 0});
    RoundTrip<bm::Schm> r(full(0, flags, body));
    BOOST_TEST(r.fields.scheme_type == bm::fourcc("cenc"));
    r.check();
  }
}

BOOST_AUTO_TEST_CASE(sample_group_head) {  // §8.9.2/§8.9.3, first fields
  Bytes body;
  put4cc(body, "seig");
  RoundTrip<bm::SampleGroupHead> r(full(0, 0, body));
  BOOST_TEST(r.fields.grouping_type == bm::fourcc("seig"));
  r.check();
}

BOOST_AUTO_TEST_CASE(sbgp_with_one_run) {  // §8.9.2
  Bytes body;
  put4cc(body, "seig");
  put32(body, 1);
  put32(body, 5);
  put32(body, 0x10001);
  RoundTrip<bm::SbgpOneRun> r(full(0, 0, body));
  BOOST_TEST(r.fields.group_description_index == 0x10001u);
  r.check();
}

BOOST_AUTO_TEST_CASE(sgpd_with_one_seig_entry) {  // §8.9.3, ISO/IEC 23001-7 §6
  Bytes body;
  put4cc(body, "seig");
  put32(body, 20);
  put32(body, 1);
  put(body, Bytes{0, 0, 1, 16});
  put(body, kid_bytes(0x55));
  RoundTrip<bm::SgpdSeig> r(full(1, 0, body));
  BOOST_TEST(r.fields.iv_size == 16u);
  r.check();
}

BOOST_AUTO_TEST_CASE(sidx_versions_locate_the_first_reference) {  // §8.16.3
  for (unsigned version : {0u, 1u}) {
    Bytes body;
    put32(body, 1);      // reference_ID
    put32(body, 90000);  // timescale
    if (version == 0) {
      put32(body, 1234);
      put32(body, 0);
    } else {
      put64(body, 0x100000000ull);
      put64(body, 16);
    }
    put16(body, 0);
    put16(body, 2);
    for (std::uint32_t size : {5000u, 0x80000000u | 300u}) {
      put32(body, size);
      put32(body, 180000);
      put32(body, 0x90000000);
    }
    RoundTrip<bm::Sidx> r(full(version, 0, body));
    BOOST_TEST(r.fields.references[1].is_index());
    BOOST_TEST(r.at.where(r.fields.references[0].type_and_size)->position == (version == 0 ? 24u : 32u));
    r.check();
  }
}

BOOST_AUTO_TEST_CASE(tfra_versions_and_number_sizes_locate_moof_offsets) {  // §8.8.10
  struct Case {
    unsigned version;
    std::uint32_t lengths;
    std::size_t entry;
  };
  // 1-byte numbers; then 4-byte traf, 3-byte trun, 2-byte sample numbers.
  for (const Case c : {Case{0, 0x00, 4 + 4 + 3}, Case{1, 0x39, 8 + 8 + 4 + 3 + 2}}) {
    Bytes body;
    put32(body, 1);
    put32(body, c.lengths);
    put32(body, 2);
    for (std::uint64_t moof : {0x1000u, 0x2000u}) {
      Bytes e;
      if (c.version == 1) {
        put64(e, moof * 10);
        put64(e, moof);
      } else {
        put32(e, std::uint32_t(moof * 10));
        put32(e, std::uint32_t(moof));
      }
      const std::size_t numbers = c.entry - e.size();
      for (std::size_t i = 0; i < numbers; ++i) put8(e, i + 1 == numbers ? 1 : 0);
      put(body, e);
    }
    RoundTrip<bm::Tfra> r(full(c.version, 0, body));
    BOOST_TEST(r.fields.entries[1].moof_offset == 0x2000u);
    BOOST_TEST(r.fields.entries[1].sample_number == 1u);
    const std::size_t width = c.version == 1 ? 8 : 4;
    BOOST_TEST(r.at.where(r.fields.entries[1].moof_offset)->position == 16 + c.entry + width);
    BOOST_TEST(r.at.where(r.fields.entries[1].moof_offset)->width == width);
    r.check();
  }
}

BOOST_AUTO_TEST_CASE(tfra_refuses_more_entries_than_it_holds) {
  Bytes body;
  put32(body, 1);
  put32(body, 0);
  put32(body, 1000);
  put(body, Bytes(22, 0));
  const Bytes p = full(0, 0, body);
  BOOST_TEST(!bm::read_fields<bm::Tfra>(p.data(), p.size()));
}

BOOST_AUTO_TEST_CASE(read_box_refuses_another_box) {
  Bytes body;
  put32(body, 1);
  const Bytes b = box("trun", full(0, 0, body));
  std::string error;
  const auto tree = bm::parse_tree(b.data(), b.size(), error);
  BOOST_REQUIRE(tree);
  BOOST_TEST(!bm::read_box<bm::Tfhd>(b.data(), tree->box));
  BOOST_TEST(bm::read_box<bm::TrunHead>(b.data(), tree->box).has_value());
}

BOOST_AUTO_TEST_CASE(iv_size_inferred_only_when_one_size_fits) {  // SPEC §3
  bm::SampleEncryption se;
  se.sample_count = 2;
  se.entries = Bytes(16, 0xab);  // 2 x 8, or 1 x 16 (which leaves a sample out)
  bm::EntryLayout layout;
  BOOST_TEST(bm::infer_iv_size(se, nullptr, layout) == bm::IvInference::unique);
  BOOST_TEST(layout.iv_size == 8u);
  BOOST_TEST((layout.aux_sizes == std::vector<std::uint32_t>{8, 8}));
  se.entries = Bytes(48, 0xab);  // 2 x 16 + 16 left, or 3 x 16: neither is 2 entries
  BOOST_TEST(bm::infer_iv_size(se, nullptr, layout) == bm::IvInference::none);
  se.full.flags = bm::SampleEncryption::kSubsamples;
  // Sample 1: IV 8 + 0 subsamples | sample 2: IV 8 + 1 subsample (6):
  // 10 + 16 = 26 bytes; with IV 16: 18 then 8 bytes left, too few.
  se.entries = Bytes(8, 1);
  put16(se.entries, 0);
  put(se.entries, Bytes(8, 2));
  put16(se.entries, 1);
  put(se.entries, Bytes(6, 3));
  BOOST_TEST(bm::infer_iv_size(se, nullptr, layout) == bm::IvInference::unique);
  BOOST_TEST((layout.aux_sizes == std::vector<std::uint32_t>{10, 16}));
  bm::Saiz saiz;
  saiz.sample_count = 2;
  saiz.default_sample_info_size = 10;  // disagrees with the second entry
  BOOST_TEST(bm::infer_iv_size(se, &saiz, layout) == bm::IvInference::none);
}

BOOST_AUTO_TEST_CASE(iv_size_ambiguous_when_both_sizes_fit) {
  // Three samples with subsamples, 54 bytes that parse both ways. IV 16:
  // three entries of 16 + count 0 (counts at 16, 34, 52). IV 8: the first
  // entry has 4 subsamples (count at 8; 10 + 24 bytes), the next two none
  // (counts at 42 and 52).
  bm::SampleEncryption se;
  se.sample_count = 3;
  se.full.flags = bm::SampleEncryption::kSubsamples;
  se.entries = Bytes(54, 0x11);
  for (std::size_t zero : {16u, 34u, 42u, 52u}) se.entries[zero] = se.entries[zero + 1] = 0;
  se.entries[8] = 0;
  se.entries[9] = 4;
  bm::EntryLayout layout;
  BOOST_TEST(bm::infer_iv_size(se, nullptr, layout) == bm::IvInference::ambiguous);
  // A saiz that records the IV-8 reading settles it.
  bm::Saiz saiz;
  saiz.sample_count = 3;
  saiz.sample_info_sizes = {34, 10, 10};
  BOOST_TEST(bm::infer_iv_size(se, &saiz, layout) == bm::IvInference::unique);
  BOOST_TEST(layout.iv_size == 8u);
}

BOOST_AUTO_TEST_SUITE_END()
