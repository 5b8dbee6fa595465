// The segment engine's memory and time per request are bounded by what it
// holds, not by counts that hostile boxes declare (issue #12). This program
// replaces the global allocator with one that counts the bytes live at once
// and refuses any single request over 256 MiB (as libFuzzer's -malloc_limit_mb
// would), so an allocation sized by a declared count shows up as a failure
// here instead of as a worker's RSS.
#define BOOST_TEST_MODULE dashpiff engine budget
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <new>
#include <sstream>

#include "bmff/box.h"
#include "bmff/fields.h"
#include "bmff_builder.h"
#include "bmff_test_support.h"
#include "piff/dump.h"
#include "piff/segment_patcher.h"

namespace {

// Test-process bookkeeping only; the service never links this file.
std::size_t g_live = 0;
std::size_t g_peak = 0;
std::size_t g_refused = 0;  // largest single request refused
constexpr std::size_t kRefuseOver = 256u << 20;
constexpr std::size_t kHeader = alignof(std::max_align_t);

void* counted_alloc(std::size_t n) {
  if (n > kRefuseOver) {
    if (n > g_refused) g_refused = n;
    return nullptr;
  }
  auto* p = static_cast<unsigned char*>(std::malloc(n + kHeader));
  if (!p) return nullptr;
  *reinterpret_cast<std::size_t*>(p) = n;
  g_live += n;
  if (g_live > g_peak) g_peak = g_live;
  return p + kHeader;
}

void counted_free(void* q) {
  if (!q) return;
  auto* p = static_cast<unsigned char*>(q) - kHeader;
  g_live -= *reinterpret_cast<std::size_t*>(p);
  std::free(p);
}

// Peak bytes allocated (above what was live before) while `f` runs.
template <class F>
std::size_t peak_during(F&& f) {
  const std::size_t base = g_live;
  g_peak = g_live;
  g_refused = 0;
  f();
  BOOST_TEST(g_refused == 0u, "a single allocation of " << g_refused << " bytes was asked for");
  return g_peak - base;
}

}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }

using namespace dashpiff;
using namespace testbmff;

namespace {

Bytes kid() { return Bytes(16, 0xa0); }

// The moof bomb: moof{mfhd traf{tfhd trun PIFF}} mdat, where the PIFF
// box overrides the IV size with 0 (no subsamples), so its `count` entries
// take no bytes at all, and the trun's rows are empty too.
Bytes moof_bomb(std::uint32_t count, unsigned iv_size = 0, std::uint32_t flags = 1) {
  Bytes tfhd = full(0, 0x020000);
  put32(tfhd, 1);
  Bytes trun = full(0, 0x000001);  // data_offset only: rows of no bytes
  put32(trun, count);
  put32(trun, 0);  // patched below
  Bytes piff = full(0, flags);
  put24(piff, 1);  // AlgorithmID: AES-CTR
  put8(piff, iv_size);
  put(piff, kid());
  put32(piff, count);
  Bytes traf = box("tfhd", tfhd);
  put(traf, box("trun", trun));
  put(traf, uuid_box(kPiffSenc, piff));
  Bytes moof_body = box("mfhd", full(0, 0, Bytes{0, 0, 0, 1}));
  put(moof_body, box("traf", traf));
  Bytes out = box("moof", moof_body);
  // data_offset: just past the moof and the mdat header
  for (const auto& b : all_boxes(out))
    if (b.header.type == bmff::fourcc("trun")) set32(out, b.offset + 16, std::uint32_t(out.size() + 8));
  put(out, box("mdat", Bytes(16, 0xee)));
  return out;
}

PatchOptions mode(PiffMode m, std::size_t max_held = 4u << 20) {
  PatchOptions o;
  o.mode = m;
  o.max_held_box = max_held;
  return o;
}

// Runs the patcher over `in` in chunks of `chunk` bytes, discarding the output.
PatchStats run(const Bytes& in, const PatchOptions& o, std::size_t* out_size = nullptr,
               std::size_t chunk = SIZE_MAX) {
  std::size_t n = 0;
  SegmentPatcher p(o, [&n](const std::uint8_t*, std::size_t k) {
    n += k;
    return true;
  });
  for (std::size_t at = 0; at < in.size(); at += chunk)
    p.feed(in.data() + at, std::min(chunk, in.size() - at));
  p.finish();
  if (out_size) *out_size = n;
  return p.stats();
}

// The worst case the engine's header comment states for one request, with
// the held box's bytes in place of max-moof-bytes: 7 held boxes + 5 MiB.
std::size_t stated_budget(std::size_t held) { return 7 * held + (5u << 20); }

}  // namespace

