#include "piff/relocation.h"

#include <algorithm>

#include "bmff/box.h"

namespace dashpiff {

bool Relocation::add(std::uint64_t offset, std::uint64_t length, std::uint64_t new_length) {
  if (!steps_.empty() && offset < steps_.back().end) return false;
  const std::int64_t d = static_cast<std::int64_t>(new_length) - static_cast<std::int64_t>(length);
  if (d == 0) return true;  // moves nothing
  steps_.push_back({offset, offset + length, d, delta() + d});
  return true;
}

std::optional<std::uint64_t> Relocation::map(std::uint64_t p) const {
  // The first replacement not wholly before p; ends ascend because the
  // replacements neither overlap nor go backwards.
  const auto next = std::upper_bound(steps_.begin(), steps_.end(), p,
                                     [](std::uint64_t x, const Step& s) { return x < s.end; });
  if (next != steps_.end() && next->offset < p) return std::nullopt;
  const std::int64_t shift = next == steps_.begin() ? 0 : std::prev(next)->shift;
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(p) + shift);
}

std::string OffsetField::name() const {
  std::string s;
  if (traf) s = "traf#" + std::to_string(traf) + " ";
  if (box) s += "'" + bmff::fourcc_text(box) + "' ";
  return s + what;
}

bool relocate(const OffsetField& field, const Relocation& moves, FieldUpdate& update,
              std::string& error) {
  const auto from = moves.map(field.from);
  const auto to = moves.map(field.from + field.value);
  if (!from || !to) {
    error = field.name() + " points into a rewritten box";
    return false;
  }
  const std::uint64_t max = field.bits >= 64 ? UINT64_MAX : (std::uint64_t(1) << field.bits) - 1;
  if (*to < *from || *to - *from > max) {
    error = field.name() + " out of range after the rewrite";
    return false;
  }
  update = {field.position, field.width, field.bits, *to - *from};
  return true;
}

void store_field(std::uint8_t* at, const FieldUpdate& update) {
  if (update.width == 8) {
    bmff::store_u64(at, update.value);
    return;
  }
  const std::uint32_t mask = update.bits >= 32 ? 0xffffffffu : (std::uint32_t(1) << update.bits) - 1;
  bmff::store_u32(at, (bmff::load_u32(at) & ~mask) | static_cast<std::uint32_t>(update.value));
}

}  // namespace dashpiff
