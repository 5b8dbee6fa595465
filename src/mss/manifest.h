// The Smooth Streaming client manifest (MS-SSTR §2.2.2): what the MPD
// writer and the init-segment synthesiser need of it, read with the hardened
// Xerces-C parse the MPD rewriter uses. Every number is checked before it is
// used; a manifest this module cannot describe faithfully is refused with an
// MssError naming the element, never half-read.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dashpiff::mss {

class MssError : public std::runtime_error {
 public:
  enum class Kind {
    malformed,    // not well-formed, or a required attribute missing or out of range
    unsupported,  // well-formed but uses what dashpiff does not convert (named in the message)
  };
  MssError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

using Bytes = std::vector<std::uint8_t>;
using Guid = std::array<std::uint8_t, 16>;

// One `c` element (MS-SSTR §2.2.2.6) with its start made explicit: `repeat`
// fragments of duration `d` from `t` (the `r` attribute, 1 when absent).
struct TimelineEntry {
  std::uint64_t t = 0;
  std::uint64_t d = 0;
  std::uint64_t repeat = 1;
  std::uint64_t end() const { return t + d * repeat; }
};

struct QualityLevel {
  std::uint64_t bitrate = 0;
  std::string fourcc;      // as written ("H264", "AVC1", "AACL", "HVC1", ...)
  Bytes codec_private_data;
  std::uint32_t max_width = 0;
  std::uint32_t max_height = 0;
  std::uint32_t sampling_rate = 0;
  std::uint32_t channels = 0;
  std::uint32_t bits_per_sample = 0;
  std::uint32_t nal_unit_length = 4;  // NALUnitLengthField
};

enum class StreamType { video, audio, text, other };

struct StreamIndex {
  StreamType type = StreamType::other;
  std::string type_name;   // the Type attribute as written
  std::string name;        // Name, or the type name when absent
  std::string language;
  std::string url_pattern; // "QualityLevels({bitrate})/Fragments(video={start time})"
  std::uint64_t timescale = 0;  // the stream's own, else the manifest's
  std::uint32_t display_width = 0;
  std::uint32_t display_height = 0;
  std::vector<QualityLevel> quality_levels;
  std::vector<TimelineEntry> timeline;

  std::uint64_t start() const { return timeline.empty() ? 0 : timeline.front().t; }
  std::uint64_t end() const { return timeline.empty() ? 0 : timeline.back().end(); }
};

// MS-SSTR §2.2.2.2: one ProtectionHeader per DRM system; only PlayReady's
// is understood.
struct PlayReadyHeader {
  Bytes object;  // the PlayReady Object (base64-decoded ProtectionHeader text)
  Guid kid{};    // CENC byte order (the WRMHEADER GUID with its first three fields swapped)
};

struct Manifest {
  std::uint32_t major_version = 0;
  std::uint64_t timescale = 10'000'000;
  std::uint64_t duration = 0;
  bool is_live = false;
  std::uint64_t dvr_window = 0;  // DVRWindowLength, 0 = unbounded
  std::uint32_t lookahead = 0;
  std::vector<StreamIndex> streams;
  std::optional<PlayReadyHeader> playready;
};

// A SmoothStreamingMedia root near the start of the body (UTF-8 or UTF-16,
// as IIS writes it).
bool looks_like_smooth(std::string_view body_start);

// Throws MssError. `max_fragments` bounds the fragments the timelines may
// describe in all, so that nothing later loops over an attacker's `r`.
Manifest parse_manifest(std::string_view xml, std::uint64_t max_fragments = 1'000'000);

// The PlayReady system ID (MS-SSTR §2.2.2.2, ISO/IEC 23001-7 pssh SystemID).
extern const Guid kPlayReadySystemId;

}  // namespace dashpiff::mss
