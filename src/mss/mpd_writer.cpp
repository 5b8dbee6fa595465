#include "mss/mpd_writer.h"

#include <cstdio>
#include <ctime>

#include "bmff/fields.h"
#include "http/url_codec.h"
#include "mss/codec.h"
#include "mss/init_segment.h"
#include "util/strings.h"

namespace dashpiff::mss {

namespace {

std::string base64(const Bytes& b) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < b.size(); i += 3) {
    const std::uint32_t v = static_cast<std::uint32_t>(b[i]) << 16 |
                            (i + 1 < b.size() ? static_cast<std::uint32_t>(b[i + 1]) << 8 : 0) |
                            (i + 2 < b.size() ? b[i + 2] : 0);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < b.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < b.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

std::string uuid_text(const Guid& g) {
  std::string out;
  char buf[3];
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    std::snprintf(buf, sizeof buf, "%02x", g[i]);
    out += buf;
  }
  return out;
}

// xs:duration with millisecond precision.
std::string duration(std::uint64_t ticks, std::uint64_t timescale) {
  const std::uint64_t ms = static_cast<std::uint64_t>(static_cast<unsigned __int128>(ticks) * 1000 / timescale);
  char buf[48];
  std::snprintf(buf, sizeof buf, "PT%llu.%03uS", static_cast<unsigned long long>(ms / 1000),
                static_cast<unsigned>(ms % 1000));
  return buf;
}

std::string utc(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string id_text(std::string_view s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  return out;
}

// `ticks` of a stream with timescale `from` in timescale `to`, rounded down.
std::uint64_t rescale(std::uint64_t ticks, std::uint64_t from, std::uint64_t to) {
  return static_cast<std::uint64_t>(static_cast<unsigned __int128>(ticks) * to / from);
}

// 'pssh' version 1 of the W3C Common PSSH system: the KID, no data.
Bytes common_pssh(const Guid& kid) {
  static constexpr Guid kCommon = {0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02,
                                   0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb, 0x4b};
  Bytes out;
  bmff::Pssh p;
  p.full.version = 1;
  p.system_id = kCommon;
  p.kids.push_back(kid);
  bmff::write_box(out, bmff::fourcc("pssh"), [&](bmff::FieldWriter& w) { p.io(w); });
  return out;
}

struct Convertible {
  std::size_t stream;
  std::vector<std::pair<std::size_t, CodecConfig>> levels;
};

}  // namespace

std::string init_path(const std::string& manifest_url_with_query, std::size_t stream, std::size_t level) {
  return encode_url(manifest_url_with_query) + "/" + std::to_string(stream) + "-" + std::to_string(level) + ".mp4";
}

std::string media_template(const std::string& url_pattern, std::uint64_t bitrate) {
  std::string out;
  bool has_time = false;
  for (std::size_t i = 0; i < url_pattern.size();) {
    bool matched = false;
    for (const char* key : {"{bitrate}", "{Bitrate}", "{start time}", "{start_time}", "{Start time}"}) {
      const std::string_view k(key);
      if (url_pattern.compare(i, k.size(), k) == 0) {
        const bool time = k.find("tart") != std::string_view::npos;
        out += time ? "$Time$" : std::to_string(bitrate);
        has_time = has_time || time;
        i += k.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (url_pattern[i] == '$') out += '$';
    out += url_pattern[i++];
  }
  return has_time ? out : std::string();
}

MpdResult write_mpd(const Manifest& m, const MpdOptions& options) {
  MpdResult result;
  // Which streams and levels can be described; the rest is named, not guessed.
  std::vector<Convertible> streams;
  for (std::size_t s = 0; s < m.streams.size(); ++s) {
    const StreamIndex& st = m.streams[s];
    const std::string label = st.type_name + " stream '" + st.name + "'";
    if (st.type != StreamType::video && st.type != StreamType::audio) {
      result.skipped.push_back(label + ": only video and audio are converted");
      continue;
    }
    if (st.timeline.empty()) {
      result.skipped.push_back(label + ": no fragments");
      continue;
    }
    Convertible c{s, {}};
    for (std::size_t q = 0; q < st.quality_levels.size(); ++q) {
      const QualityLevel& level = st.quality_levels[q];
      if (media_template(st.url_pattern, level.bitrate).empty()) {
        result.skipped.push_back(label + ": Url has no {start time}");
        break;
      }
      try {
        c.levels.emplace_back(q, codec_config(st, level));
      } catch (const MssError& e) {
        result.skipped.push_back(label + " QualityLevel " + std::to_string(q) + ": " + e.what());
      }
    }
    if (!c.levels.empty()) streams.push_back(std::move(c));
  }
  if (streams.empty()) {
    std::string why = "no video or audio stream dashpiff can convert";
    if (!result.skipped.empty()) why += " (" + result.skipped.front() + ")";
    throw MssError(MssError::Kind::unsupported, why);
  }

  // One presentation time origin for every stream: the earliest fragment.
  const StreamIndex* anchor = &m.streams[streams.front().stream];
  const StreamIndex* latest = anchor;
  for (const auto& c : streams) {
    const StreamIndex& st = m.streams[c.stream];
    if (static_cast<unsigned __int128>(st.start()) * anchor->timescale <
        static_cast<unsigned __int128>(anchor->start()) * st.timescale)
      anchor = &st;
    if (static_cast<unsigned __int128>(st.end()) * latest->timescale >
        static_cast<unsigned __int128>(latest->end()) * st.timescale)
      latest = &st;
  }
  const std::uint64_t span = latest->end() - rescale(anchor->start(), anchor->timescale, latest->timescale);
  std::uint64_t longest_fragment = 0;  // in latest's timescale
  for (const auto& c : streams)
    for (const auto& e : m.streams[c.stream].timeline)
      longest_fragment = std::max(longest_fragment, rescale(e.d, m.streams[c.stream].timescale, latest->timescale));

  std::string x;
  x += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += "<!-- Converted by dashpiff from a Smooth Streaming client manifest. -->\n";
  x += "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" xmlns:cenc=\"urn:mpeg:cenc:2013\" "
       "xmlns:mspr=\"urn:microsoft:playready\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\"";
  x += " minBufferTime=\"" + duration(std::max<std::uint64_t>(longest_fragment, 1), latest->timescale) + "\"";
  if (m.is_live) {
    const auto span_us = std::chrono::microseconds(rescale(span, latest->timescale, 1'000'000));
    x += " type=\"dynamic\" availabilityStartTime=\"" +
         utc(options.now - std::chrono::duration_cast<std::chrono::system_clock::duration>(span_us)) + "\"";
    x += " publishTime=\"" + utc(options.now) + "\"";
    x += " minimumUpdatePeriod=\"" + duration(longest_fragment, latest->timescale) + "\"";
    x += " timeShiftBufferDepth=\"" +
         (m.dvr_window ? duration(m.dvr_window, m.timescale) : duration(span, latest->timescale)) + "\"";
  } else {
    const std::uint64_t total = m.duration ? m.duration : rescale(span, latest->timescale, m.timescale);
    x += " type=\"static\" mediaPresentationDuration=\"" + duration(total, m.timescale) + "\"";
  }
  x += ">\n <Period id=\"0\" start=\"PT0S\">\n";

  const std::string query = options.carry_query && !options.manifest_query.empty() ? "?" + options.manifest_query : "";
  const std::string media_base = options.media_prefix + encode_url(options.manifest_url + query) + "/";
  const std::string manifest_with_query =
      options.manifest_url + (options.manifest_query.empty() ? "" : "?" + options.manifest_query);

  unsigned set_id = 0;
  for (const auto& c : streams) {
    const StreamIndex& st = m.streams[c.stream];
    const bool video = st.type == StreamType::video;
    x += "  <AdaptationSet id=\"" + std::to_string(set_id++) + "\" contentType=\"" + (video ? "video" : "audio") +
         "\" mimeType=\"" + (video ? "video/mp4" : "audio/mp4") + "\" segmentAlignment=\"true\" startWithSAP=\"1\"";
    if (!st.language.empty()) x += " lang=\"" + escape_markup(st.language) + "\"";
    x += ">\n";
    if (m.playready) {
      x += "   <ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\" cenc:default_KID=\"" +
           uuid_text(m.playready->kid) + "\"/>\n";
      // The W3C Common PSSH system (EME "cenc" initialization data) lists the
      // key ID for any key system; a player given its keys out of band
      // (ClearKey) selects it where it cannot use PlayReady.
      x += "   <ContentProtection schemeIdUri=\"urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b\" value=\"ClearKey1.0\">\n";
      x += "    <cenc:pssh>" + base64(common_pssh(m.playready->kid)) + "</cenc:pssh>\n";
      x += "   </ContentProtection>\n";
      x += "   <ContentProtection schemeIdUri=\"urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95\" value=\"MSPR 2.0\">\n";
      x += "    <cenc:pssh>" + base64(pssh_box(kPlayReadySystemId, m.playready->object)) + "</cenc:pssh>\n";
      x += "    <mspr:pro>" + base64(m.playready->object) + "</mspr:pro>\n";
      x += "   </ContentProtection>\n";
    }
    const std::uint64_t pto = rescale(anchor->start(), anchor->timescale, st.timescale);
    for (const auto& [q, codec] : c.levels) {
      const QualityLevel& level = st.quality_levels[q];
      x += "   <Representation id=\"" + id_text(st.name) + "_" + std::to_string(q) + "_" +
           std::to_string(level.bitrate) + "\" bandwidth=\"" + std::to_string(level.bitrate) + "\" codecs=\"" +
           escape_markup(codec.codecs) + "\"";
      if (video) {
        x += " width=\"" + std::to_string(codec.width) + "\" height=\"" + std::to_string(codec.height) + "\"";
      } else {
        x += " audioSamplingRate=\"" + std::to_string(codec.sample_rate) + "\"";
      }
      x += ">\n";
      if (!video)
        x += "    <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" "
             "value=\"" + std::to_string(codec.channels) + "\"/>\n";
      x += "    <SegmentTemplate timescale=\"" + std::to_string(st.timescale) + "\" presentationTimeOffset=\"" +
           std::to_string(pto) + "\" initialization=\"" +
           escape_markup(options.init_prefix + init_path(manifest_with_query, c.stream, q)) + "\" media=\"" +
           escape_markup(media_base + media_template(st.url_pattern, level.bitrate)) + "\">\n";
      x += "     <SegmentTimeline>\n";
      for (const TimelineEntry& e : st.timeline) {
        x += "      <S t=\"" + std::to_string(e.t) + "\" d=\"" + std::to_string(e.d) + "\"";
        if (e.repeat > 1) x += " r=\"" + std::to_string(e.repeat - 1) + "\"";  // DASH counts repeats after the first
        x += "/>\n";
      }
      x += "     </SegmentTimeline>\n    </SegmentTemplate>\n   </Representation>\n";
      ++result.representations;
    }
    x += "  </AdaptationSet>\n";
  }
  x += " </Period>\n</MPD>\n";
  result.xml = std::move(x);
  return result;
}

}  // namespace dashpiff::mss
