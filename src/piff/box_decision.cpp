#include "piff/box_decision.h"

namespace dashpiff {

using namespace bmff;

BoxDecision decide_box(const BoxHeader& h, const PatchOptions& options, const StreamFacts& facts) {
  const bool bounded = h.form != SizeForm::to_end;
  // A sidx is held until the moof its first reference starts with has been
  // rewritten, so that the reference's size can follow the moof's.
  if (h.type == fourcc("sidx") && facts.may_resize && bounded && h.size <= kMaxHeldSidx)
    return {BoxAction::hold, {}};
  // An mfra's tfra entries point at moofs by file offset: once a moof has
  // changed size, the ones after it have moved.
  if (h.type == fourcc("mfra") && facts.moofs_moved) {
    if (bounded && h.size <= options.max_held_box) return {BoxAction::hold, {}};
    return {BoxAction::give_up,
            "mfra of " + std::to_string(h.size) + " bytes cannot be held; its tfra offsets are stale"};
  }
  if (h.type == fourcc("moof") || h.type == fourcc("moov")) {
    const std::string name = fourcc_text(h.type);
    if (!bounded) return {BoxAction::give_up, name + " with size 0 (to end of stream) passed through"};
    if (h.size > options.max_held_box)
      return {BoxAction::give_up, name + " of " + std::to_string(h.size) +
                                      " bytes exceeds max_held_box (" +
                                      std::to_string(options.max_held_box) + ") and passed through"};
    return {BoxAction::hold, {}};
  }
  return {BoxAction::forward, {}};
}

}  // namespace dashpiff
