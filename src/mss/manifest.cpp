#include "mss/manifest.h"

#include <limits>

#include "mpd/dom.h"
#include "mpd/error.h"
#include "mpd/protection.h"
#include "util/strings.h"

namespace dashpiff::mss {

using namespace xercesc;

const Guid kPlayReadySystemId = {0x9a, 0x04, 0xf0, 0x79, 0x98, 0x40, 0x42, 0x86,
                                 0xab, 0x92, 0xe6, 0x5b, 0xe0, 0x88, 0x5f, 0x95};

namespace {

[[noreturn]] void malformed(const std::string& why) { throw MssError(MssError::Kind::malformed, why); }

std::optional<std::string> attribute(const DOMElement* e, std::string_view name) {
  const std::u16string xname = mpd::to_xml(name);
  const DOMAttr* a = e->getAttributeNode(reinterpret_cast<const XMLCh*>(xname.c_str()));
  if (!a) return std::nullopt;
  return mpd::to_utf8(a->getValue());
}

// Strict decimal: digits only, no sign, no overflow.
std::uint64_t number(const std::string& text, const char* what, std::uint64_t max) {
  if (text.empty() || text.size() > 20) malformed(std::string(what) + " is not a number: '" + text.substr(0, 40) + "'");
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') malformed(std::string(what) + " is not a number: '" + text.substr(0, 40) + "'");
    const unsigned digit = static_cast<unsigned>(c - '0');
    if (v > (max - digit) / 10) malformed(std::string(what) + " is out of range: " + text);
    v = v * 10 + digit;
  }
  return v;
}

std::optional<std::uint64_t> number_attr(const DOMElement* e, std::string_view name, const char* what,
                                         std::uint64_t max = std::numeric_limits<std::int64_t>::max()) {
  const auto text = attribute(e, name);
  if (!text) return std::nullopt;
  return number(*text, what, max);
}

Bytes hex_bytes(const std::string& text, const char* what) {
  if (text.size() % 2) malformed(std::string(what) + " has an odd number of hex digits");
  Bytes out;
  out.reserve(text.size() / 2);
  auto nibble = [&](char c) -> unsigned {
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<unsigned>(c - 'A' + 10);
    malformed(std::string(what) + " is not hex");
  };
  for (std::size_t i = 0; i < text.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(nibble(text[i]) << 4 | nibble(text[i + 1])));
  return out;
}

std::optional<Guid> guid_from_uuid_text(std::string_view text) {
  Guid g{};
  int n = 0;
  for (char c : text) {
    if (c == '-' || c == '{' || c == '}') continue;
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return std::nullopt;
    if (n == 32) return std::nullopt;
    g[static_cast<std::size_t>(n / 2)] = static_cast<std::uint8_t>(n % 2 ? g[n / 2] | v : v << 4);
    ++n;
  }
  if (n != 32) return std::nullopt;
  return g;
}

bool named(const DOMElement* e, std::u16string_view name) { return mpd::has_local_name(e, name); }

QualityLevel read_quality_level(const DOMElement* q, StreamType type) {
  QualityLevel level;
  const auto bitrate = number_attr(q, "Bitrate", "QualityLevel@Bitrate", 0xffffffffu);
  if (!bitrate || *bitrate == 0) malformed("QualityLevel without a Bitrate");
  level.bitrate = *bitrate;
  level.fourcc = attribute(q, "FourCC").value_or("");
  if (const auto cpd = attribute(q, "CodecPrivateData")) level.codec_private_data = hex_bytes(*cpd, "CodecPrivateData");
  level.max_width = static_cast<std::uint32_t>(number_attr(q, "MaxWidth", "MaxWidth", 0xffff).value_or(0));
  level.max_height = static_cast<std::uint32_t>(number_attr(q, "MaxHeight", "MaxHeight", 0xffff).value_or(0));
  level.sampling_rate =
      static_cast<std::uint32_t>(number_attr(q, "SamplingRate", "SamplingRate", 0xffffffffu).value_or(0));
  level.channels = static_cast<std::uint32_t>(number_attr(q, "Channels", "Channels", 0xffff).value_or(0));
  level.bits_per_sample =
      static_cast<std::uint32_t>(number_attr(q, "BitsPerSample", "BitsPerSample", 0xffff).value_or(16));
  level.nal_unit_length =
      static_cast<std::uint32_t>(number_attr(q, "NALUnitLengthField", "NALUnitLengthField", 4).value_or(4));
  if (type == StreamType::video && level.nal_unit_length != 4 && level.nal_unit_length != 2 &&
      level.nal_unit_length != 1)
    malformed("NALUnitLengthField must be 1, 2 or 4");
  return level;
}

// MS-SSTR §2.2.2.6: a `c` without `t` starts where the previous one ended
// (the first at 0); `r` counts the fragments the element stands for.
void read_timeline(const DOMElement* s, StreamIndex& stream, std::uint64_t& budget) {
  constexpr std::uint64_t kMaxTime = std::numeric_limits<std::int64_t>::max();
  std::uint64_t next = 0;
  for (const DOMElement* c = mpd::first_child_element(s); c; c = mpd::next_sibling_element(c)) {
    if (!named(c, u"c")) continue;
    TimelineEntry entry;
    entry.t = number_attr(c, "t", "c@t", kMaxTime).value_or(next);
    const auto d = number_attr(c, "d", "c@d", kMaxTime);
    entry.repeat = number_attr(c, "r", "c@r", kMaxTime).value_or(1);
    if (entry.repeat == 0) malformed("c@r is 0");
    if (entry.repeat > budget) malformed("the timelines describe more fragments than the limit");
    budget -= entry.repeat;
    if (entry.t < next)
      malformed("c@t " + std::to_string(entry.t) + " goes back before the previous fragment's end " +
                std::to_string(next));
    if (!d) {
      // MS-SSTR allows a missing d only on the last c of a live stream, whose
      // duration is not yet known; such a fragment cannot be addressed by a
      // SegmentTimeline, so it is left out.
      if (mpd::next_sibling_element(c)) malformed("c without d before the last one");
      break;
    }
    if (*d == 0) malformed("c@d is 0");
    entry.d = *d;
    if (entry.repeat > (kMaxTime - entry.t) / entry.d) malformed("the timeline overflows 63 bits");
    next = entry.end();
    stream.timeline.push_back(entry);
  }
}

StreamIndex read_stream(const DOMElement* s, std::uint64_t manifest_timescale, std::uint64_t& budget) {
  StreamIndex stream;
  stream.type_name = attribute(s, "Type").value_or("");
  const std::string type = ascii_lower(stream.type_name);
  stream.type = type == "video" ? StreamType::video
              : type == "audio" ? StreamType::audio
              : type == "text"  ? StreamType::text
                                : StreamType::other;
  stream.name = attribute(s, "Name").value_or(type);
  stream.language = attribute(s, "Language").value_or("");
  stream.url_pattern = attribute(s, "Url").value_or("");
  stream.timescale = number_attr(s, "TimeScale", "StreamIndex@TimeScale").value_or(manifest_timescale);
  if (stream.timescale == 0) malformed("StreamIndex@TimeScale is 0");
  stream.display_width = static_cast<std::uint32_t>(number_attr(s, "DisplayWidth", "DisplayWidth", 0xffff).value_or(0));
  stream.display_height =
      static_cast<std::uint32_t>(number_attr(s, "DisplayHeight", "DisplayHeight", 0xffff).value_or(0));
  for (const DOMElement* q = mpd::first_child_element(s); q; q = mpd::next_sibling_element(q))
    if (named(q, u"QualityLevel")) stream.quality_levels.push_back(read_quality_level(q, stream.type));
  read_timeline(s, stream, budget);
  return stream;
}

// MS-SSTR §2.2.2.2. A header for another system is ignored; a PlayReady
// header whose KID cannot be read is refused, since the init segment's tenc
// needs it.
std::optional<PlayReadyHeader> read_protection(const DOMElement* protection) {
  std::optional<PlayReadyHeader> found;
  bool other = false;
  for (const DOMElement* h = mpd::first_child_element(protection); h; h = mpd::next_sibling_element(h)) {
    if (!named(h, u"ProtectionHeader")) continue;
    const auto id = guid_from_uuid_text(attribute(h, "SystemID").value_or(""));
    if (!id || *id != kPlayReadySystemId) {
      other = true;
      continue;
    }
    const auto object = mpd::decode_base64(mpd::to_utf8(h->getTextContent()));
    if (!object || object->empty()) malformed("PlayReady ProtectionHeader is not base64");
    const auto kid_text = mpd::kid_from_playready_object(*object);
    if (!kid_text)
      throw MssError(MssError::Kind::unsupported, "PlayReady header names no single KID");
    const auto kid = guid_from_uuid_text(*kid_text);
    if (!kid) malformed("PlayReady header KID is not a GUID");
    found = PlayReadyHeader{Bytes(object->begin(), object->end()), *kid};
  }
  if (!found && other)
    throw MssError(MssError::Kind::unsupported, "protected for a DRM system other than PlayReady");
  return found;
}

}  // namespace

