// What the streaming patcher does with a top-level box, decided from its
// header alone (nothing of its body has arrived): hold it whole, forward it
// as it comes, or forward it and say why it could not be held. A pure
// function of the header, the options and two facts of the stream so far, so
// that the hot path's one decision is tested on its own (media3's
// shouldParseContainerAtom/shouldParseLeafAtom are the same idea).
#pragma once

#include <cstddef>
#include <string>

#include "bmff/box.h"
#include "piff/segment_patcher.h"

namespace dashpiff {

enum class BoxAction {
  hold,     // collect the whole box, then rewrite (moof, moov) or correct it (sidx, mfra)
  forward,  // pass it on as it arrives
  give_up,  // forward it too, and count and log `reason`: it should have been held
};

struct BoxDecision {
  BoxAction action = BoxAction::forward;
  std::string reason;  // for give_up; the caller adds where
};

// What the stream so far adds to the header.
struct StreamFacts {
  // Boxes may still change size here (the size policy's answer).
  bool may_resize = false;
  // Some moof before this box changed size, so offsets that point past it
  // (an mfra's tfra entries) have moved.
  bool moofs_moved = false;
};

// The largest sidx held to correct its first reference (a sidx indexes a
// whole file: its references are 12 bytes each).
constexpr std::size_t kMaxHeldSidx = 1u << 20;

BoxDecision decide_box(const bmff::BoxHeader& h, const PatchOptions& options,
                       const StreamFacts& facts);

}  // namespace dashpiff
