// The initialization segment a Smooth client would build for itself
// (MS-SSTR §3.1.5: the manifest carries everything a 'moov' needs): ftyp +
// moov with one track (ID kTrackId) whose sample entry comes from the
// QualityLevel, 'encv'/'enca' + 'sinf' (schm cenc, tenc with the PlayReady
// KID) and a PlayReady 'pssh' when the manifest is protected.
#pragma once

#include <cstdint>

#include "mss/codec.h"
#include "mss/manifest.h"

namespace dashpiff::mss {

// Every synthesised moov has one track with this ID; converted fragments
// carry it in their tfhd.
constexpr std::uint32_t kTrackId = 1;

// The IV size the synthesised tenc declares: PIFF 1.1 §5.3.2 and PlayReady's
// AES-CTR use 8-byte IVs. Fragments with other sizes are refused by the
// fragment converter rather than mis-decrypted.
constexpr std::uint8_t kIvSize = 8;

// Throws MssError (via codec_config).
Bytes synthesise_init(const Manifest& manifest, const StreamIndex& stream, const QualityLevel& level);

// A version-0 'pssh' box for `system` carrying `data`.
Bytes pssh_box(const Guid& system, const Bytes& data);

}  // namespace dashpiff::mss
