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

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  text = trim_ws(text);
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // Each form as a pattern: 'D' a digit, ' ' a space (asctime pads a
  // one-digit day with one, '_' there), 'M' the month, 'W' a day name
  // (checked for its letters only), anything else itself.
  struct Form {
    std::string_view pattern;
    int day, month, year, hour;  // offsets
    bool two_digit_year;
  };
  static constexpr Form kForms[] = {
      {"WWW, DD MMM DDDD DD:DD:DD GMT", 5, 8, 12, 17, false},  // IMF-fixdate
      {"WWW MMM _D DD:DD:DD DDDD", 8, 4, 20, 11, false},       // asctime
  };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  const auto num = [&](std::string_view s, std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) v = v * 10 + (s[at + i] - '0');
    return v;
  };
  std::string_view s = text;
  Form form{};
  std::string rfc850;
  if (const auto comma = s.find(','); comma != std::string_view::npos && comma > 3) {
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT", the day name in full.
    rfc850 = "Www," + std::string(s.substr(comma + 1));
    s = rfc850;
    form = {"WWW, DD-MMM-DD DD:DD:DD GMT", 5, 8, 12, 15, true};
  } else {
    form = s.size() == kForms[0].pattern.size() ? kForms[0] : kForms[1];
  }
  if (s.size() != form.pattern.size()) return std::nullopt;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char p = form.pattern[i], c = s[i];
    const bool ok = p == 'D'   ? digit(c)
                    : p == '_' ? digit(c) || c == ' '
                    : p == 'W' || p == 'M' ? (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                                           : c == p;
    if (!ok) return std::nullopt;
  }
  int month = -1;
  for (int m = 0; m < 12; ++m)
    if (s.substr(form.month, 3) == kMonths[m]) month = m;
  const int day = s[form.day] == ' ' ? num(s, form.day + 1, 1) : num(s, form.day, 2);
  int year = form.two_digit_year ? num(s, form.year, 2) : num(s, form.year, 4);
  // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is
  // in the past century; for dates this service compares, 19xx/20xx is it.
  if (form.two_digit_year) year += year < 70 ? 2000 : 1900;
  const int hour = num(s, form.hour, 2), minute = num(s, form.hour + 3, 2), second = num(s, form.hour + 6, 2);
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 0 || day < 1 || day > kDays[month] || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  // Days since 1970-01-01 of a proleptic Gregorian date (civil calendar).
  const int y = year - (month < 2);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int mp = (month + 10) % 12;  // March is 0
  const int doy = (153 * mp + 2) / 5 + day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = std::int64_t(era) * 146097 + doe - 719468;
  return days * 86400 + hour * 3600 + minute * 60 + second;
}

std::optional<std::string> failed_precondition(std::string_view if_match, std::string_view if_unmodified_since,
                                               const std::optional<std::string>& etag,
                                               const std::string* last_modified) {
  if (!trim_ws(if_match).empty()) {
    const auto current = etag ? parse_entity_tag(*etag) : std::nullopt;
    for (const EntityTag& t : parse_entity_tags(if_match))
      if (t.opaque == "*" || (current && !current->weak && !t.weak && t.opaque == current->opaque)) return std::nullopt;
    return std::string("precondition failed: If-Match names no strong tag of the current representation");
  }
  if (trim_ws(if_unmodified_since).empty() || !last_modified) return std::nullopt;
  const auto since = parse_http_date(if_unmodified_since);
  const auto modified = parse_http_date(*last_modified);
  if (!since || !modified || *modified <= *since) return std::nullopt;
  return std::string("precondition failed: modified after the If-Unmodified-Since date");
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
