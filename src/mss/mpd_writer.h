// A DASH MPD (ISO/IEC 23009-1) for a Smooth presentation: one AdaptationSet
// per video/audio StreamIndex, one Representation per QualityLevel,
// SegmentTemplate + SegmentTimeline from the `c` elements, media URLs that
// come back through /media/ to the origin's QualityLevels(..)/Fragments(..),
// initialization URLs on the synthesised-init route, and the cenc +
// PlayReady ContentProtection of a protected manifest. Live manifests become
// dynamic MPDs anchored at the time of the answer.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "mss/manifest.h"

namespace dashpiff::mss {

struct MpdOptions {
  std::string manifest_url;    // absolute origin URL of the client manifest, without query
  std::string manifest_query;  // its query (without '?'), may be empty
  bool carry_query = true;     // token-mode=pass: the query rides inside every encoded base
  std::string media_prefix = "/media/";
  std::string init_prefix = "/mss-init/";
  // Live only: the wall-clock instant the newest fragment's end stands for.
  std::chrono::system_clock::time_point now{};
};

struct MpdResult {
  std::string xml;
  unsigned representations = 0;
  std::vector<std::string> skipped;  // "text stream 'textstream_eng'", "QualityLevel 2 of video: FourCC 'WVC1' ..."
};

// Throws MssError (unsupported) when no stream can be converted.
MpdResult write_mpd(const Manifest& manifest, const MpdOptions& options);

// The init route's path after its prefix for a stream and quality level
// (positions in the manifest): "{enc(manifest URL[?query])}/{stream}-{level}.mp4".
std::string init_path(const std::string& manifest_url_with_query, std::size_t stream, std::size_t level);

// The Smooth URL pattern with {bitrate} filled in and {start time} as the
// DASH $Time$ identifier, literal '$' doubled (ISO/IEC 23009-1 §5.3.9.4.4).
// Empty when the pattern has no start-time placeholder.
std::string media_template(const std::string& url_pattern, std::uint64_t bitrate);

}  // namespace dashpiff::mss
