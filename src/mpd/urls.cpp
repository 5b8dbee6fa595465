#include "mpd/urls.h"

#include <algorithm>

#include "http/uri.h"
#include "http/url_codec.h"
#include "util/strings.h"

namespace dashpiff::mpd {

RefKind classify_ref(std::string_view ref) { return classify_ref(Uri::parse(ref)); }

RefKind classify_ref(const Uri& u) {
  if (u.scheme) return RefKind::absolute;
  if (u.authority) return RefKind::network_path;
  if (!u.path.empty() && u.path.front() == '/') return RefKind::path_absolute;
  return RefKind::relative_path;
}

std::string_view trim_ws(std::string_view s) {
  constexpr std::string_view ws = " \t\r\n";
  const auto first = s.find_first_not_of(ws);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(ws) - first + 1);
}

bool may_have_dot_segments(std::string_view path) {
  return path.find("/.") != std::string_view::npos || path.rfind(".", 0) == 0;
}

bool has_dot_segment(std::string_view path) {
  for (std::size_t start = 0;;) {
    const auto slash = path.find('/', start);
    const std::string_view segment = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (segment == "." || segment == "..") return true;
    if (slash == std::string_view::npos) return false;
    start = slash + 1;
  }
}

namespace {

struct PathWalk {
  long lowest = 0;  // the most levels above the base directory on the way
  long depth = 0;   // where the reference's directory ends up
};

PathWalk walk_path(std::string_view ref) {
  const std::string_view path = ref.substr(0, std::min(ref.find_first_of("?#"), ref.size()));
  long depth = 0;
  long lowest = 0;
  std::size_t start = 0;
  while (true) {
    const auto slash = path.find('/', start);
    const std::string_view segment =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    const bool last = slash == std::string_view::npos;
    if (segment == "..") {
      --depth;
    } else if (segment != "." && !last) {
      ++depth;  // a directory (empty segments included: "a//b" has one more level)
    }
    lowest = std::min(lowest, depth);
    if (last) break;
    start = slash + 1;
  }
  return PathWalk{lowest, depth};
}

bool is_scheme_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool is_scheme_char(char c) {
  return is_scheme_start(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

// The position of the ':' that ends a scheme at the start of `s` (URL
// Standard scheme start and scheme states), or npos.
std::size_t scheme_colon(std::string_view s) {
  if (s.empty() || !is_scheme_start(s.front())) return std::string_view::npos;
  std::size_t i = 1;
  while (i < s.size() && is_scheme_char(s[i])) ++i;
  return i < s.size() && s[i] == ':' ? i : std::string_view::npos;
}

bool is_slash(char c) { return c == '/' || c == '\\'; }

// The path of a special URL as the path state reads it: '\\' is a segment
// end like '/', and percent-encoded dot segments are dot segments.
void append_path(std::string& out, std::string_view path) {
  std::size_t start = 0;
  while (true) {
    const auto end = std::min(path.find_first_of("/\\", start), path.size());
    const std::string_view segment = path.substr(start, end - start);
    const bool dots = segment.size() >= 3 && segment.size() <= 6 && segment.find('%') != std::string_view::npos;
    const std::string lower = dots ? ascii_lower(segment) : std::string();
    if (dots && lower == "%2e") out += '.';
    else if (dots && (lower == ".%2e" || lower == "%2e." || lower == "%2e%2e")) out += "..";
    else out.append(segment);
    if (end == path.size()) break;
    out += '/';
    start = end + 1;
  }
}

// What follows "scheme:" or starts a reference of a special URL: an
// authority when `authority`, then the path up to the query or fragment,
// which stay as written ('\\' is no separator there).
void append_hierarchical(std::string& out, std::string_view s, bool authority) {
  const auto tail = std::min(s.find_first_of("?#"), s.size());
  std::string_view head = s.substr(0, tail);
  if (authority) {
    const auto end = std::min(head.find_first_of("/\\"), head.size());
    out += "//";
    out.append(head.substr(0, end));
    head.remove_prefix(end);
  }
  append_path(out, head);
  out.append(s.substr(tail));
}

std::string_view without_leading_slashes(std::string_view s) {
  while (!s.empty() && is_slash(s.front())) s.remove_prefix(1);
  return s;
}

}  // namespace

std::size_t climb_of(std::string_view ref) { return static_cast<std::size_t>(-walk_path(ref).lowest); }

long dir_levels_of(std::string_view ref) { return walk_path(ref).depth; }

std::string browser_reading(std::string_view ref, std::string_view base_scheme) {
  // Basic URL parser steps 1 and 3 (C0 control or space: U+0000 to U+0020).
  while (!ref.empty() && static_cast<unsigned char>(ref.front()) <= 0x20) ref.remove_prefix(1);
  while (!ref.empty() && static_cast<unsigned char>(ref.back()) <= 0x20) ref.remove_suffix(1);
  // Most references hold nothing the two readings part on: no tab, newline,
  // '\\' or '%', no "///" ("//h" to a browser), and a ':' only before
  // "//h" ("http:x" is relative to an http base).
  const auto colon = ref.find(':');
  const bool authority_after = colon == std::string_view::npos ||
                               (ref.substr(colon + 1, 2) == "//" && ref.substr(colon + 3, 1) != "/");
  if (authority_after && ref.find_first_of("\t\n\r\\%") == std::string_view::npos && ref.substr(0, 3) != "///")
    return std::string(ref);
  std::string input;
  input.reserve(ref.size());
  for (const char c : ref)
    if (c != '\t' && c != '\n' && c != '\r') input += c;
  if (input.find_first_of("\\%:") == std::string::npos && input.rfind("///", 0) != 0) return input;
  std::string_view rest = input;
  std::string out;
  if (const auto colon = scheme_colon(rest); colon != std::string_view::npos) {
    const std::string scheme = ascii_lower(rest.substr(0, colon));
    if (scheme != "http" && scheme != "https") return input;
    rest.remove_prefix(colon + 1);
    if (scheme != base_scheme || rest.substr(0, 2) == "//") {
      out = scheme + ":";
      append_hierarchical(out, without_leading_slashes(rest), true);
      return out;
    }
    // Same scheme as the base, no "//": relative state on what follows.
  }
  if (rest.size() >= 2 && is_slash(rest[0]) && is_slash(rest[1])) {
    append_hierarchical(out, without_leading_slashes(rest), true);
    return out;
  }
  // "http:a:b" is the path "a:b" here; RFC 3986 §4.2 writes it "./a:b".
  // "https: a" is the path " a" (only the whole input's leading spaces and
  // C0 controls are trimmed, §4.4 step 1): written " a", the next parser
  // to read it would trim the space this one keeps (fuzz_mpd finding
  // 955ef972), so it too is written behind "./".
  const auto first_end = rest.find_first_of("/\\?#");
  if (rest.size() < input.size() && (rest.substr(0, first_end).find(':') != std::string_view::npos ||
                                     (!rest.empty() && static_cast<unsigned char>(rest.front()) <= 0x20)))
    out = "./";
  append_hierarchical(out, rest, false);
  return out;
}

std::string resolve_as_browser(std::string_view base, std::string_view ref) {
  const auto colon = scheme_colon(base);
  const std::string scheme = colon == std::string_view::npos ? std::string() : ascii_lower(base.substr(0, colon));
  return resolve_uri(base, browser_reading(ref, scheme));
}

std::size_t dir_depth(std::string_view dir_path) {
  const auto slashes = static_cast<std::size_t>(std::count(dir_path.begin(), dir_path.end(), '/'));
  return slashes == 0 ? 0 : slashes - 1;
}

std::string ancestor_dir(std::string_view dir_path, std::size_t levels) {
  std::string_view d = dir_path;
  for (std::size_t i = 0; i < levels && d.size() > 1; ++i) {
    d.remove_suffix(1);  // the trailing '/'
    d = d.substr(0, d.rfind('/') + 1);
  }
  return std::string(d);
}

std::string common_dir(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  std::size_t same = 0;
  while (same < n && a[same] == b[same]) ++same;
  const auto slash = a.substr(0, same).rfind('/');
  return slash == std::string_view::npos ? std::string("/") : std::string(a.substr(0, slash + 1));
}

std::optional<CutUrl> cut_url(std::string_view absolute_url, bool is_template) {
  const Uri u = Uri::parse(absolute_url);
  if (!is_http_url(u)) return std::nullopt;
  CutUrl out;
  out.origin = u.scheme.value_or("") + "://" + u.authority.value_or("");
  const std::string path = u.path.empty() ? "/" : u.path;
  std::size_t cut = path.rfind('/');
  if (is_template) {
    const auto dollar = path.find('$');
    if (dollar != std::string::npos) {
      cut = path.rfind('/', dollar);
      // The one string-valued identifier could be substituted with "" or
      // "/x": a rest starting with it would then read as path-absolute. One
      // plain segment in front keeps it relative.
      const bool id_first = path.compare(dollar, 18, "$RepresentationID$") == 0;
      if (id_first && cut != std::string::npos && cut + 1 == dollar && cut > 0) cut = path.rfind('/', cut - 1);
    }
  }
  if (cut == std::string::npos) {  // a path without '/' cannot follow an authority; be safe anyway
    out.dir = "/";
    out.rest = path;
  } else {
    out.dir = path.substr(0, cut + 1);
    out.rest = path.substr(cut + 1);
  }
  if (u.query) out.rest += "?" + *u.query;
  return out;
}

namespace {

// What the rewrite writes after the encoded part keeps its bytes but for
// spaces, written "%20" as every HTTP client sends them: one at the end (a
// query of " " once the fragment after it is dropped, say) would otherwise
// end the attribute, and the player's URL parser trims it off (WHATWG URL
// §4.4 strips leading and trailing spaces), asking something else than the
// origin's reference meant (fuzz_mpd finding d72dd720).
void append_spaces_escaped(std::string& out, std::string_view s) {
  for (const char c : s) {
    if (c == ' ') out += "%20";
    else out += c;
  }
}

}  // namespace

std::string media_form(std::string_view media_prefix, std::string_view origin, std::string_view dir,
                       std::string_view carried_query, std::string_view rest) {
  std::string base(origin);
  base += dir;
  if (!carried_query.empty()) {
    base += '?';
    base += carried_query;
  }
  std::string out(media_prefix);
  out += encode_url(base);
  out += '/';
  append_spaces_escaped(out, rest);
  return out;
}

std::string manifest_form(std::string_view mpd_prefix, std::string_view absolute_url,
                          std::string_view fallback_query) {
  const Uri u = Uri::parse(absolute_url);
  std::string out(mpd_prefix);
  out += encode_url(strip_query(absolute_url));
  const std::string_view query = u.query ? std::string_view(*u.query) : fallback_query;
  if (!query.empty()) {
    out += '?';
    append_spaces_escaped(out, query);
  }
  return out;
}

}  // namespace dashpiff::mpd
