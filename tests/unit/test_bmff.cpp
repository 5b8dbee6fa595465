#define BOOST_TEST_MODULE dashpiff bmff engine
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <climits>
#include <cstring>

#include "bmff/box.h"
#include "bmff_builder.h"
#include "bmff/fields.h"
#include "bmff_test_support.h"
#include "piff/segment_patcher.h"

using namespace dashpiff;
using namespace testbmff;
namespace bm = dashpiff::bmff;

namespace {

TrackSpec piff_track(std::uint32_t id, unsigned iv, bool subs, unsigned count = 5) {
  TrackSpec t;
  t.track_id = id;
  t.iv_size = iv;
  t.subsamples = subs;
  t.samples = make_samples(count, iv, subs, std::uint8_t(id * 3));
  return t;
}

FragmentSpec two_trafs(unsigned iv = 8) {
  FragmentSpec f;
  f.tracks = {piff_track(1, iv, true), piff_track(2, iv, false, 4)};
  return f;
}

// Positions of every PIFF sample-encryption box's 4CC in a buffer of boxes.
std::vector<std::size_t> piff_type_positions(const Bytes& b) {
  std::vector<std::size_t> out;
  for (const auto& n : all_boxes(b))
    if (n.header.is_uuid() && n.header.uuid_kind() == bm::UuidKind::piff_sample_encryption)
      out.push_back(n.offset + 4);
  return out;
}

PatchOptions with_mode(PiffMode m) {
  PatchOptions o;
  o.mode = m;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modes)

BOOST_AUTO_TEST_CASE(parse_and_print_every_mode_name) {
  for (const char* name : {"off", "free", "uuid-free", "convert", "auto"}) {
    const auto m = parse_piff_mode(name);
    BOOST_REQUIRE(m);
    BOOST_TEST(std::string(to_string(*m)) == name);
  }
  BOOST_TEST(!parse_piff_mode("Free"));
  BOOST_TEST(!parse_piff_mode(""));
}

BOOST_AUTO_TEST_CASE(off_mode_is_byte_identical) {
  const Fragment f = make_fragment(two_trafs());
  PatchStats s;
  BOOST_TEST(patch(f.bytes, with_mode(PiffMode::off), SIZE_MAX, &s) == f.bytes);
  BOOST_TEST(s.piff_neutralised == 0u);
}

BOOST_AUTO_TEST_CASE(free_mode_renames_the_piff_box_in_every_traf) {
  const Fragment f = make_fragment(two_trafs());
  PatchStats s;
  const Bytes out = patch(f.bytes, with_mode(PiffMode::free), SIZE_MAX, &s);
  const auto where = piff_type_positions(f.bytes);
  BOOST_REQUIRE_EQUAL(where.size(), 2u);
  Bytes expected = f.bytes;
  for (std::size_t at : where) std::memcpy(&expected[at], "free", 4);
  BOOST_TEST(out == expected);
  BOOST_TEST(s.piff_neutralised == 2u);
  BOOST_TEST(s.passthrough_events == 0u);
  BOOST_REQUIRE_EQUAL(s.changes.size(), 2u);
  BOOST_TEST(s.changes[1] == "moof#1 traf#2: PIFF senc -> free");
}

BOOST_AUTO_TEST_CASE(uuid_free_mode_replaces_the_usertype_like_the_original_service) {
  const Fragment f = make_fragment(two_trafs());
  const Bytes out = patch(f.bytes, with_mode(PiffMode::uuid_free));
  Bytes expected = f.bytes;
  for (std::size_t at : piff_type_positions(f.bytes))
    std::copy(kFreeUuid.begin(), kFreeUuid.end(), expected.begin() + at + 4);
  BOOST_TEST(out == expected);
}

BOOST_AUTO_TEST_CASE(free_mode_rewrites_every_moof_of_two_moof_mdat_pairs) {
  FragmentSpec a = two_trafs();
  FragmentSpec b = two_trafs(16);
  b.sequence = 2;
  Bytes in = make_fragment(a).bytes;
  put(in, make_fragment(b).bytes);
  PatchStats s;
  const Bytes out = patch(in, with_mode(PiffMode::free), SIZE_MAX, &s);
  Bytes expected = in;
  const auto where = piff_type_positions(in);
  BOOST_REQUIRE_EQUAL(where.size(), 4u);
  for (std::size_t at : where) std::memcpy(&expected[at], "free", 4);
  BOOST_TEST(out == expected);
  BOOST_TEST(s.changes.back() == "moof#2 traf#2: PIFF senc -> free");
}

BOOST_AUTO_TEST_CASE(auto_mode_neutralises_where_senc_exists) {
  FragmentSpec spec = two_trafs();
  for (auto& t : spec.tracks) t.senc = true;
  const Fragment f = make_fragment(spec);
  PatchStats s;
  const Bytes out = patch(f.bytes, with_mode(PiffMode::automatic), SIZE_MAX, &s);
  Bytes expected = f.bytes;
  for (std::size_t at : piff_type_positions(f.bytes)) std::memcpy(&expected[at], "free", 4);
  BOOST_TEST(out == expected);
  BOOST_TEST(s.piff_neutralised == 2u);
  BOOST_TEST(s.piff_converted == 0u);
}

BOOST_AUTO_TEST_CASE(auto_mode_converts_where_piff_is_the_only_carrier) {
  const FragmentSpec spec = two_trafs();
  const Fragment f = make_fragment(spec);
  PatchStats s;
  const Bytes out = patch(f.bytes, with_mode(PiffMode::automatic), SIZE_MAX, &s);
  BOOST_TEST(s.piff_converted == 2u);
  check_cenc_fragment(out, 0, spec);
}

BOOST_AUTO_TEST_CASE(smooth_tfxd_and_tfrf_are_left_alone_in_every_mode) {
  FragmentSpec spec = two_trafs();
  spec.tracks[0].tfxd = true;
  const Fragment f = make_fragment(spec);
  const auto smooth_boxes = [](const Bytes& b) {
    std::vector<Bytes> out;
    for (const auto& box : all_boxes(b)) {
      const auto k = box.header.uuid_kind();
      if (k == bm::UuidKind::tfxd || k == bm::UuidKind::tfrf)
        out.emplace_back(b.begin() + box.offset, b.begin() + box.offset + box.size);
    }
    return out;
  };
  const auto in_boxes = smooth_boxes(f.bytes);
  BOOST_REQUIRE_EQUAL(in_boxes.size(), 2u);  // the engine recognises both usertypes
  for (PiffMode m : {PiffMode::off, PiffMode::free, PiffMode::uuid_free, PiffMode::convert,
                     PiffMode::automatic}) {
    const Bytes out = patch(f.bytes, with_mode(m));
    BOOST_TEST((smooth_boxes(out) == in_boxes), "mode " << to_string(m));
  }
}

BOOST_AUTO_TEST_CASE(preserves_size_tells_the_truth_for_each_mode) {
  for (PiffMode m : {PiffMode::off, PiffMode::free, PiffMode::uuid_free, PiffMode::convert,
                     PiffMode::automatic}) {
    for (bool keep : {false, true}) {
      PatchOptions o = with_mode(m);
      o.size_preserving = keep;
      SegmentPatcher p(o, [](const std::uint8_t*, std::size_t) { return true; });
      const bool changes_size = (m == PiffMode::convert || m == PiffMode::automatic) && !keep;
      BOOST_TEST(p.preserves_size() == !changes_size);
      // And the claim holds on a segment that convert would grow.
      if (p.preserves_size()) {
        const Fragment f = make_fragment(two_trafs());
        BOOST_TEST(patch(f.bytes, o).size() == f.bytes.size());
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(walking)

BOOST_AUTO_TEST_CASE(piff_bytes_inside_mdat_stay_untouched) {
  FragmentSpec spec = two_trafs();
  // A sample whose bytes look exactly like a PIFF box.
  Sample fake;
  fake.data = uuid_box(kPiffSenc, full(0, 0, Bytes(8, 0)));
  fake.iv = Bytes(8, 1);
  fake.subsamples = {{std::uint16_t(fake.data.size()), 0}};
  spec.tracks[0].samples.push_back(fake);
  const Fragment f = make_fragment(spec);
  for (PiffMode m : {PiffMode::free, PiffMode::uuid_free, PiffMode::convert}) {
    const Bytes out = patch(f.bytes, with_mode(m));
    const std::size_t mdat_out = find_top_level(out, "mdat");
    BOOST_TEST(Bytes(out.begin() + mdat_out, out.end()) ==
               Bytes(f.bytes.begin() + f.moof_size, f.bytes.end()));
  }
}

BOOST_AUTO_TEST_CASE(largesize_moof_and_mdat_are_walked) {
  FragmentSpec spec = two_trafs();
  spec.moof_large = true;
  spec.mdat_large = true;
  const Fragment f = make_fragment(spec);
  const Bytes out = patch(f.bytes, with_mode(PiffMode::free));
  Bytes expected = f.bytes;
  for (std::size_t at : piff_type_positions(f.bytes)) std::memcpy(&expected[at], "free", 4);
  BOOST_TEST(out == expected);
  // Convert keeps the largesize form and corrects it.
  const Bytes conv = patch(f.bytes, with_mode(PiffMode::convert));
  BOOST_TEST(get32(conv, 0) == 1u);
  check_cenc_fragment(conv, 0, spec);
}

BOOST_AUTO_TEST_CASE(size_zero_mdat_runs_to_the_end) {
  FragmentSpec spec = two_trafs();
  spec.mdat_to_end = true;
  const Fragment f = make_fragment(spec);
  PatchStats s;
  const Bytes out = patch(f.bytes, with_mode(PiffMode::free), 7, &s);
  Bytes expected = f.bytes;
  for (std::size_t at : piff_type_positions(f.bytes)) std::memcpy(&expected[at], "free", 4);
  BOOST_TEST(out == expected);
  BOOST_TEST(s.passthrough_events == 0u);
  check_cenc_fragment(patch(f.bytes, with_mode(PiffMode::convert)), 0, spec);
}

BOOST_AUTO_TEST_CASE(every_chunk_size_gives_identical_output) {
  FragmentSpec a = two_trafs();
  a.tracks[0].tfxd = true;
  FragmentSpec b = two_trafs(16);
  b.mdat_large = true;
  Bytes in = box("styp", Bytes{'m', 's', 'd', 'h', 0, 0, 0, 0});
  put(in, make_fragment(a).bytes);
  put(in, make_fragment(b).bytes);
  for (PiffMode m : {PiffMode::off, PiffMode::free, PiffMode::uuid_free, PiffMode::convert,
                     PiffMode::automatic}) {
    const Bytes whole = patch(in, with_mode(m));
    for (std::size_t chunk = 1; chunk <= in.size(); ++chunk) {
      const Bytes out = patch(in, with_mode(m), chunk);
      if (out != whole) {
        BOOST_ERROR("mode " << to_string(m) << " chunk " << chunk << " differs");
        break;
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(truncated_moof_passes_through_unchanged) {
  const Fragment f = make_fragment(two_trafs());
  for (PiffMode m : {PiffMode::free, PiffMode::convert}) {
    for (std::size_t cut = 1; cut < f.moof_size; ++cut) {
      const Bytes in(f.bytes.begin(), f.bytes.begin() + cut);
      PatchStats s;
      const Bytes out = patch(in, with_mode(m), 5, &s);
      if (out != in) {
        BOOST_ERROR("cut at " << cut << " changed the output");
        break;
      }
      BOOST_TEST(s.passthrough_events == 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(truncated_mdat_keeps_the_rewritten_moof_and_counts_it) {
  const Fragment f = make_fragment(two_trafs());
  const Bytes in(f.bytes.begin(), f.bytes.end() - 10);
  PatchStats s;
  const Bytes out = patch(in, with_mode(PiffMode::free), SIZE_MAX, &s);
  BOOST_TEST(out.size() == in.size());
  BOOST_TEST(s.piff_neutralised == 2u);
  BOOST_TEST(s.passthrough_events == 1u);
  BOOST_TEST(s.passthrough_reason.find("input ends") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(moof_over_the_cap_passes_through_and_is_counted) {
  const Fragment f = make_fragment(two_trafs());
  PatchOptions o = with_mode(PiffMode::free);
  o.max_held_box = f.moof_size - 1;
  PatchStats s;
  BOOST_TEST(patch(f.bytes, o, 100, &s) == f.bytes);
  BOOST_TEST(s.passthrough_events == 1u);
  BOOST_TEST(s.passthrough_reason.find("max_held_box") != std::string::npos);
  // The next moof within the cap is still rewritten.
  FragmentSpec small;
  small.tracks = {piff_track(1, 8, false, 1)};
  Bytes in = f.bytes;
  put(in, make_fragment(small).bytes);
  PatchStats s2;
  patch(in, o, 100, &s2);
  BOOST_TEST(s2.piff_neutralised == 1u);
}

BOOST_AUTO_TEST_CASE(garbage_passes_through_unchanged_with_a_reason) {
  Bytes in = box("styp", Bytes{'i', 's', 'o', '6'});
  put(in, Bytes{0, 0, 0, 3, 'm', 'o', 'o', 'f', 1, 2, 3, 4, 5});  // size smaller than a header
  put(in, make_fragment(two_trafs()).bytes);
  PatchStats s;
  BOOST_TEST(patch(in, with_mode(PiffMode::free), 3, &s) == in);
  BOOST_TEST(s.passthrough_reason.find("offset 12") != std::string::npos);
  BOOST_TEST(s.piff_neutralised == 0u);
  const Bytes text = {'<', 'h', 't', 'm', 'l', '>', 'n', 'o', 't', ' ', 'f', 'o', 'u', 'n', 'd'};
  BOOST_TEST(patch(text, with_mode(PiffMode::convert)) == text);
}

BOOST_AUTO_TEST_CASE(moof_whose_children_do_not_add_up_is_untouched_and_so_is_the_rest) {
  Fragment f = make_fragment(two_trafs());
  // Make the second traf claim 4 bytes more than the moof holds.
  const auto boxes = all_boxes(f.bytes);
  std::size_t traf2 = 0;
  for (const auto& b : boxes)
    if (b.header.type == bm::fourcc("traf")) traf2 = b.offset;
  set32(f.bytes, traf2, get32(f.bytes, traf2) + 4);
  Bytes in = f.bytes;
  put(in, make_fragment(two_trafs()).bytes);
  PatchStats s;
  BOOST_TEST(patch(in, with_mode(PiffMode::free), 64, &s) == in);
  BOOST_TEST(s.passthrough_events == 1u);
  BOOST_TEST(s.passthrough_reason.find("traf") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_refusing_sink_stops_the_patcher) {
  const Fragment f = make_fragment(two_trafs());
  std::size_t calls = 0;
  SegmentPatcher p(with_mode(PiffMode::free), [&](const std::uint8_t*, std::size_t) {
    ++calls;
    return false;
  });
  BOOST_TEST(!p.feed(f.bytes.data(), f.bytes.size()));
  BOOST_TEST(!p.feed(f.bytes.data(), f.bytes.size()));
  BOOST_TEST(calls == 1u);
}

BOOST_AUTO_TEST_CASE(the_change_list_stays_bounded) {
  Bytes in;
  for (int i = 0; i < 60; ++i) put(in, make_fragment(two_trafs()).bytes);
  PatchStats s;
  patch(in, with_mode(PiffMode::free), SIZE_MAX, &s);
  BOOST_TEST(s.piff_neutralised == 120u);
  BOOST_TEST(s.changes.size() <= 33u);
}

BOOST_AUTO_TEST_CASE(mdat_is_forwarded_without_being_held) {
  // The sink sees mdat bytes during the very feed() call that brings them.
  FragmentSpec spec = two_trafs();
  const Fragment f = make_fragment(spec);
  std::size_t out = 0;
  SegmentPatcher p(with_mode(PiffMode::convert), [&](const std::uint8_t*, std::size_t n) {
    out += n;
    return true;
  });
  p.feed(f.bytes.data(), f.moof_size + 20);
  const std::size_t after_moof = out;
  p.feed(f.bytes.data() + f.moof_size + 20, 100);
  BOOST_TEST(out == after_moof + 100);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(convert)

BOOST_AUTO_TEST_CASE(round_trip_iv8_and_iv16_with_and_without_subsamples) {
  for (unsigned iv : {8u, 16u}) {
    for (bool subs : {false, true}) {
      FragmentSpec spec;
      spec.tracks = {piff_track(1, iv, subs, 7), piff_track(2, iv, !subs, 3)};
      const Fragment f = make_fragment(spec);
      PatchStats s;
      const Bytes out = patch(f.bytes, with_mode(PiffMode::convert), SIZE_MAX, &s);
      BOOST_TEST_CONTEXT("iv " << iv << " subsamples " << subs) {
        BOOST_TEST(s.piff_converted == 2u);
        BOOST_TEST(s.passthrough_events == 0u);
        check_cenc_fragment(out, 0, spec);
        BOOST_TEST(s.changes.front().find("IV " + std::to_string(iv) + " bytes, inferred") !=
                   std::string::npos);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(two_moof_mdat_pairs_convert_independently) {
  FragmentSpec a = two_trafs();
  FragmentSpec b = two_trafs(16);
  b.sequence = 2;
  Bytes in = make_fragment(a).bytes;
  const std::size_t second = in.size();
  put(in, make_fragment(b).bytes);
  (void)second;
  const Bytes out = patch(in, with_mode(PiffMode::convert), 4096);
  check_cenc_fragment(out, 0, a);
  std::size_t moof2 = 0;
  for (const auto& box : top_level(out))
    if (box.header.type == bm::fourcc("moof")) moof2 = box.offset;
  check_cenc_fragment(out, moof2, b);
}

BOOST_AUTO_TEST_CASE(existing_cenc_offsets_in_a_later_traf_follow_the_growth) {
  FragmentSpec spec = two_trafs();
  spec.tracks[1].senc = true;  // traf 2: senc+saiz+saio and PIFF
  const Fragment f = make_fragment(spec);
  PatchStats s;
  const Bytes out = patch(f.bytes, with_mode(PiffMode::convert), SIZE_MAX, &s);
  BOOST_TEST(s.piff_converted == 1u);
  BOOST_TEST(s.piff_neutralised == 1u);
  check_cenc_fragment(out, 0, spec);
}

BOOST_AUTO_TEST_CASE(saiz_saio_into_the_piff_box_give_a_size_preserving_rewrite) {
  FragmentSpec spec = two_trafs(16);
  for (auto& t : spec.tracks) t.aux_into_piff = true;
  const Fragment f = make_fragment(spec);
  for (bool keep : {false, true}) {
    PatchOptions o = with_mode(PiffMode::convert);
    o.size_preserving = keep;
    PatchStats s;
    const Bytes out = patch(f.bytes, o, SIZE_MAX, &s);
    BOOST_TEST(out.size() == f.bytes.size());
    BOOST_TEST(s.piff_converted == 2u);
    check_cenc_fragment(out, 0, spec);
    // Nothing outside the PIFF boxes moved.
    BOOST_TEST(Bytes(out.begin() + f.moof_size, out.end()) ==
               Bytes(f.bytes.begin() + f.moof_size, f.bytes.end()));
  }
  // auto mode: saiz+saio already exist, so the PIFF box is neutralised.
  PatchStats s;
  const Bytes out = patch(f.bytes, with_mode(PiffMode::automatic), SIZE_MAX, &s);
  BOOST_TEST(s.piff_neutralised == 2u);
  BOOST_TEST(out.size() == f.bytes.size());
}

BOOST_AUTO_TEST_CASE(override_fields_become_a_seig_sample_group) {
  FragmentSpec spec;
  spec.tracks = {piff_track(1, 16, true, 6)};
  spec.tracks[0].piff_override = true;
  const Fragment f = make_fragment(spec);
  PatchStats s;
  const Bytes out = patch(f.bytes, with_mode(PiffMode::convert), SIZE_MAX, &s);
  BOOST_TEST(s.piff_converted == 1u);
  check_cenc_fragment(out, 0, spec);
  const auto seig = read_seig(out, 0);
  BOOST_REQUIRE(seig);
  BOOST_TEST(seig->iv_size == 16u);
  BOOST_TEST(seig->is_protected == 1u);
  BOOST_TEST(seig->kid[0] == 0xa0);
  BOOST_TEST(seig->sbgp_samples == 6u);
  BOOST_TEST(seig->sbgp_index == 0x10001u);
}

BOOST_AUTO_TEST_CASE(override_with_size_preserving_is_refused_and_passed_through) {
  FragmentSpec spec;
  spec.tracks = {piff_track(1, 16, true, 6)};
  spec.tracks[0].piff_override = true;
  spec.tracks[0].aux_into_piff = true;
  const Fragment f = make_fragment(spec);
  PatchOptions o = with_mode(PiffMode::convert);
  o.size_preserving = true;
  PatchStats s;
  BOOST_TEST(patch(f.bytes, o, SIZE_MAX, &s) == f.bytes);
  BOOST_TEST(s.passthrough_events == 1u);
  BOOST_TEST(s.passthrough_reason.find("seig") != std::string::npos);
  // Without the size constraint: free+senc in place plus the seig group.
  PatchStats s2;
  const Bytes out = patch(f.bytes, with_mode(PiffMode::convert), SIZE_MAX, &s2);
  BOOST_TEST(s2.piff_converted == 1u, s2.passthrough_reason);
  check_cenc_fragment(out, 0, spec);
  BOOST_TEST(read_seig(out, 0).has_value());
}

BOOST_AUTO_TEST_CASE(ambiguous_iv_size_detected_by_brute_force) {
  // Search small sample-entry byte strings that parse exactly with both IV
  // sizes; the engine must refuse them rather than guess.
  Bytes found;
  std::uint32_t count = 0;
  for (std::uint32_t n = 1; n <= 3 && found.empty(); ++n) {
    for (unsigned a = 0; a < 4 && found.empty(); ++a) {
      for (unsigned b = 0; b < 4 && found.empty(); ++b) {
        // Candidate: IV8 view has n samples with `a`/`b` subsamples alternately.
        Bytes e;
        for (std::uint32_t i = 0; i < n; ++i) {
          const unsigned k = i % 2 ? b : a;
          put(e, Bytes(8, 0));
          put16(e, k);
          for (unsigned j = 0; j < k; ++j) put(e, Bytes{0, 0, 0, 0, 0, 0});
        }
        if (bm::measure_sample_entries(e.data(), e.size(), n, 16, true, nullptr, nullptr)) {
          found = e;
          count = n;
        }
      }
    }
  }
  BOOST_REQUIRE(!found.empty());
  Bytes body = full(0, 2);
  put32(body, count);
  put(body, found);
  // Hand-made fragment: moof{mfhd traf{tfhd trun PIFF}} mdat
  Bytes traf = box("tfhd", full(0, 0x020000, Bytes{0, 0, 0, 1}));
  Bytes trun;
  put32(trun, count);
  put32(trun, 0);  // data_offset (not reached: the conversion is refused)
  put(traf, box("trun", full(0, 1, trun)));
  put(traf, uuid_box(kPiffSenc, body));
  Bytes moof_body = box("mfhd", full(0, 0, Bytes{0, 0, 0, 1}));
  put(moof_body, box("traf", traf));
  Bytes in = box("moof", moof_body);
  put(in, box("mdat", Bytes(10, 0xee)));
  PatchStats s;
  BOOST_TEST(patch(in, with_mode(PiffMode::convert), SIZE_MAX, &s) == in);
  BOOST_TEST(s.passthrough_reason.find("ambiguous") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(piff_sample_count_that_disagrees_with_trun_is_refused) {
  FragmentSpec spec;
  spec.tracks = {piff_track(1, 8, false, 4)};
  Fragment f = make_fragment(spec);
  // trun says 4 samples; make it say 3 (the PIFF box still has 4 entries).
  for (const auto& b : all_boxes(f.bytes))
    if (b.header.type == bm::fourcc("trun")) set32(f.bytes, b.offset + 12, 3);
  PatchStats s;
  BOOST_TEST(patch(f.bytes, with_mode(PiffMode::convert), SIZE_MAX, &s) == f.bytes);
  BOOST_TEST(s.passthrough_reason.find("differs from the traf's 3 samples") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(size_preserving_convert_without_saiz_passes_piff_through) {
  const Fragment f = make_fragment(two_trafs());
  PatchOptions o = with_mode(PiffMode::convert);
  o.size_preserving = true;
  PatchStats s;
  BOOST_TEST(patch(f.bytes, o, SIZE_MAX, &s) == f.bytes);
  BOOST_TEST(s.passthrough_events == 2u);
  BOOST_TEST(s.passthrough_reason.find("only carrier") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sidx_reference_follows_the_converted_moof) {
  const FragmentSpec spec = two_trafs();
  const Fragment f = make_fragment(spec);
  Bytes in = box("styp", Bytes{'m', 's', 'd', 'h', 0, 0, 0, 0});
  const std::size_t sidx_at = in.size();
  put(in, make_sidx({std::uint32_t(f.bytes.size())}));
  const std::size_t moof_at = in.size();
  put(in, f.bytes);
  const Bytes whole = patch(in, with_mode(PiffMode::convert));
  for (std::size_t chunk : {1u, 7u, 100u, 4096u}) {
    PatchStats s;
    const Bytes out = patch(in, with_mode(PiffMode::convert), chunk, &s);
    BOOST_TEST((out == whole));
    BOOST_TEST(s.piff_converted == 2u);
    BOOST_TEST(s.passthrough_events == 0u, s.passthrough_reason);
  }
  BOOST_TEST(whole.size() > in.size());
  // The reference now spans the grown moof and its mdat, to the end.
  BOOST_TEST(sidx_reference_size(whole, sidx_at, 0) == whole.size() - moof_at);
  check_cenc_fragment(whole, moof_at, spec);
}

BOOST_AUTO_TEST_CASE(moofs_covered_by_a_sidx_already_sent_keep_their_size) {
  const FragmentSpec spec = two_trafs();
  const Fragment a = make_fragment(spec);
  FragmentSpec spec_b = spec;
  spec_b.sequence = 2;
  const Fragment b = make_fragment(spec_b);
  Bytes in = make_sidx({std::uint32_t(a.bytes.size()), std::uint32_t(b.bytes.size())});
  put(in, a.bytes);
  put(in, b.bytes);
  PatchStats s;
  const Bytes out = patch(in, with_mode(PiffMode::convert), 33, &s);
  BOOST_TEST(s.piff_converted == 2u);  // both trafs of the first moof
  BOOST_TEST(s.passthrough_events == 2u);  // both trafs of the second
  BOOST_TEST(s.passthrough_reason.find("sidx already sent") != std::string::npos);
  BOOST_TEST(sidx_reference_size(out, 0, 1) == b.bytes.size());
  BOOST_TEST(Bytes(out.end() - b.bytes.size(), out.end()) == b.bytes);
  check_cenc_fragment(out, make_sidx({0, 0}).size(), spec);
}

BOOST_AUTO_TEST_CASE(a_sidx_per_moof_lets_every_moof_convert) {
  const FragmentSpec spec = two_trafs();
  Bytes in;
  std::vector<std::size_t> moofs;
  for (int i = 0; i < 3; ++i) {
    const Fragment f = make_fragment(spec);
    put(in, make_sidx({std::uint32_t(f.bytes.size())}));
    put(in, f.bytes);
  }
  PatchStats s;
  const Bytes out = patch(in, with_mode(PiffMode::automatic), 1000, &s);
  BOOST_TEST(s.piff_converted == 6u);
  std::size_t checked = 0;
  const auto boxes = top_level(out);
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    if (boxes[i].header.type != bm::fourcc("sidx")) continue;
    BOOST_TEST(sidx_reference_size(out, boxes[i].offset, 0) == boxes[i + 1].size + boxes[i + 2].size);
    check_cenc_fragment(out, boxes[i + 1].offset, spec);
    ++checked;
  }
  BOOST_TEST(checked == 3u);
}

// An on-demand file: ftyp, then `count` converted-size-changing fragments,
// then mfra { tfra (one entry per moof, pointing at it) mfro }.
struct OnDemand {
  Bytes bytes;
  std::vector<std::size_t> moofs;  // input offsets
};

Bytes make_tfra(unsigned version, const std::vector<std::size_t>& moofs) {
  Bytes b;
  put32(b, 1);           // track_ID
  put32(b, 0x00000015);  // traf, trun, sample numbers of 2, 2 and 2 bytes
  put32(b, std::uint32_t(moofs.size()));
  for (std::size_t i = 0; i < moofs.size(); ++i) {
    if (version == 1) {
      put64(b, 1000 * i);
      put64(b, moofs[i]);
    } else {
      put32(b, std::uint32_t(1000 * i));
      put32(b, std::uint32_t(moofs[i]));
    }
    put16(b, 1);
    put16(b, 1);
    put16(b, 1);
  }
  return box("tfra", full(version, 0, b));
}

OnDemand make_on_demand(unsigned tfra_version, std::size_t count = 3) {
  OnDemand d;
  d.bytes = box("ftyp", Bytes{'i', 's', 'o', '6', 0, 0, 0, 0});
  for (std::size_t i = 0; i < count; ++i) {
    FragmentSpec spec = two_trafs();
    spec.sequence = std::uint32_t(i + 1);
    d.moofs.push_back(d.bytes.size());
    put(d.bytes, make_fragment(spec).bytes);
  }
  Bytes mfra_body = make_tfra(tfra_version, d.moofs);
  const std::size_t mfra_size = 8 + mfra_body.size() + 16;
  put(mfra_body, box("mfro", full(0, 0, [&] { Bytes b; put32(b, std::uint32_t(mfra_size)); return b; }())));
  put(d.bytes, box("mfra", mfra_body));
  return d;
}

// The moof_offset values of the first tfra of the mfra in `b`.
std::vector<std::uint64_t> tfra_offsets(const Bytes& b) {
  const std::size_t mfra = find_top_level(b, "mfra");
  const std::size_t tfra = mfra + 8;
  const unsigned version = b[tfra + 8];
  const std::uint32_t count = get32(b, tfra + 20);
  const std::size_t width = version == 1 ? 8 : 4;
  const std::size_t entry = 2 * width + 6;
  std::vector<std::uint64_t> out;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t at = tfra + 24 + i * entry + width;
    out.push_back(width == 8 ? bm::load_u64(b.data() + at) : get32(b, at));
  }
  return out;
}

std::vector<std::uint64_t> moof_offsets(const Bytes& b) {
  std::vector<std::uint64_t> out;
  for (const auto& box : top_level(b))
    if (box.header.type == bm::fourcc("moof")) out.push_back(box.offset);
  return out;
}

BOOST_AUTO_TEST_CASE(mfra_offsets_follow_the_resized_moofs) {
  for (unsigned version : {0u, 1u}) {
    const OnDemand d = make_on_demand(version);
    const Bytes whole = patch(d.bytes, with_mode(PiffMode::convert));
    BOOST_TEST(whole.size() > d.bytes.size());
    const auto moved = moof_offsets(whole);
    BOOST_REQUIRE_EQUAL(moved.size(), 3u);
    BOOST_TEST(moved[1] != d.moofs[1]);  // the first moof grew: the others moved
    BOOST_TEST(tfra_offsets(whole) == moved, "tfra v" << version);
    for (std::size_t chunk : {1u, 13u, 4096u}) {
      PatchStats s;
      BOOST_TEST((patch(d.bytes, with_mode(PiffMode::convert), chunk, &s) == whole));
      BOOST_TEST(s.passthrough_events == 0u, s.passthrough_reason);
      BOOST_TEST(s.piff_converted == 6u);
    }
  }
}

BOOST_AUTO_TEST_CASE(mfra_offsets_follow_the_resized_moofs_past_a_malformed_one) {
  OnDemand d = make_on_demand(0);
  set32(d.bytes, d.moofs[1] + 8, 0x7fff);  // moof#2's mfhd runs past it: its insides do not add up
  for (std::size_t chunk : {1u, 4096u}) {
    PatchStats s;
    const Bytes out = patch(d.bytes, with_mode(PiffMode::convert), chunk, &s);
    BOOST_TEST(s.piff_converted == 2u);  // moof#1 only: nothing after the malformed one is rewritten
    BOOST_TEST(s.passthrough_reason.find("moof") != std::string::npos, s.passthrough_reason);
    const auto moved = moof_offsets(out);
    BOOST_REQUIRE_EQUAL(moved.size(), 3u);
    BOOST_TEST(moved[1] != d.moofs[1]);
    // moof#2 and moof#3 pass as they came, after the first one's growth.
    BOOST_TEST((Bytes(out.begin() + long(moved[1]), out.begin() + long(moved[1] + (d.moofs[2] - d.moofs[1]))) ==
                Bytes(d.bytes.begin() + long(d.moofs[1]), d.bytes.begin() + long(d.moofs[2]))));
    BOOST_TEST(tfra_offsets(out) == moved);
  }
}

BOOST_AUTO_TEST_CASE(mfra_is_untouched_when_no_moof_changed_size) {
  const OnDemand d = make_on_demand(0);
  PatchStats s;
  const Bytes out = patch(d.bytes, with_mode(PiffMode::free), 100, &s);
  BOOST_TEST(out.size() == d.bytes.size());
  BOOST_TEST(tfra_offsets(out) == moof_offsets(out));
  const std::size_t mfra = find_top_level(d.bytes, "mfra");
  BOOST_TEST((Bytes(out.begin() + mfra, out.end()) == Bytes(d.bytes.begin() + mfra, d.bytes.end())));
}

BOOST_AUTO_TEST_CASE(an_mfra_that_cannot_be_corrected_becomes_free_not_stale) {
  OnDemand d = make_on_demand(0);
  // Claim more tfra entries than the box holds.
  const std::size_t tfra = find_top_level(d.bytes, "mfra") + 8;
  set32(d.bytes, tfra + 20, 1000);
  PatchStats s;
  const Bytes out = patch(d.bytes, with_mode(PiffMode::convert), 7, &s);
  BOOST_TEST(s.piff_converted == 6u);
  BOOST_TEST(s.passthrough_reason.find("mfra: tfra entries run past the box; turned into free") !=
             std::string::npos, s.passthrough_reason);
  const auto boxes = top_level(out);
  BOOST_TEST(boxes.back().header.type == bm::fourcc("free"));
  BOOST_TEST(boxes.back().end() == out.size());
  // Same bytes as the input's mfra, apart from the 4CC.
  Bytes tail(out.end() - boxes.back().size, out.end());
  Bytes original(d.bytes.end() - boxes.back().size, d.bytes.end());
  tail[4] = 'm', tail[5] = 'f', tail[6] = 'r', tail[7] = 'a';
  BOOST_TEST((tail == original));
}

BOOST_AUTO_TEST_CASE(absolute_base_data_offset_blocks_resizing) {
  FragmentSpec spec = two_trafs();
  for (auto& t : spec.tracks) t.tfhd_flags = 0x000001;  // base 0: data_offset is absolute
  const Fragment f = make_fragment(spec);
  PatchStats s;
  BOOST_TEST(patch(f.bytes, with_mode(PiffMode::convert), SIZE_MAX, &s) == f.bytes);
  BOOST_TEST(s.passthrough_reason.find("base_data_offset") != std::string::npos);
}

// The absolute base_data_offset of the first tfhd in the moof at `moof_at`.
std::uint64_t tfhd_base(const Bytes& b, std::size_t moof_at) {
  const bm::Node moof = parse_moof(b, moof_at);
  const bm::Node* traf = moof.child(bm::fourcc("traf"));
  BOOST_REQUIRE(traf);
  const bm::Node* tfhd = traf->child(bm::fourcc("tfhd"));
  BOOST_REQUIRE(tfhd);
  const auto fields = bm::read_fields<bm::Tfhd>(b.data() + moof_at, tfhd->box);
  BOOST_REQUIRE(fields);
  BOOST_REQUIRE(fields->full.flags & bm::Tfhd::kBaseDataOffset);
  return fields->base_data_offset;
}

// Smooth/PIFF files (ismv) often give each moof an absolute base_data_offset
// (the moof's own file offset). A moof before it that grew moves its data:
// the offset must follow, or the player reads samples from the wrong bytes.
// `first`: the file offset of the stream's first byte (an on-demand
// subsegment is a range of the file).
void later_absolute_base_follows_a_resized_moof(std::uint64_t first) {
  const Bytes a = make_fragment(two_trafs()).bytes;  // converts, and grows
  FragmentSpec later;
  later.sequence = 2;
  later.tracks = {piff_track(1, 8, true)};
  later.tracks[0].piff = false;  // nothing to change in it
  later.tracks[0].tfhd_flags = bm::Tfhd::kBaseDataOffset;
  later.tracks[0].base_data_offset = first + a.size();  // its own moof: data_offsets count from there
  Bytes in = a;
  put(in, make_fragment(later).bytes);
  PatchOptions options = with_mode(PiffMode::convert);
  options.stream_offset = first;
  PatchStats s;
  const Bytes out = patch(in, options, 4096, &s);
  BOOST_TEST(s.piff_converted == 2u);
  std::vector<std::size_t> moofs;
  for (const auto& box : top_level(out))
    if (box.header.type == bm::fourcc("moof")) moofs.push_back(box.offset);
  BOOST_REQUIRE_EQUAL(moofs.size(), 2u);
  BOOST_REQUIRE(moofs[1] > a.size());  // the first moof grew
  BOOST_TEST(tfhd_base(out, moofs[1]) == first + moofs[1]);
}

BOOST_AUTO_TEST_CASE(a_later_moofs_absolute_base_data_offset_follows_a_resized_moof) {
  later_absolute_base_follows_a_resized_moof(0);
}

BOOST_AUTO_TEST_CASE(a_later_moofs_absolute_base_data_offset_follows_in_a_subsegment) {
  later_absolute_base_follows_a_resized_moof(1000000);
}

BOOST_AUTO_TEST_CASE(second_traf_with_implicit_base_keeps_its_data_offset) {
  // traf 2 has no base flags: its data follows traf 1's, which moves with it.
  FragmentSpec spec = two_trafs();
  spec.tracks[1].tfhd_flags = 0;
  spec.tracks[1].senc = true;
  const Fragment f = make_fragment(spec);
  PatchStats s;
  const Bytes out = patch(f.bytes, with_mode(PiffMode::convert), SIZE_MAX, &s);
  BOOST_TEST(s.piff_converted == 1u);
  // Data for traf 1 follows the growth; traf 2's offset is relative to traf 1's data end.
  const auto trafs = read_trafs(out, 0);
  BOOST_REQUIRE_EQUAL(trafs.size(), 2u);
  const auto trafs_in = read_trafs(f.bytes, 0);
  BOOST_TEST(trafs[1].data_offset == trafs_in[1].data_offset);
  BOOST_TEST(trafs[0].data_offset == trafs_in[0].data_offset + std::int64_t(out.size() - f.bytes.size()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(init_segments)

BOOST_AUTO_TEST_CASE(piff_tenc_pssh_and_scheme_convert_in_place) {
  InitSpec spec;
  spec.iv_size = 16;
  const Bytes in = make_init(spec);
  for (PiffMode m : {PiffMode::convert, PiffMode::automatic}) {
    PatchStats s;
    const Bytes out = patch(in, with_mode(m), SIZE_MAX, &s);
    BOOST_TEST(out.size() == in.size());
    BOOST_TEST(s.piff_converted == 3u);
    const auto init = read_init(out);
    BOOST_TEST(init.tenc_count == 1u);
    BOOST_TEST(init.piff_boxes == 0u);
    BOOST_TEST(init.tenc_iv_size == 16u);
    BOOST_TEST(init.tenc_protected == 1u);
    BOOST_TEST(init.tenc_kid == kid_bytes());
    BOOST_TEST(init.scheme == "cenc");
    BOOST_TEST(init.scheme_version == 0x00010000u);
    BOOST_TEST(init.pssh_count == 1u);
    BOOST_TEST(init.pssh_system == system_id());
    BOOST_TEST(init.pssh_data == (Bytes{'p', 'r', 'o', '-', 'd', 't'}));
  }
}

BOOST_AUTO_TEST_CASE(init_with_cenc_boxes_beside_piff_neutralises_piff) {
  InitSpec spec;
  spec.cenc_tenc = true;
  spec.cenc_pssh = true;
  spec.schm_piff = false;
  const Bytes in = make_init(spec);
  PatchStats s;
  const Bytes out = patch(in, with_mode(PiffMode::automatic), SIZE_MAX, &s);
  BOOST_TEST(s.piff_neutralised == 2u);
  BOOST_TEST(s.piff_converted == 0u);
  const auto init = read_init(out);
  BOOST_TEST(init.tenc_count == 1u);
  BOOST_TEST(init.pssh_count == 1u);
  BOOST_TEST(init.piff_boxes == 0u);
  BOOST_TEST(init.free_boxes == 2u);
}

BOOST_AUTO_TEST_CASE(free_modes_leave_init_segments_alone) {
  const Bytes in = make_init(InitSpec{});
  for (PiffMode m : {PiffMode::off, PiffMode::free, PiffMode::uuid_free})
    BOOST_TEST(patch(in, with_mode(m)) == in);
}

BOOST_AUTO_TEST_CASE(cbc_piff_scheme_becomes_cbc1) {
  InitSpec spec;
  spec.algorithm = 2;
  const Bytes out = patch(make_init(spec), with_mode(PiffMode::convert));
  BOOST_TEST(read_init(out).scheme == "cbc1");
}

BOOST_AUTO_TEST_CASE(init_conversion_is_identical_for_every_chunk_size) {
  const Bytes in = make_init(InitSpec{});
  const Bytes whole = patch(in, with_mode(PiffMode::convert));
  for (std::size_t chunk = 1; chunk <= in.size(); chunk += 3)
    BOOST_TEST((patch(in, with_mode(PiffMode::convert), chunk) == whole));
}

BOOST_AUTO_TEST_SUITE_END()
