// Human-readable box tree of an ISO BMFF file: type, offset, size, PIFF boxes
// by name, and summaries of the boxes that matter for encryption. The
// operator's view of a segment a player fails on.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>

namespace dashpiff {

struct DumpResult {
  bool complete = true;  // false: the walk stopped at bytes that are not boxes
  std::string problem;   // why it stopped
};

// Top-level boxes are read from `in` one header at a time; containers up to
// `max_load` bytes are loaded to show their children, larger ones (and mdat)
// are only listed.
DumpResult dump_boxes(std::istream& in, std::ostream& out,
                      std::uint64_t max_load = 64u << 20);

}  // namespace dashpiff
