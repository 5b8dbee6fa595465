// The one answer to "may this box change size?". The segment patcher owns it:
// it is made from the mode and the request, tightened as the stream reveals
// what has been promised (a sidx sent, a Content-Length announced), and each
// held box's planner is handed its verdict for that box.
#pragma once

#include <cstdint>
#include <string>

#include "piff/mode.h"

namespace dashpiff {

class SizePolicy {
 public:
  // keep_offsets: every output byte must sit where it sat in the input (a
  // byte range of the origin's file, a sidx-indexed file cut by the caller).
  SizePolicy(PiffMode mode, bool keep_offsets)
      : resizing_mode_(mode == PiffMode::convert || mode == PiffMode::automatic), keep_offsets_(keep_offsets) {}

  // The output is as long as the input whatever the stream holds.
  bool preserves_size() const { return !resizing_mode_ || keep_offsets_; }

  // Boxes that start before `end` (input offset) must keep their size from now
  // on; `reason` is what the refusal says. A later, longer lock wins.
  void lock_until(std::uint64_t end, std::string reason) {
    if (end > locked_until_) {
      locked_until_ = end;
      lock_reason_ = std::move(reason);
    }
  }
  void lock_all(std::string reason) { lock_until(UINT64_MAX, std::move(reason)); }

  // Empty when the box at input offset `offset` may change size; otherwise
  // why it may not, one line.
  std::string blocker(std::uint64_t offset) const {
    if (!resizing_mode_) return "the mode keeps every size";
    if (keep_offsets_) return "the answer must keep its size (Range request or sidx-indexed file)";
    if (offset < locked_until_) return lock_reason_;
    return {};
  }
  bool may_resize(std::uint64_t offset) const { return blocker(offset).empty(); }

 private:
  bool resizing_mode_;
  bool keep_offsets_;
  std::uint64_t locked_until_ = 0;
  std::string lock_reason_;
};

}  // namespace dashpiff
