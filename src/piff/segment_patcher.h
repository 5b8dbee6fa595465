// Streaming ISO BMFF segment patcher: bytes in, bytes out, in chunks of any
// size, holding at most one moof (or moov) at a time. Knows nothing of HTTP.
//
// Worst-case memory of one request (issue #12), M = max_held_box
// (max-moof-bytes, 4 MiB by default), whatever counts the boxes declare:
//   held box, grown as its bytes arrive       <= 2 M (vector capacity)
//   its copy while a sidx waits on it         <=   M
//   rewrite: sample entries copied            <=   M
//            per-sample aux sizes (4 B each)  <=   M / 2  (one per 8 entry bytes,
//                                                 or bmff::kMaxEmptySampleEntries)
//            edits and the rewritten box      <= 2 (M + M / 8 + 64 KiB)
//            parse tree                       <= bmff::kMaxTreeNodes nodes, ~1.5 MiB
//   held sidx (+ its references)              <= 1 MiB + 0.8 MiB
//   resized-moof list for an mfra             <= 1 MiB
// about 7 M + 5 MiB (33 MiB at the default), checked by
// tests/unit/test_engine_budget.cpp under a counting allocator; a 4 MiB moof
// converted whole measures 3.5 M. Every count read from a box is checked
// against the bytes that hold its entries before anything is sized by it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "piff/mode.h"

namespace dashpiff {

struct PatchOptions {
  PiffMode mode = PiffMode::automatic;
  std::size_t max_held_box = 4u << 20;  // a moof/moov larger than this passes through unchanged
  // Range responses and sidx-indexed files: every byte must keep its offset,
  // so only size-preserving rewrites are allowed.
  bool size_preserving = false;
  // The input's length when the caller knows it (the origin's Content-Length):
  // lets the patcher tell the output's length before its first byte.
  std::optional<std::uint64_t> input_length;
  // The file offset of the input's first byte: 0 for a whole file, the
  // range's first byte for an on-demand subsegment. Absolute offsets in the
  // stream (a tfhd base_data_offset, a tfra moof_offset) count from the file.
  std::uint64_t stream_offset = 0;
};

// What the patcher can say about its whole output before the first byte of
// it leaves (see SegmentPatcher's Decided).
struct OutputPlan {
  std::optional<std::uint64_t> length;  // exact output length; none: not known until the end
  bool identical = false;               // the output is the input, byte for byte
};

struct PatchStats {
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t piff_neutralised = 0;  // PIFF boxes made 'free' / uuid-free
  std::uint64_t piff_converted = 0;    // PIFF boxes turned into their CENC counterpart
  std::uint64_t passthrough_events = 0;  // times the patcher gave up and passed bytes through
  std::string passthrough_reason;      // first reason, one line
  std::vector<std::string> changes;    // human-readable, bounded (for logs and the /player page)
};

class SegmentPatcher {
 public:
  // Receives output bytes in order. Returns false to stop (client gone).
  using Sink = std::function<bool(const std::uint8_t* data, std::size_t size)>;

  // Called once, before the first output byte reaches the sink, with what
  // the output will be. Given one, the patcher holds its output until it
  // knows: when the first moof (or moov) has been rewritten and the header
  // after it is seen, or earlier when nothing can change any more. Having
  // announced a length, it keeps every later box's size (SizePolicy).
  using Decided = std::function<void(const OutputPlan& plan)>;

  SegmentPatcher(PatchOptions options, Sink sink, Decided decided = nullptr);
  ~SegmentPatcher();
  SegmentPatcher(const SegmentPatcher&) = delete;
  SegmentPatcher& operator=(const SegmentPatcher&) = delete;

  // Returns false once the sink has refused data.
  bool feed(const std::uint8_t* data, std::size_t size);
  bool feed(std::string_view chunk) {
    return feed(reinterpret_cast<const std::uint8_t*>(chunk.data()), chunk.size());
  }
  // End of input: flushes anything held (unchanged if it never completed).
  bool finish();

  const PatchStats& stats() const;
  // True when the output is guaranteed to be as long as the input whatever
  // the stream holds (the mode or the options say so).
  bool preserves_size() const;
  // The decision has been made (always, without a Decided callback).
  bool decided() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dashpiff