bool looks_like_smooth(std::string_view body_start) {
  // UTF-16 (IIS's default): keep the ASCII bytes so the root name shows.
  std::string ascii;
  ascii.reserve(body_start.size());
  for (char c : body_start)
    if (c != '\0') ascii += c;
  const auto at = ascii.find("<SmoothStreamingMedia");
  if (at == std::string::npos) return false;
  // Only a prolog (declaration, comments, whitespace) may come before it.
  const auto open = ascii.find('<');
  return ascii.find_first_not_of(" \t\r\n\xEF\xBB\xBF\xFF\xFE", 0) == open &&
         (open == at || ascii.compare(open, 2, "<?") == 0 || ascii.compare(open, 4, "<!--") == 0);
}

Manifest parse_manifest(std::string_view xml, std::uint64_t max_fragments) {
  std::optional<mpd::ParsedDocument> parsed;
  try {
    parsed.emplace(mpd::parse_xml(xml, mpd::ParseLimits{}));
  } catch (const MpdError& e) {
    malformed(e.what());
  }
  const DOMElement* root = parsed->document()->getDocumentElement();
  if (!named(root, u"SmoothStreamingMedia")) malformed("root element is not SmoothStreamingMedia");
  Manifest m;
  m.major_version = static_cast<std::uint32_t>(number_attr(root, "MajorVersion", "MajorVersion", 0xffff).value_or(0));
  if (m.major_version != 2)
    throw MssError(MssError::Kind::unsupported,
                   "SmoothStreamingMedia MajorVersion " + std::to_string(m.major_version) + " (only 2 is defined)");
  m.timescale = number_attr(root, "TimeScale", "TimeScale").value_or(10'000'000);
  if (m.timescale == 0) malformed("TimeScale is 0");
  m.duration = number_attr(root, "Duration", "Duration").value_or(0);
  m.is_live = ascii_lower(attribute(root, "IsLive").value_or("false")) == "true";
  m.dvr_window = number_attr(root, "DVRWindowLength", "DVRWindowLength").value_or(0);
  m.lookahead = static_cast<std::uint32_t>(
      number_attr(root, "LookAheadFragmentCount", "LookAheadFragmentCount", 0xffff).value_or(0));
  std::uint64_t budget = max_fragments;
  for (const DOMElement* e = mpd::first_child_element(root); e; e = mpd::next_sibling_element(e)) {
    if (named(e, u"StreamIndex")) m.streams.push_back(read_stream(e, m.timescale, budget));
    else if (named(e, u"Protection")) m.playready = read_protection(e);
  }
  return m;
}

}  // namespace dashpiff::mss
