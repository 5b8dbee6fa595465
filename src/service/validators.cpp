#include "service/validators.h"

#include <algorithm>

#include "http/message.h"
#include "mpd/urls.h"  // trim_ws

namespace dashpiff {
namespace {

using mpd::trim_ws;

constexpr std::string_view kLayoutMark = ".dashpiff-";

bool etagc(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u != 0x7f);  // RFC 9110 §8.8.3, obs-text included
}

// The origin's opaque tag inside one of our layout tags, or nullopt when the
// tag is not of `layout`.
std::optional<std::string> origin_opaque(const EntityTag& tag, std::string_view layout) {
  const std::string mark = std::string(kLayoutMark) + std::string(layout);
  if (!tag.weak || tag.opaque.size() <= mark.size() ||
      tag.opaque.compare(tag.opaque.size() - mark.size(), mark.size(), mark) != 0)
    return std::nullopt;
  return tag.opaque.substr(0, tag.opaque.size() - mark.size());
}

}  // namespace

std::optional<EntityTag> parse_entity_tag(std::string_view text) {
  text = trim_ws(text);
  EntityTag tag;
  if (text.substr(0, 2) == "W/") {
    tag.weak = true;
    text.remove_prefix(2);
  }
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return std::nullopt;
  text = text.substr(1, text.size() - 2);
  for (char c : text)
    if (!etagc(c)) return std::nullopt;
  tag.opaque = std::string(text);
  return tag;
}

std::vector<EntityTag> parse_entity_tags(std::string_view list) {
  std::vector<EntityTag> out;
  if (trim_ws(list) == "*") return {EntityTag{false, "*"}};
  std::size_t i = 0;
  while (i < list.size() && out.size() < 64) {  // a list is a handful; a hostile one stays bounded
    while (i < list.size() && (list[i] == ',' || list[i] == ' ' || list[i] == '\t')) ++i;
    if (i >= list.size()) break;
    const std::size_t open = list.compare(i, 3, "W/\"") == 0 ? i + 2 : i;
    if (list[open] != '"') {  // not an entity tag: skip the member
      i = list.find(',', i);
      if (i == std::string_view::npos) break;
      continue;
    }
    // A member runs to the closing quote (opaque tags may hold commas).
    const std::size_t close = list.find('"', open + 1);
    if (close == std::string_view::npos) break;
    if (auto tag = parse_entity_tag(list.substr(i, close + 1 - i))) out.push_back(std::move(*tag));
    i = close + 1;
  }
  return out;
}

std::string layout_etag(const EntityTag& origin, std::string_view layout) {
  return "W/\"" + origin.opaque + std::string(kLayoutMark) + std::string(layout) + "\"";
}

std::string origin_if_none_match(std::string_view client_list, std::string_view layout) {
  std::string out;
  for (const EntityTag& tag : parse_entity_tags(client_list)) {
    // "*" is judged here once the answer is decided, never by the origin:
    // its 304 to "*" names no tag of ours, and a 304 must carry the ETag
    // the 200 would have (RFC 9110 §13.1.2, §15.4.5).
    const auto opaque = origin_opaque(tag, layout);
    if (!opaque) continue;
    const std::string member = "W/\"" + *opaque + "\"";
    out += (out.empty() ? "" : ", ") + member;
  }
  return out;
}

std::optional<std::string> confirmed_tag(std::string_view client_list, const EntityTag* origin_current,
                                         std::string_view layout) {
  if (!origin_current) return std::nullopt;
  for (const EntityTag& tag : parse_entity_tags(client_list)) {
    if (auto opaque = origin_opaque(tag, layout); opaque && *opaque == origin_current->opaque) return tag.str();
  }
  return std::nullopt;
}

ByteRange parse_range(std::string_view header, std::uint64_t length) {
  ByteRange r;
  header = trim_ws(header);
  if (header.size() < 6 || !iequals(header.substr(0, 6), "bytes=")) return r;
  const std::string_view spec = trim_ws(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return r;
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return r;
  const auto number = [](std::string_view s, std::uint64_t& v) {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
    v = 0;
    for (char c : s) v = v * 10 + std::uint64_t(c - '0');
    return true;
  };
  const std::string_view a = trim_ws(spec.substr(0, dash)), b = trim_ws(spec.substr(dash + 1));
  std::uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix: the last b bytes
    if (!number(b, last)) return r;
    if (last == 0 || length == 0) return {ByteRange::Kind::unsatisfiable, 0, 0};
    return {ByteRange::Kind::satisfiable, length > last ? length - last : 0, length - 1};
  }
  if (!number(a, first)) return r;
  if (b.empty()) last = UINT64_MAX;
  else if (!number(b, last) || last < first) return r;
  if (first >= length) return {ByteRange::Kind::unsatisfiable, 0, 0};
  return {ByteRange::Kind::satisfiable, first, std::min(last, length - 1)};
}

bool if_range_holds(std::string_view if_range, const std::optional<EntityTag>& current_tag,
                    const std::string* last_modified) {
  if_range = trim_ws(if_range);
  if (if_range.empty()) return true;
  if (if_range.front() == '"' || if_range.substr(0, 2) == "W/") {
    const auto tag = parse_entity_tag(if_range);
    return tag && !tag->weak && current_tag && !current_tag->weak && tag->opaque == current_tag->opaque;
  }
  return last_modified && trim_ws(*last_modified) == if_range;
}

}  // namespace dashpiff
