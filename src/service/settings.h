// The settings mechanism every configuration table shares: a setting is a
// name, an argument word, a help line, how its default reads back out and
// how a text value reads in (both over the struct it configures), plus the
// value parsers for whole numbers, durations, sizes and booleans. The
// service's table is in service/config.cpp; the FastCGI front end adds its
// pool's table and turns both into one command line, file and --help
// (fcgi/options.cpp). No Boost.Program_options here.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dashpiff {

// A configuration that cannot run; the message names the option and the
// reason (and the file, when the file set it).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace settings {

// A value that failed validation; the caller adds the option's name.
struct BadValue {
  std::string reason;
};

constexpr std::uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;

// "invalid value 'TEXT' (expected EXPECTED)"
std::string invalid(const std::string& value, const std::string& expected);

// A whole number in [lo, hi].
std::uint64_t parse_count(const std::string& text, std::uint64_t lo, std::uint64_t hi);

// Durations: a whole number with a unit, ms, s, m (minutes) or h; a bare
// number is milliseconds. format_duration writes the largest exact unit.
std::chrono::milliseconds parse_duration(const std::string& text);
std::string format_duration(std::chrono::milliseconds d);
std::chrono::milliseconds duration_in(const std::string& text, std::chrono::milliseconds lo,
                                      std::chrono::milliseconds hi);

// Sizes: a whole number of bytes, or with a binary unit K, M or G (KiB, MiB,
// GiB are accepted too). format_size writes the largest exact unit.
std::uint64_t parse_size(const std::string& text);
std::string format_size(std::uint64_t v);
std::uint64_t size_in(const std::string& text, std::uint64_t lo, std::uint64_t hi);

// true/false, yes/no, on/off, 1/0.
bool parse_bool(const std::string& text);
const char* bool_text(bool b);

// No control characters.
bool printable(const std::string& s);

std::string join(const std::vector<std::string>& items, const char* sep);

// One configurable setting of a `Target`: how it reads from text into the
// target, and how its default reads back out for --help.
template <typename Target>
struct Setting {
  const char* name;
  const char* arg;
  const char* help;
  std::function<std::string(const Target&)> show;
  std::function<void(Target&, const std::string&)> apply;
};

// A repeatable setting: the values given, in order.
template <typename Target>
struct ListSetting {
  const char* name;
  const char* arg;
  const char* help;
  std::function<std::vector<std::string>(const Target&)> show;
  std::function<void(Target&, const std::vector<std::string>&)> apply;
};

// One titled section of --help.
template <typename Target>
struct Group {
  const char* title;
  std::vector<Setting<Target>> settings;
  std::vector<ListSetting<Target>> lists;
};

// Each non-empty item parsed; an empty value clears the list.
template <typename T, typename F>
std::vector<T> each(const std::vector<std::string>& items, F parse) {
  std::vector<T> out;
  for (const auto& i : items)
    if (!i.empty()) out.push_back(parse(i));
  return out;
}

}  // namespace settings
}  // namespace dashpiff