BOOST_AUTO_TEST_SUITE(declared_counts)

BOOST_AUTO_TEST_CASE(moof_bomb_of_empty_override_entries_costs_no_more_than_its_bytes) {
  const Bytes in = moof_bomb(0xffffffffu);
  BOOST_TEST(in.size() < 200u);
  for (PiffMode m : {PiffMode::automatic, PiffMode::convert}) {
    PatchStats s;
    std::size_t out = 0;
    const std::size_t peak = peak_during([&] { s = run(in, mode(m), &out); });
    BOOST_TEST(peak < 64u * 1024, "peak " << peak << " bytes for a " << in.size() << "-byte input");
    BOOST_TEST(out == in.size());
    BOOST_TEST(s.piff_converted == 0u);
    BOOST_TEST(s.passthrough_reason.find("samples of 0 bytes each") != std::string::npos,
               s.passthrough_reason);
  }
}

BOOST_AUTO_TEST_CASE(empty_override_entries_up_to_the_cap_still_convert) {
  const std::uint32_t count = bmff::kMaxEmptySampleEntries;
  const Bytes in = moof_bomb(count);
  PatchStats s;
  std::size_t out = 0;
  const std::size_t peak = peak_during([&] { s = run(in, mode(PiffMode::convert), &out); });
  BOOST_TEST(s.piff_converted == 1u, s.passthrough_reason);
  // One saiz byte per sample is the output's growth; memory a few times that.
  BOOST_TEST(out > in.size() + count);
  BOOST_TEST(peak < std::size_t(count) * 16, "peak " << peak);
  const Bytes over = moof_bomb(count + 1);
  BOOST_TEST(run(over, mode(PiffMode::convert)).piff_converted == 0u);
}

BOOST_AUTO_TEST_CASE(entry_counts_that_bytes_cannot_hold_are_refused_before_any_allocation) {
  // IV sizes 8 and 16, with and without subsamples: the count is checked
  // against the bytes that hold the entries.
  for (unsigned iv : {8u, 16u}) {
    for (std::uint32_t flags : {1u, 3u}) {
      const Bytes in = moof_bomb(0xfffffff0u, iv, flags);
      PatchStats s;
      const std::size_t peak = peak_during([&] { s = run(in, mode(PiffMode::convert)); });
      BOOST_TEST(peak < 64u * 1024, "iv " << iv << " flags " << flags << ": peak " << peak);
      BOOST_TEST(s.piff_converted == 0u);
    }
  }
  std::vector<std::uint32_t> sizes;
  const std::uint8_t none[1] = {0};
  const std::size_t peak = peak_during([&] {
    BOOST_TEST(!bmff::measure_sample_entries(none, 0, 0xffffffffu, 0, false, &sizes, nullptr));
    BOOST_TEST(!bmff::parse_sample_entries(none, 0, 0xffffffffu, 0, false).has_value());
  });
  BOOST_TEST(peak == 0u);
}

