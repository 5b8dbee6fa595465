// The edit plan of one held top-level box: byte replacements decided by the
// planners (moof_plan, init_plan, pssh_plan), then applied in one pass with
// everything that measures bytes (container sizes, the offset fields the
// planner names) following them through one Relocation. Nothing is written
// until every value is known to fit: the box is rewritten completely or left
// exactly as it came.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bmff/box.h"
#include "bmff/fields.h"
#include "piff/convert.h"
#include "piff/relocation.h"

namespace dashpiff {

// One replacement of original bytes [offset, offset + length). Insertions have
// length 0. `self_refs` are 32-bit fields inside `bytes` that must hold the
// final box-relative position of another byte of `bytes` (a new saio offset
// pointing at its senc), known only once the layout is final.
struct Edit {
  std::size_t offset = 0;
  std::size_t length = 0;
  std::vector<std::uint8_t> bytes;
  struct SelfRef {
    std::size_t field_at;
    std::size_t target_at;
  };
  std::vector<SelfRef> self_refs;

  std::int64_t delta() const { return std::int64_t(bytes.size()) - std::int64_t(length); }
};

class EditPlan {
 public:
  void add(Edit e) { edits_.push_back(std::move(e)); }
  bool empty() const { return edits_.empty(); }
  bool resizes() const;
  // Orders the edits by offset; false when two overlap (a planner's bug).
  bool settle();
  const std::vector<Edit>& edits() const { return edits_; }
  void clear() { edits_.clear(); }

 private:
  std::vector<Edit> edits_;
};

// What every planner works with: the held box and its tree, the request's
// context, the plan it adds to and the outcome it reports into.
struct PlanScope {
  const std::vector<std::uint8_t>& box;
  const bmff::Node& root;
  const RewriteContext& ctx;
  EditPlan& plan;
  RewriteOutcome& out;
  std::string top;  // "moof#3": how changes and refusals name the box

  const std::uint8_t* data() const { return box.data(); }
  bool converting() const {
    return ctx.mode == PiffMode::convert || ctx.mode == PiffMode::automatic;
  }
  void change(const std::string& text) { out.changes.push_back(text); }
  void refuse(const std::string& where, const std::string& what, const std::string& why) {
    out.refusals.push_back(where + ": " + what + " left unchanged: " + why);
  }
  // A PIFF box renamed 'free' (same size, SPEC §3).
  void neutralise(const bmff::Box& b, const std::string& text);
  // A PIFF box rewritten as the CENC box `fields` describe, in its own bytes
  // (filler_then_box below); refused as `what` at `where` when it does not fit.
  template <class Fields>
  void convert_in_place(const bmff::Box& b, Fields& fields, const std::string& where,
                        const char* what, const std::string& text);
};

// Edits that keep every other byte where it is.
Edit rename_box(const bmff::Box& b, bmff::FourCC type);
Edit replace_usertype(const bmff::Box& b, const bmff::Uuid& id);

// [free filler][box] in exactly the bytes of the PIFF box `b`: the filler
// takes the usertype's place (and that of `dropped` leading body bytes, the
// override fields), so every later byte keeps its absolute offset.
template <class Fields>
std::optional<Edit> filler_then_box(const bmff::Box& b, Fields& fields, std::size_t dropped) {
  const std::size_t filler = (b.header.header_size - 8) + dropped;
  Edit e;
  e.offset = b.offset;
  e.length = b.size;
  e.bytes.resize(filler);
  bmff::store_u32(e.bytes.data(), static_cast<std::uint32_t>(filler));
  bmff::store_u32(e.bytes.data() + 4, bmff::fourcc("free"));
  if (!bmff::write_box(e.bytes, fields)) return std::nullopt;
  if (e.bytes.size() != b.size) return std::nullopt;
  return e;
}

template <class Fields>
void PlanScope::convert_in_place(const bmff::Box& b, Fields& fields, const std::string& where,
                                 const char* what, const std::string& text) {
  auto e = filler_then_box(b, fields, 0);
  if (!e) return refuse(where, what, "cannot be rewritten in place");
  plan.add(std::move(*e));
  ++out.converted;
  change(text);
}

// Applies a settled plan to `box` (one top-level box, parsed as `root`). When
// the plan resizes, every container size and each of `fields` follows the
// edits; false (the box untouched, `error` set) when one cannot.
bool apply_plan(std::vector<std::uint8_t>& box, const bmff::Node& root, const EditPlan& plan,
                const std::vector<OffsetField>& fields, std::int64_t& delta, std::string& error);

}  // namespace dashpiff
