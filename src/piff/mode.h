// The PIFF modes: what the engine does with PIFF boxes (README "PIFF modes").
// Its own header because the configuration, the metrics and the dump tool
// name a mode without needing the streaming patcher.
#pragma once

#include <optional>
#include <string_view>

namespace dashpiff {

enum class PiffMode {
  off,        // pass everything through
  free,       // 4CC of each PIFF sample-encryption box 'uuid' -> 'free'
  uuid_free,  // the original service: usertype -> UUID form of 'free'
  convert,    // PIFF -> CENC (senc/saiz/saio, tenc, pssh, schm cenc)
  automatic,  // neutralise where CENC data exists, convert where PIFF is the only carrier
};

std::optional<PiffMode> parse_piff_mode(std::string_view text);  // "off", "free", "uuid-free", "convert", "auto"
const char* to_string(PiffMode mode);

}  // namespace dashpiff
