#include "mpd/protection.h"
#include "util/strings.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <vector>

#include <xercesc/util/Base64.hpp>
#include <xercesc/util/PlatformUtils.hpp>

#include "bmff/box.h"
#include "bmff/fields.h"
#include "mpd/dom.h"
#include "mpd/urls.h"

namespace dashpiff::mpd {

using namespace xercesc;

namespace {

constexpr char16_t kCencNs[] = u"urn:mpeg:cenc:2013";
constexpr char16_t kMsprNs[] = u"urn:microsoft:playready";
constexpr char16_t kXmlnsNs[] = u"http://www.w3.org/2000/xmlns/";
constexpr std::string_view kMp4Protection = "urn:mpeg:dash:mp4protection:2011";
constexpr std::string_view kPlayReadyScheme = "urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95";

std::string hex_uuid(const unsigned char* b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += digits[b[i] >> 4];
    out += digits[b[i] & 0xF];
  }
  return out;
}

std::uint32_t le16(std::string_view s, std::size_t at) {
  return static_cast<unsigned char>(s[at]) | (static_cast<unsigned char>(s[at + 1]) << 8);
}

// The WRMHEADER is UTF-16LE XML. Its markup is ASCII, so the low bytes are
// enough to find <KID>base64</KID> (v4.0) and <KID VALUE="base64"/> (v4.1+).
std::vector<std::string> kids_in_wrmheader(std::string_view utf16le) {
  std::string text;
  text.reserve(utf16le.size() / 2);
  for (std::size_t i = 0; i + 1 < utf16le.size(); i += 2) text += utf16le[i + 1] == 0 ? utf16le[i] : '?';
  std::vector<std::string> kids;
  for (std::size_t at = text.find("<KID"); at != std::string::npos; at = text.find("<KID", at + 4)) {
    const std::size_t after = at + 4;
    if (after >= text.size()) break;
    const char next = text[after];
    if (next != '>' && next != ' ' && next != '\t' && next != '\r' && next != '\n' && next != '/') continue;
    const auto tag_end = text.find('>', after);
    if (tag_end == std::string::npos) break;
    const std::string_view tag = std::string_view(text).substr(after, tag_end - after);
    std::optional<std::string> value;
    if (const auto v = tag.find("VALUE=\""); v != std::string_view::npos) {
      const auto close = tag.find('"', v + 7);
      if (close != std::string_view::npos) value = std::string(tag.substr(v + 7, close - v - 7));
    } else if (tag.empty() || tag.back() != '/') {
      const auto end = text.find("</KID>", tag_end);
      if (end != std::string::npos) value = text.substr(tag_end + 1, end - tag_end - 1);
    }
    if (!value) continue;
    const auto bytes = decode_base64(*value);
    if (!bytes) continue;
    if (auto uuid = uuid_from_playready_kid(*bytes)) {
      if (std::find(kids.begin(), kids.end(), *uuid) == kids.end()) kids.push_back(std::move(*uuid));
    }
  }
  return kids;
}

std::string text_of(const DOMElement* e) { return std::string(trim_ws(to_utf8(e->getTextContent()))); }

std::optional<std::string> kid_of(const DOMElement* cp) {
  if (const XMLCh* attr = cp->getAttributeNS(kCencNs, u"default_KID"); attr && *attr) {
    if (auto kid = normalize_uuid(trim_ws(to_utf8(attr)))) return kid;
  }
  for (DOMElement* c = first_child_element(cp); c; c = next_sibling_element(c)) {
    std::optional<std::string> kid;
    if (same_namespace(c, kMsprNs) && has_local_name(c, u"kid")) {
      if (const auto bytes = decode_base64(text_of(c))) kid = uuid_from_playready_kid(*bytes);
    } else if (same_namespace(c, kMsprNs) && has_local_name(c, u"pro")) {
      if (const auto bytes = decode_base64(text_of(c))) kid = kid_from_playready_object(*bytes);
    } else if (same_namespace(c, kCencNs) && has_local_name(c, u"pssh")) {
      if (const auto bytes = decode_base64(text_of(c))) kid = kid_from_pssh_box(*bytes);
    }
    if (kid) return kid;
  }
  return std::nullopt;
}

// The prefix bound to the cenc namespace where `e` stands, declaring one on
// `top` when there is none.
std::u16string cenc_prefix(DOMElement* e, DOMElement* top) {
  if (const XMLCh* p = e->lookupPrefix(kCencNs)) return p;
  std::u16string prefix = u"cenc";
  for (int n = 1; top->lookupNamespaceURI(prefix.c_str()) != nullptr; ++n) prefix = u"cenc" + to_xml(std::to_string(n));
  top->setAttributeNS(kXmlnsNs, (u"xmlns:" + prefix).c_str(), kCencNs);
  return prefix;
}

enum class Signal { none, cenc, added };

// What `e`'s own ContentProtection elements say, after adding the mp4protection
// descriptor when PlayReady is the only thing there.
Signal add_if_needed(DOMElement* e, DOMElement* top, const XMLCh* dash_ns) {
  std::vector<DOMElement*> descriptors;
  for (DOMElement* c = first_child_element(e); c; c = next_sibling_element(c))
    if (same_namespace(c, dash_ns) && has_local_name(c, u"ContentProtection")) descriptors.push_back(c);
  std::optional<std::string> kid;
  bool playready = false;
  for (const DOMElement* cp : descriptors) {
    const std::string scheme = ascii_lower(trim_ws(to_utf8(cp->getAttribute(u"schemeIdUri"))));
    if (scheme == kMp4Protection) return Signal::cenc;
    if (scheme == kPlayReadyScheme) {
      playready = true;
      if (!kid) kid = kid_of(cp);
    }
  }
  if (!playready || !kid) return Signal::none;

  DOMDocument* doc = e->getOwnerDocument();
  const std::u16string prefix = cenc_prefix(e, top);
  const XMLCh* dash_prefix = descriptors.front()->getPrefix();
  const std::u16string name = dash_prefix ? std::u16string(dash_prefix) + u":ContentProtection" : u"ContentProtection";
  DOMElement* added = doc->createElementNS(dash_ns, name.c_str());
  added->setAttribute(u"schemeIdUri", to_xml(kMp4Protection).c_str());
  added->setAttribute(u"value", u"cenc");
  added->setAttributeNS(kCencNs, (prefix + u":default_KID").c_str(), to_xml(*kid).c_str());
  insert_indented(e, added, descriptors.front());
  return Signal::added;
}

// A Representation under an AdaptationSet that already carries (or was just
// given) the descriptor needs no copy of its own.
unsigned visit(DOMElement* e, DOMElement* top, const XMLCh* dash_ns, bool inherited_cenc) {
  if (!same_namespace(e, dash_ns)) return 0;
  unsigned added = 0;
  const bool set = has_local_name(e, u"AdaptationSet");
  const bool rep = has_local_name(e, u"Representation");
  bool cenc = inherited_cenc;
  if ((set || rep) && !inherited_cenc) {
    const Signal signal = add_if_needed(e, top, dash_ns);
    if (signal == Signal::added) ++added;
    cenc = signal != Signal::none;
  }
  if (rep) return added;
  for (DOMElement* c = first_child_element(e); c; c = next_sibling_element(c)) {
    if (has_local_name(c, u"Period") || has_local_name(c, u"AdaptationSet") || has_local_name(c, u"Representation"))
      added += visit(c, top, dash_ns, cenc);
  }
  return added;
}

}  // namespace

