#include "mpd/prolog.h"

#include <array>

namespace dashpiff::mpd {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_name_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == ':' || c == '-' || c == '.';
}

bool starts_with(std::string_view s, std::size_t pos, std::string_view prefix) {
  return s.compare(pos, prefix.size(), prefix) == 0;
}

// UTF-16 text made narrow by dropping the high bytes: good enough to read
// ASCII markup names, which is all the scan needs.
std::string narrow_utf16(std::string_view body, bool little_endian) {
  std::string out;
  out.reserve(body.size() / 2);
  for (std::size_t i = 0; i + 1 < body.size(); i += 2) {
    const char lo = little_endian ? body[i] : body[i + 1];
    const char hi = little_endian ? body[i + 1] : body[i];
    out += hi == 0 ? lo : '\x80';
  }
  return out;
}

// Position just past a DOCTYPE that starts at `pos`, or npos if it does not end.
std::size_t skip_doctype(std::string_view s, std::size_t pos) {
  char quote = 0;
  int subset = 0;
  for (std::size_t i = pos + 9; i < s.size(); ++i) {
    const char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (subset > 0 && starts_with(s, i, "<!--")) {
      const auto end = s.find("-->", i + 4);
      if (end == std::string_view::npos) return end;
      i = end + 2;
    } else if (c == '[') {
      ++subset;
    } else if (c == ']') {
      if (subset > 0) --subset;
    } else if (c == '>' && subset == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

XmlProlog scan(std::string_view s, bool utf16) {
  XmlProlog p;
  p.utf16 = utf16;
  std::size_t i = 0;
  if (starts_with(s, 0, "\xEF\xBB\xBF")) i = 3;
  while (i < s.size()) {
    if (is_space(s[i])) {
      ++i;
    } else if (starts_with(s, i, "<?")) {
      const auto end = s.find("?>", i + 2);
      if (end == std::string_view::npos) return p;
      i = end + 2;
    } else if (starts_with(s, i, "<!--")) {
      const auto end = s.find("-->", i + 4);
      if (end == std::string_view::npos) return p;
      i = end + 3;
    } else if (starts_with(s, i, "<!DOCTYPE")) {
      p.has_doctype = true;
      std::size_t n = i + 9;
      while (n < s.size() && is_space(s[n])) ++n;
      const std::size_t name_start = n;
      while (n < s.size() && is_name_char(s[n])) ++n;
      p.root_name = std::string(s.substr(name_start, n - name_start));
      i = skip_doctype(s, i);
      if (i == std::string_view::npos) return p;
    } else if (s[i] == '<' && i + 1 < s.size() && is_name_char(s[i + 1])) {
      std::size_t n = i + 1;
      while (n < s.size() && is_name_char(s[n])) ++n;
      p.root_found = true;
      p.root_offset = utf16 ? 0 : i;
      p.root_name = std::string(s.substr(i + 1, n - i - 1));
      return p;
    } else {
      return p;
    }
  }
  return p;
}

}  // namespace

std::string_view XmlProlog::local_name() const {
  const std::string_view name = root_name;
  const auto colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

XmlProlog scan_prolog(std::string_view body) {
  if (starts_with(body, 0, "\xFF\xFE") || starts_with(body, 0, std::string_view("<\0", 2)))
    return scan(narrow_utf16(body.substr(starts_with(body, 0, "\xFF\xFE") ? 2 : 0), true), true);
  if (starts_with(body, 0, "\xFE\xFF") || starts_with(body, 0, std::string_view("\0<", 2)))
    return scan(narrow_utf16(body.substr(starts_with(body, 0, "\xFE\xFF") ? 2 : 0), false), true);
  return scan(body, false);
}

bool is_mpd_root(std::string_view local_name) { return local_name == "MPD"; }

bool is_patch_root(std::string_view local_name) { return local_name == "Patch"; }

bool is_remote_element_root(std::string_view local_name) {
  static constexpr std::array<std::string_view, 4> names = {"Period", "AdaptationSet", "SegmentList",
                                                            "EventStream"};
  for (auto n : names)
    if (local_name == n) return true;
  return false;
}

}  // namespace dashpiff::mpd
