// Where bytes went when parts of a byte sequence were replaced by parts of
// other sizes, and the fields that must follow them. The one mechanism behind
// every offset and size the engine corrects: inside a rewritten moof (its
// edits move container sizes, trun data_offsets and saio offsets) and across
// the stream (its resized moofs move a held sidx's first referenced_size and
// an mfra's tfra moof_offsets).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dashpiff {

class Relocation {
 public:
  // Bytes [offset, offset + length) became `new_length` bytes (an insertion
  // has length 0). Replacements come in ascending order without overlapping;
  // false (nothing recorded) for one that does not.
  bool add(std::uint64_t offset, std::uint64_t length, std::uint64_t new_length);

  // Where byte `p` of the original now lies, or nullopt for a byte inside a
  // replacement of another size (a same-size replacement keeps positions).
  // An insertion at `p` lands before it.
  std::optional<std::uint64_t> map(std::uint64_t p) const;

  bool resizes() const { return !steps_.empty(); }
  std::size_t steps() const { return steps_.size(); }  // replacements that changed size
  std::int64_t delta() const { return steps_.empty() ? 0 : steps_.back().shift; }

 private:
  struct Step {
    std::uint64_t offset;
    std::uint64_t end;    // of the original bytes replaced
    std::int64_t delta;   // of this replacement
    std::int64_t shift;   // of everything at or after `end`
  };
  std::vector<Step> steps_;  // only replacements that change size
};

// A field that measures bytes: a size, or an offset counted from some base.
// Both are the distance from `from` to `from + value`, so both follow a
// relocation the same way: map(from + value) - map(from).
struct OffsetField {
  std::uint64_t position = 0;  // of the field, in the original bytes that hold it
  unsigned width = 4;          // bytes: 4 or 8
  unsigned bits = 32;          // of the value; higher bits of the field are kept (sidx)
  std::uint64_t from = 0;
  std::uint64_t value = 0;
  // What it is, for the reason when it cannot follow: "traf#2 saio offset",
  // "'moof' size". Kept in parts: the name is only spelled out on failure.
  const char* what = "field";
  std::uint32_t box = 0;   // 4CC of the box whose field it is, or 0
  std::uint32_t traf = 0;  // 1-based traf it lies in, or 0
  std::string name() const;
};

// A value to store, found before anything is written.
struct FieldUpdate {
  std::uint64_t position;  // in the original bytes
  unsigned width;
  unsigned bits;
  std::uint64_t value;
};

// The field's value after `moves`; false (and `error`) when what it measures
// begins or ends inside a resized replacement, or no longer fits its bits.
bool relocate(const OffsetField& field, const Relocation& moves, FieldUpdate& update,
              std::string& error);

// Stores `update` at `at` (where its field now lies), keeping the bits above
// its value.
void store_field(std::uint8_t* at, const FieldUpdate& update);

}  // namespace dashpiff