std::optional<std::string> decode_base64(std::string_view text) {
  // Xerces' RFC 2045 decoder (linked already for the DOM) does the decoding.
  // What it does not take is made acceptable first, as before: the URL-safe
  // alphabet (RFC 4648 section 5) and dropped padding. A NUL would end its
  // C string early, so it is refused here.
  std::string input;
  input.reserve(text.size() + 2);
  for (char c : text) {
    if (c == '\0') return std::nullopt;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    input += c == '-' ? '+' : c == '_' ? '/' : c;
  }
  if (input.empty()) return std::string();
  input.append((4 - input.size() % 4) % 4, '=');
  XMLSize_t length = 0;
  MemoryManager* const memory = XMLPlatformUtils::fgMemoryManager;
  // The buffer comes from `memory` and goes back to it.
  const auto release = [memory](XMLByte* p) { memory->deallocate(p); };
  const std::unique_ptr<XMLByte, decltype(release)> bytes(
      Base64::decode(reinterpret_cast<const XMLByte*>(input.c_str()), &length, memory), release);
  if (!bytes) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(bytes.get()), length);
}

std::optional<std::string> uuid_from_playready_kid(std::string_view bytes16) {
  if (bytes16.size() != 16) return std::nullopt;
  const auto* b = reinterpret_cast<const unsigned char*>(bytes16.data());
  const unsigned char swapped[16] = {b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6],
                                     b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]};
  return hex_uuid(swapped);
}

std::optional<std::string> normalize_uuid(std::string_view text) {
  unsigned char bytes[16];
  int nibbles = 0;
  for (char c : text) {
    if (c == '-') continue;
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return std::nullopt;
    if (nibbles == 32) return std::nullopt;
    if (nibbles % 2 == 0) bytes[nibbles / 2] = static_cast<unsigned char>(v << 4);
    else bytes[nibbles / 2] = static_cast<unsigned char>(bytes[nibbles / 2] | v);
    ++nibbles;
  }
  if (nibbles != 32) return std::nullopt;
  return hex_uuid(bytes);
}

std::optional<std::string> kid_from_playready_object(std::string_view pro) {
  if (pro.size() < 6) return std::nullopt;
  const std::uint32_t records = le16(pro, 4);
  std::size_t at = 6;
  for (std::uint32_t r = 0; r < records && at + 4 <= pro.size(); ++r) {
    const std::uint32_t type = le16(pro, at);
    const std::uint32_t length = le16(pro, at + 2);
    at += 4;
    if (length > pro.size() - at) return std::nullopt;
    if (type == 1) {  // rights management header (WRMHEADER)
      const auto kids = kids_in_wrmheader(pro.substr(at, length));
      if (kids.size() == 1) return kids.front();
      return std::nullopt;
    }
    at += length;
  }
  return std::nullopt;
}

std::optional<std::string> kid_from_pssh_box(std::string_view box) {
  // Read through the engine's own description of the box (ISO/IEC 23001-7
  // §8.1), which checks every count against the bytes that hold it.
  const auto* data = reinterpret_cast<const std::uint8_t*>(box.data());
  const bmff::HeaderParse head = bmff::parse_box_header(data, box.size(), box.size());
  if (head.status != bmff::HeaderStatus::ok || head.header.size > box.size()) return std::nullopt;
  const bmff::Box whole{head.header, 0, static_cast<std::size_t>(head.header.size)};
  const auto pssh = bmff::read_box<bmff::Pssh>(data, whole);
  if (!pssh) return std::nullopt;
  if (pssh->kids.size() == 1) return hex_uuid(pssh->kids.front().data());
  return kid_from_playready_object(
      std::string_view(reinterpret_cast<const char*>(pssh->data.data()), pssh->data.size()));
}

unsigned add_cenc_descriptors(DOMElement* top, const XMLCh* dash_ns) {
  return visit(top, top, dash_ns, false);
}

}  // namespace dashpiff::mpd
