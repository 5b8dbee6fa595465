// Rewrites one complete, held top-level box (moof or moov) according to the
// PIFF mode: neutralises PIFF sample-encryption boxes or converts PIFF to CENC
// (SPEC §3). All decisions are made and checked before a byte changes, so the
// box is either rewritten completely or left exactly as it came.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "piff/mode.h"

namespace dashpiff {

struct RewriteContext {
  PiffMode mode = PiffMode::automatic;
  // The segment patcher's SizePolicy verdict for this box: empty when it may
  // change size, otherwise why not (only size-preserving rewrites then).
  std::string size_blocker;
  std::uint64_t index = 1;  // 1-based number of this moof (or moov) in the stream
};

struct RewriteOutcome {
  bool changed = false;
  bool malformed = false;           // could not be parsed: passed through unchanged
  std::string malformed_reason;
  std::uint64_t neutralised = 0;
  std::uint64_t converted = 0;
  std::int64_t size_delta = 0;      // bytes added (negative: removed)
  std::vector<std::string> changes;   // "moof#1 traf#2: PIFF senc -> free"
  std::vector<std::string> refusals;  // "moof#1 traf#1: PIFF senc left unchanged: <reason>"
};

// `box` holds exactly one moof or moov, header included. On success it holds
// the rewritten box; when nothing is rewritten it is left untouched.
RewriteOutcome rewrite_held_box(std::vector<std::uint8_t>& box, const RewriteContext& ctx);

}  // namespace dashpiff
