// On-demand DASH (ISO/IEC 23009-1 §5.3.9.2, SegmentBase): a Representation
// is one file whose `sidx` (ISO/IEC 14496-12 §8.16.3) lists its subsegments.
// This reads the index the origin's bytes hold into byte ranges and
// durations, checking every count, size and offset against the bytes that
// hold it, so that the MPD rewrite can give each subsegment a URL of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/byte_span.h"

namespace dashpiff::mpd {

struct Subsegment {
  ByteSpan bytes;
  std::uint64_t duration = 0;  // in the index's timescale
};

struct SegmentIndex {
  std::uint32_t timescale = 0;
  std::uint64_t earliest_presentation_time = 0;
  std::vector<Subsegment> subsegments;
};

// More than any real file (a sidx holds at most 65535 references; a two-hour
// film cut every 2 s has 3600) and few enough that the MPD the rewrite makes
// stays within its bounds.
constexpr std::size_t kMaxSubsegments = 65535;

struct IndexRead {
  std::optional<SegmentIndex> index;
  std::string error;        // why there is none, one line
  std::uint64_t needed = 0;  // > 0: the sidx box is this long and runs past the bytes given
};

// `data` holds the file's bytes from `offset` on (an @indexRange's first byte).
// The first box there must be a `sidx` of one level (every reference to media,
// none to another index), with at least one reference, a timescale, no zero
// size or duration, offsets and times that do not overflow, and no more than
// `max_subsegments` references.
IndexRead read_segment_index(const std::uint8_t* data, std::size_t size, std::uint64_t offset,
                             std::size_t max_subsegments = kMaxSubsegments);

}  // namespace dashpiff::mpd
