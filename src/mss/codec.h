// Decoder configuration for a synthesised sample entry, from a QualityLevel's
// FourCC and CodecPrivateData (MS-SSTR §2.2.2.5): AVC 'avcC' from the Annex B
// SPS/PPS, HEVC 'hvcC' from the Annex B VPS/SPS/PPS, AAC 'esds' from the
// AudioSpecificConfig (derived from SamplingRate/Channels when absent).
#pragma once

#include <cstdint>
#include <string>

#include "bmff/box.h"
#include "mss/manifest.h"

namespace dashpiff::mss {

struct CodecConfig {
  bmff::FourCC sample_entry = 0;  // avc1, hvc1, mp4a
  std::string codecs;             // RFC 6381, for the MPD
  Bytes config_box;               // the whole avcC / hvcC / esds box
  bool video = false;
  std::uint16_t width = 0, height = 0;
  std::uint16_t channels = 0, sample_size = 16;
  std::uint32_t sample_rate = 0;
};

// Throws MssError: unsupported for a FourCC dashpiff cannot describe,
// malformed for CodecPrivateData that does not parse.
CodecConfig codec_config(const StreamIndex& stream, const QualityLevel& level);

// Annex B byte stream -> NAL units (start codes 00 00 01 / 00 00 00 01).
std::vector<Bytes> split_annex_b(const Bytes& data);

}  // namespace dashpiff::mss