BOOST_AUTO_TEST_CASE(box_dump_of_the_bomb_is_bounded_too) {
  const Bytes in = moof_bomb(0xffffffffu);
  std::ostringstream out;
  const std::size_t peak = peak_during([&] {
    std::istringstream is(std::string(in.begin(), in.end()));
    dump_boxes(is, out);
  });
  BOOST_TEST(peak < 256u * 1024, "peak " << peak);
  BOOST_TEST(out.str().find("samples=4294967295") != std::string::npos, out.str());
}

BOOST_AUTO_TEST_CASE(box_dump_checks_a_declared_size_against_the_file_before_loading) {
  Bytes in;
  put32(in, 60u << 20);  // a moov of 60 MiB in a 16-byte file
  put4cc(in, "moov");
  put(in, Bytes(8, 0));
  std::ostringstream out;
  DumpResult r;
  const std::size_t peak = peak_during([&] {
    std::istringstream is(std::string(in.begin(), in.end()));
    r = dump_boxes(is, out);
  });
  BOOST_TEST(peak < 64u * 1024, "peak " << peak);
  BOOST_TEST(!r.complete);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(held_moof)

BOOST_AUTO_TEST_CASE(a_moof_of_tiny_boxes_stops_at_the_node_cap) {
  // 4 MiB of 8-byte 'free' boxes: ~520,000 nodes of ~150 bytes each without
  // the cap, 75 MiB of tree for one request.
  const std::size_t held = 4u << 20;
  Bytes body;
  while (body.size() + 8 <= held - 8) put(body, box("free", {}));
  Bytes in = box("moof", body);
  put(in, box("mdat", Bytes(8, 0)));
  PatchStats s;
  std::size_t out = 0;
  const std::size_t peak = peak_during([&] { s = run(in, mode(PiffMode::automatic, held), &out); });
  BOOST_TEST(peak <= stated_budget(held), "peak " << peak << " over " << stated_budget(held));
  BOOST_TEST(out == in.size());
  BOOST_TEST(s.passthrough_reason.find("more than 10000 boxes in one tree") != std::string::npos,
             s.passthrough_reason);
  std::string error;
  BOOST_TEST(!bmff::parse_tree(in.data(), in.size() - 16, error).has_value());
}

namespace {

// moof{mfhd traf(PIFF the only carrier, converted: the moof grows) extra}
// mdat, with `extra` trafs after it.
Bytes growing_moof(const Bytes& extra, const Bytes& piff_entries, std::uint32_t samples) {
  Bytes t = box("tfhd", full(0, 0x020000, Bytes{0, 0, 0, 2}));
  Bytes trun = full(0, 1);
  put32(trun, samples);
  put32(trun, 0);  // data_offset, set below
  put(t, box("trun", trun));
  Bytes piff = full(0, 0);
  put32(piff, samples);
  put(piff, piff_entries);
  put(t, uuid_box(kPiffSenc, piff));
  Bytes moof_body = box("mfhd", full(0, 0, Bytes{0, 0, 0, 1}));
  put(moof_body, box("traf", t));
  put(moof_body, extra);
  Bytes in = box("moof", moof_body);
  for (const auto& b : all_boxes(in))
    if (b.header.type == bmff::fourcc("trun") && get32(in, b.offset + 16) == 0)
      set32(in, b.offset + 16, std::uint32_t(in.size() + 8));
  put(in, box("mdat", Bytes(8, 0)));
  return in;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_saio_of_more_offsets_than_truns_blocks_resizing) {
  // ~700,000 offsets, each of which a resize would relocate (8 bytes read
  // and 24 bytes of update apiece: 50 MiB for a 3 MiB moof).
  Bytes t3 = box("tfhd", full(0, 0x020000, Bytes{0, 0, 0, 3}));
  const std::uint32_t offsets = 700000;
  Bytes saio = full(0, 0);
  put32(saio, offsets);
  for (std::uint32_t i = 0; i < offsets; ++i) put32(saio, 16);
  put(t3, box("saio", saio));
  const Bytes in = growing_moof(box("traf", t3), Bytes(8, 0x11), 1);
  PatchStats s;
  std::size_t out = 0;
  const std::size_t peak = peak_during([&] { s = run(in, mode(PiffMode::convert, 8u << 20), &out); });
  BOOST_TEST(s.piff_converted == 0u);
  BOOST_TEST(s.passthrough_reason.find("saio has 700000 offsets for 0 truns") != std::string::npos,
             s.passthrough_reason);
  BOOST_TEST(out == in.size());
  BOOST_TEST(peak <= stated_budget(in.size()), "peak " << peak);
}

BOOST_AUTO_TEST_CASE(many_edits_and_many_relocated_fields_stay_fast) {
  // traf 1: a senc and 4,000 PIFF boxes (each renamed: one edit apiece);
  // traf 3: 4,000 truns and a saio with one offset per trun, each mapped to
  // its new place after traf 2 grows.
  Bytes t1 = box("tfhd", full(0, 0x020000, Bytes{0, 0, 0, 1}));
  Bytes senc = full(0, 0);
  put32(senc, 0);
  put(t1, box("senc", senc));
  Bytes empty_piff = full(0, 0);
  put32(empty_piff, 0);
  for (int i = 0; i < 4000; ++i) put(t1, uuid_box(kPiffSenc, empty_piff));
  Bytes t3 = box("tfhd", full(0, 0x020000, Bytes{0, 0, 0, 3}));
  Bytes saio = full(0, 0);
  put32(saio, 4000);
  for (int i = 0; i < 4000; ++i) put32(saio, 16);
  Bytes trun = full(0, 1);
  put32(trun, 0);
  put32(trun, 0);  // data_offset: past the moof, set by growing_moof
  for (int i = 0; i < 4000; ++i) put(t3, box("trun", trun));
  put(t3, box("saio", saio));
  Bytes extra = box("traf", t1);
  put(extra, box("traf", t3));
  const Bytes in = growing_moof(extra, Bytes(8, 0x11), 1);

  const auto start = std::chrono::steady_clock::now();
  PatchStats s;
  std::size_t out = 0;
  const std::size_t peak = peak_during([&] { s = run(in, mode(PiffMode::convert), &out); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(s.piff_converted == 1u, s.passthrough_reason);
  BOOST_TEST(s.piff_neutralised == 4000u);
  BOOST_TEST(out > in.size());
  BOOST_TEST(seconds < 2.0, seconds << " s");
  BOOST_TEST(peak <= stated_budget(in.size()), "peak " << peak);
}

BOOST_AUTO_TEST_CASE(converting_a_moof_at_the_size_cap_stays_within_the_stated_budget) {
  // One PIFF box of ~500,000 8-byte IVs filling a 4 MiB moof, converted to
  // senc+saiz+saio: the largest legitimate work a held moof can ask for.
  const std::size_t held = 4u << 20;
  const std::uint32_t samples = (held - 200) / 8;
  Bytes entries;
  entries.reserve(std::size_t(samples) * 8);
  for (std::uint32_t i = 0; i < samples; ++i) put64(entries, i);
  const Bytes in = growing_moof({}, entries, samples);
  BOOST_REQUIRE(in.size() - 16 <= held);
  // Whole, and in the origin client's 512 KiB reads (the held vector grows).
  for (std::size_t chunk : {in.size(), std::size_t(512u << 10)}) {
    PatchStats s;
    std::size_t out = 0;
    const std::size_t peak = peak_during([&] { s = run(in, mode(PiffMode::convert, held), &out, chunk); });
    BOOST_TEST(s.piff_converted == 1u, s.passthrough_reason);
    BOOST_TEST(peak <= stated_budget(held), "peak " << peak << " for a " << in.size() << "-byte moof");
    BOOST_TEST_MESSAGE("converting a " << in.size() << "-byte moof in " << chunk
                                       << "-byte reads peaked at " << peak << " bytes");
  }
}

BOOST_AUTO_TEST_SUITE_END()
