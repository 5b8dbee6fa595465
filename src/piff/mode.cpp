#include "piff/mode.h"

namespace dashpiff {

std::optional<PiffMode> parse_piff_mode(std::string_view text) {
  if (text == "off") return PiffMode::off;
  if (text == "free") return PiffMode::free;
  if (text == "uuid-free") return PiffMode::uuid_free;
  if (text == "convert") return PiffMode::convert;
  if (text == "auto") return PiffMode::automatic;
  return std::nullopt;
}

const char* to_string(PiffMode mode) {
  switch (mode) {
    case PiffMode::off: return "off";
    case PiffMode::free: return "free";
    case PiffMode::uuid_free: return "uuid-free";
    case PiffMode::convert: return "convert";
    case PiffMode::automatic: return "auto";
  }
  return "?";
}

}  // namespace dashpiff
