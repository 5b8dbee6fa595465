#include "service/settings.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>

#include "util/strings.h"

namespace dashpiff::settings {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::uint64_t parse_unsigned(const std::string& text, const std::string& expected) {
  if (text.empty() || text.size() > 20 || !std::all_of(text.begin(), text.end(), is_digit))
    throw BadValue{invalid(text, expected)};
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE) throw BadValue{invalid(text, expected)};
  return v;
}

std::uint64_t in_range(std::uint64_t v, std::uint64_t lo, std::uint64_t hi, const std::string& shown,
                       const std::string& lo_text, const std::string& hi_text) {
  if (v < lo || v > hi) throw BadValue{"value '" + shown + "' out of range (" + lo_text + " to " + hi_text + ")"};
  return v;
}

}  // namespace

std::string invalid(const std::string& value, const std::string& expected) {
  return "invalid value '" + value + "' (expected " + expected + ")";
}

std::uint64_t parse_count(const std::string& text, std::uint64_t lo, std::uint64_t hi) {
  const auto v = parse_unsigned(text, "a whole number");
  return in_range(v, lo, hi, text, std::to_string(lo), std::to_string(hi));
}

std::chrono::milliseconds parse_duration(const std::string& text) {
  const std::string expected = "a duration such as 500ms, 15s, 5m or 1h";
  const auto digits_end = std::find_if(text.begin(), text.end(), [](char c) { return !is_digit(c); });
  const std::string number(text.begin(), digits_end);
  const std::string unit = ascii_lower(std::string(digits_end, text.end()));
  const auto n = parse_unsigned(number, expected);
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "ms") factor = 1;
  else if (unit == "s") factor = 1000;
  else if (unit == "m" || unit == "min") factor = 60 * 1000;
  else if (unit == "h") factor = 3600 * 1000;
  else throw BadValue{invalid(text, expected)};
  if (n > std::numeric_limits<std::uint32_t>::max()) throw BadValue{invalid(text, expected)};
  return std::chrono::milliseconds(static_cast<std::int64_t>(n * factor));
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto v = d.count();
  if (v != 0 && v % (3600 * 1000) == 0) return std::to_string(v / (3600 * 1000)) + "h";
  if (v != 0 && v % (60 * 1000) == 0) return std::to_string(v / (60 * 1000)) + "m";
  if (v % 1000 == 0) return std::to_string(v / 1000) + "s";
  return std::to_string(v) + "ms";
}

std::chrono::milliseconds duration_in(const std::string& text, std::chrono::milliseconds lo,
                                      std::chrono::milliseconds hi) {
  const auto d = parse_duration(text);
  in_range(d.count(), lo.count(), hi.count(), text, format_duration(lo), format_duration(hi));
  return d;
}

std::uint64_t parse_size(const std::string& text) {
  const std::string expected = "a size such as 65536, 64K, 16M or 1G";
  const auto digits_end = std::find_if(text.begin(), text.end(), [](char c) { return !is_digit(c); });
  const auto n = parse_unsigned(std::string(text.begin(), digits_end), expected);
  const std::string unit = ascii_lower(std::string(digits_end, text.end()));
  std::uint64_t factor = 0;
  if (unit.empty()) factor = 1;
  else if (unit == "k" || unit == "kib") factor = KiB;
  else if (unit == "m" || unit == "mib") factor = MiB;
  else if (unit == "g" || unit == "gib") factor = GiB;
  else throw BadValue{invalid(text, expected)};
  if (n > std::numeric_limits<std::uint64_t>::max() / factor) throw BadValue{invalid(text, expected)};
  return n * factor;
}

std::string format_size(std::uint64_t v) {
  if (v != 0 && v % GiB == 0) return std::to_string(v / GiB) + "G";
  if (v != 0 && v % MiB == 0) return std::to_string(v / MiB) + "M";
  if (v != 0 && v % KiB == 0) return std::to_string(v / KiB) + "K";
  return std::to_string(v);
}

std::uint64_t size_in(const std::string& text, std::uint64_t lo, std::uint64_t hi) {
  return in_range(parse_size(text), lo, hi, text, format_size(lo), format_size(hi));
}

bool parse_bool(const std::string& text) {
  const auto t = ascii_lower(text);
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  throw BadValue{invalid(text, "true or false")};
}

const char* bool_text(bool b) { return b ? "true" : "false"; }

bool printable(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x20 && c != 0x7f; });
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

}  // namespace dashpiff::settings
