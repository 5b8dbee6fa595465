// libFuzzer target for the segment engine. For every input, in the mode and
// size preservation its first byte picks:
//  - no crash, no sanitizer report;
//  - the output does not depend on how the input was chunked;
//  - off mode is the identity; a patcher that claims preserves_size() keeps
//    the length; nothing counted as changed means output == input;
//  - when the input's boxes add up (top level, and inside every moof/moov),
//    so do the output's.
// The first input byte picks the mode, size preservation and chunk size; the
// rest is the stream. One mode per execution (not all ten combinations) keeps
// an execution cheap enough for the long campaign's 10 million (campaign.sh);
// libFuzzer flips that byte like any other, so every combination is reached.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bmff/box.h"
#include "piff/segment_patcher.h"

namespace {

using Bytes = std::vector<std::uint8_t>;
namespace bm = dashpiff::bmff;

[[noreturn]] void fail(const char* what, dashpiff::PiffMode mode, bool keep) {
  std::fprintf(stderr, "fuzz_segment: %s (mode %s, size_preserving %d)\n", what,
               dashpiff::to_string(mode), keep ? 1 : 0);
  std::abort();
}

// Top-level sizes add up to exactly the length, and every moof/moov parses.
bool well_formed(const Bytes& b) {
  std::size_t pos = 0;
  while (pos < b.size()) {
    const auto hp = bm::parse_box_header(b.data() + pos, b.size() - pos, b.size() - pos);
    if (hp.status != bm::HeaderStatus::ok) return false;
    const std::size_t size = static_cast<std::size_t>(hp.header.size);
    const auto type = hp.header.type;
    if (type == bm::fourcc("moof") || type == bm::fourcc("moov")) {
      std::string error;
      if (!bm::parse_tree(b.data() + pos, size, error)) return false;
    }
    pos += size;
  }
  return true;
}

Bytes run(const Bytes& in, const dashpiff::PatchOptions& o, std::size_t chunk,
          dashpiff::PatchStats& stats, bool& preserves) {
  Bytes out;
  dashpiff::SegmentPatcher p(o, [&out](const std::uint8_t* d, std::size_t n) {
    out.insert(out.end(), d, d + n);
    return true;
  });
  preserves = p.preserves_size();
  for (std::size_t at = 0; at < in.size(); at += chunk)
    p.feed(in.data() + at, std::min(chunk, in.size() - at));
  p.finish();
  stats = p.stats();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  using dashpiff::PiffMode;
  static constexpr PiffMode kModes[] = {PiffMode::off, PiffMode::free, PiffMode::uuid_free,
                                        PiffMode::convert, PiffMode::automatic};
  // Chunk sizes around the engine's boundaries: single bytes, box headers
  // (8, 16), full-box headers (12), a uuid (24), and larger reads.
  static constexpr std::size_t kChunks[] = {1,  2,  3,  5,  7,   8,   9,   11,  12,   13,   16,   17,   23,
                                            24, 25, 31, 64, 100, 127, 255, 512, 1000, 1500, 4096, 4999, 5000};
  const unsigned pick = data[0] % 10;
  const PiffMode mode = kModes[pick / 2];
  const bool keep = (pick % 2) != 0;
  const std::size_t chunk = kChunks[(data[0] / 10) % (sizeof kChunks / sizeof kChunks[0])];
  const Bytes in(data + 1, data + size);
  const bool input_ok = well_formed(in);

  dashpiff::PatchOptions o;
  o.mode = mode;
  o.size_preserving = keep;
  o.max_held_box = 1u << 16;
  dashpiff::PatchStats s1, s2;
  bool preserves = false, preserves2 = false;
  const Bytes out = run(in, o, chunk, s1, preserves);
  const Bytes whole = run(in, o, in.size() ? in.size() : 1, s2, preserves2);
  if (out != whole) fail("output depends on chunking", mode, keep);
  if (s1.bytes_in != in.size() || s1.bytes_out != out.size()) fail("byte counts wrong", mode, keep);
  if (mode == PiffMode::off && out != in) fail("off mode changed bytes", mode, keep);
  if (preserves && out.size() != in.size()) fail("preserves_size() lied", mode, keep);
  if (s1.piff_neutralised + s1.piff_converted == 0 && out != in)
    fail("bytes changed without a counted change", mode, keep);
  if (input_ok && !well_formed(out)) fail("well-formed input, malformed output", mode, keep);
  if (s1.changes.size() > 33) fail("change list not bounded", mode, keep);
  return 0;
}
