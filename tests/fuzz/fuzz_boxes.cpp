// libFuzzer target for the box walker, the field descriptions and the box
// dump: every parser that reads a count, size or offset from a box. Run with
// -malloc_limit_mb (see run-fuzz.sh) so that an allocation sized by a
// declared count, rather than by the bytes present, is a finding (issue #12).
// The first input byte picks the IV size and flags for the sample entries;
// the rest is parsed as one box, as the payload of each described box, as a
// file for the dump, and as an on-demand index range (mpd/segment_index).
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "bmff/box.h"
#include "bmff/fields.h"
#include "mpd/segment_index.h"
#include "piff/dump.h"

namespace bm = dashpiff::bmff;

namespace {

template <class T>
void read_as(const std::uint8_t* p, std::size_t n) {
  (void)bm::read_fields<T>(p, n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned iv = (data[0] & 3) == 0 ? 0 : (data[0] & 3) == 1 ? 8 : 16;
  const bool subsamples = (data[0] & 4) != 0;
  const std::uint8_t* p = data + 1;
  const std::size_t n = size - 1;

  std::string error;
  (void)bm::parse_tree(p, n, error);
  std::vector<bm::Box> boxes;
  (void)bm::walk_boxes(p, 0, n, boxes, error);

  read_as<bm::Tfhd>(p, n);
  read_as<bm::TrunHead>(p, n);
  read_as<bm::Saiz>(p, n);
  read_as<bm::Saio>(p, n);
  read_as<bm::Tenc>(p, n);
  read_as<bm::PiffTenc>(p, n);
  read_as<bm::Pssh>(p, n);
  read_as<bm::Schm>(p, n);
  read_as<bm::SampleGroupHead>(p, n);
  read_as<bm::SbgpOneRun>(p, n);
  read_as<bm::SgpdSeig>(p, n);
  read_as<bm::Sidx>(p, n);
  // An index range at a file offset the first byte picks (near 0 or near
  // 2^63, where the reference offsets must not overflow).
  const std::uint64_t offset = (data[0] & 8) ? dashpiff::kMaxBytePosition - (data[0] >> 4) * 4096u : data[0];
  const auto index = dashpiff::mpd::read_segment_index(p, n, offset);
  if (index.index)
    for (const auto& sub : index.index->subsegments)
      if (sub.bytes.first > sub.bytes.last || sub.bytes.last > dashpiff::kMaxBytePosition) __builtin_trap();
  for (bool piff : {false, true}) {
    bm::SampleEncryption se;
    se.piff = piff;
    bm::FieldReader r(p, n);
    if (se.io(r)) {
      std::vector<std::uint32_t> sizes;
      const unsigned use = se.has_override() ? se.iv_size : iv;
      (void)bm::measure_sample_entries(se.entries.data(), se.entries.size(), se.sample_count, use,
                                       subsamples, &sizes, nullptr);
      (void)bm::parse_sample_entries(se.entries.data(), se.entries.size(), se.sample_count, use,
                                     subsamples);
    }
  }

  std::istringstream in(std::string(reinterpret_cast<const char*>(p), n));
  std::ostringstream out;
  (void)dashpiff::dump_boxes(in, out);
  return 0;
}
