#include "service/config.h"
#include "util/strings.h"

#include <unistd.h>

#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "http/uri.h"
#include "service/build_info.h"

namespace po = boost::program_options;

namespace dashpiff {
namespace {

constexpr const char* kDefaultConfigFile = "/etc/dashpiff/dashpiff.conf";

constexpr std::uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;

// A value that failed validation; the caller adds the option's name.
struct BadValue {
  std::string reason;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string invalid(const std::string& value, const std::string& expected) {
  return "invalid value '" + value + "' (expected " + expected + ")";
}

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

std::uint64_t parse_count(const std::string& text, std::uint64_t lo, std::uint64_t hi) {
  const auto v = parse_unsigned(text, "a whole number");
  return in_range(v, lo, hi, text, std::to_string(lo), std::to_string(hi));
}

// Durations: a whole number with a unit, ms, s, m (minutes) or h; a bare
// number is milliseconds.
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

// Sizes: a whole number of bytes, or with a binary unit K, M or G (KiB, MiB,
// GiB are accepted too).
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

// One spelling for the configuration and dashpiff-patch: the engine's.
const char* piff_mode_name(PiffMode m) { return to_string(m); }

PiffMode parse_piff(const std::string& text) {
  if (const auto mode = parse_piff_mode(text)) return *mode;
  throw BadValue{invalid(text, "off, free, uuid-free, convert, auto")};
}

TokenMode parse_token_mode(const std::string& text) {
  if (text == "pass") return TokenMode::pass;
  if (text == "drop") return TokenMode::drop;
  throw BadValue{invalid(text, "pass, drop")};
}

LogLevel parse_log_level(const std::string& text) {
  if (text == "error") return LogLevel::error;
  if (text == "warn") return LogLevel::warn;
  if (text == "info") return LogLevel::info;
  if (text == "debug") return LogLevel::debug;
  throw BadValue{invalid(text, "error, warn, info, debug")};
}

bool printable(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x20 && c != 0x7f; });
}

std::string parse_public_base_url(const std::string& text) {
  if (text.empty()) return text;
  const auto u = Uri::parse(text);
  const std::string expected = "an absolute http or https URL without query, such as https://d123.cloudfront.net";
  if (!printable(text) || text.find(' ') != std::string::npos || !u.scheme ||
      (*u.scheme != "http" && *u.scheme != "https") || !u.authority || u.authority->empty() || u.query ||
      u.fragment)
    throw BadValue{invalid(text, expected)};
  // Routes are appended as "/mpd/...", so one form without the trailing slash.
  std::string out = text;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string parse_cors_origin(const std::string& text) {
  if (text.empty() || text == "*") return text;
  const auto u = Uri::parse(text);
  if (!printable(text) || text.find(' ') != std::string::npos || !u.scheme ||
      (*u.scheme != "http" && *u.scheme != "https") || !u.authority || u.authority->empty() ||
      !u.path.empty() || u.query || u.fragment)
    throw BadValue{invalid(text, "*, an origin such as https://player.example, or empty for no CORS headers")};
  return text;
}

bool is_label_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

std::string parse_host_pattern(const std::string& text) {
  const std::string expected = "a host name, an IP address, or *.domain";
  std::string p = ascii_lower(text);
  if (auto ip = IpAddress::parse(p.size() > 2 && p.front() == '[' && p.back() == ']' ? p.substr(1, p.size() - 2) : p))
    return p;
  std::string_view host = p;
  if (host.substr(0, 2) == "*.") host.remove_prefix(2);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > 253) throw BadValue{invalid(text, expected)};
  std::size_t start = 0;
  while (start <= host.size()) {
    auto dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    const auto label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || !std::all_of(label.begin(), label.end(), is_label_char))
      throw BadValue{invalid(text, expected)};
    start = dot + 1;
  }
  return p;
}

Cidr parse_network(const std::string& text) {
  auto c = Cidr::parse(text);
  if (!c) throw BadValue{invalid(text, "an address or CIDR network such as 127.0.0.0/8 or fd00::/8")};
  return *c;
}

std::string parse_forward_header(const std::string& text) {
  if (!is_http_token(text)) throw BadValue{invalid(text, "an HTTP header name")};
  const auto l = ascii_lower(text);
  // The router writes these itself, or they belong to one connection only;
  // forwarding a client's copy would let it spoof the proxy's own view.
  static const char* const kNever[] = {"host",      "content-length", "accept-encoding",  "expect",
                                       "forwarded", "connection",     "keep-alive",       "te",
                                       "trailer",   "transfer-encoding", "upgrade"};
  const bool never = std::find(std::begin(kNever), std::end(kNever), l) != std::end(kNever) ||
                     l.rfind("x-forwarded-", 0) == 0 || l.rfind("proxy-", 0) == 0;
  if (never) throw BadValue{"header '" + text + "' is never forwarded to origin"};
  return text;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

// One configurable setting: how it reads from text into Config, and how its
// default reads back out for --help.
struct Setting {
  const char* name;
  const char* arg;
  const char* help;
  std::function<std::string(const Config&)> show;
  std::function<void(Config&, const std::string&)> apply;
};

struct ListSetting {
  const char* name;
  const char* arg;
  const char* help;
  std::function<std::vector<std::string>(const Config&)> show;
  std::function<void(Config&, const std::vector<std::string>&)> apply;
};

struct Group {
  const char* title;
  std::vector<Setting> settings;
  std::vector<ListSetting> lists;
};

template <typename T, typename F>
std::vector<T> each(const std::vector<std::string>& items, F parse) {
  std::vector<T> out;
  for (const auto& i : items)
    if (!i.empty()) out.push_back(parse(i));  // an empty value clears the list
  return out;
}

std::vector<Group> settings() {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  std::vector<Group> groups;
  groups.push_back(Group{
      "Worker pool",
      {
          {"workers", "N", "worker processes (0: one per CPU core; 0..1024)",
           [](const Config& c) { return std::to_string(c.workers); },
           [](Config& c, const std::string& v) { c.workers = static_cast<unsigned>(parse_count(v, 0, 1024)); }},
          {"threads", "N", "threads per worker serving requests (1..256)",
           [](const Config& c) { return std::to_string(c.threads); },
           [](Config& c, const std::string& v) { c.threads = static_cast<unsigned>(parse_count(v, 1, 256)); }},
          {"max-requests", "N", "recycle a worker after N requests (0: never)",
           [](const Config& c) { return std::to_string(c.max_requests); },
           [](Config& c, const std::string& v) {
             c.max_requests = static_cast<unsigned long>(
                 parse_count(v, 0, std::numeric_limits<unsigned long>::max()));
           }},
          {"shutdown-deadline", "DURATION",
           "on SIGTERM, how long in-flight requests may take to finish (whole seconds, 0s..1h)",
           [](const Config& c) { return format_duration(c.shutdown_deadline); },
           [](Config& c, const std::string& v) {
             const auto d = duration_in(v, milliseconds(0), std::chrono::hours(1));
             if (d.count() % 1000 != 0) throw BadValue{"value '" + v + "' is not a whole number of seconds"};
             c.shutdown_deadline = std::chrono::duration_cast<seconds>(d);
           }},
          {"supervise", "BOOL", "run the supervisor that forks and restarts workers (false: one process, for debugging)",
           [](const Config& c) { return bool_text(c.supervise); },
           [](Config& c, const std::string& v) { c.supervise = parse_bool(v); }},
      },
      {}});
  groups.push_back(Group{
      "Behaviour",
      {
          {"piff-mode", "MODE",
           "what to do with PIFF boxes: off, free ('uuid' -> 'free'), uuid-free (the original service's "
           "usertype rewrite), convert (PIFF -> CENC), auto (neutralise where CENC data exists, convert "
           "where PIFF is the only carrier)",
           [](const Config& c) { return piff_mode_name(c.piff_mode); },
           [](Config& c, const std::string& v) { c.piff_mode = parse_piff(v); }},
          {"token-mode", "MODE",
           "query string (CDN tokens) of the manifest URL: pass (carried on to segment URLs) or drop",
           [](const Config& c) { return to_string(c.token_mode); },
           [](Config& c, const std::string& v) { c.token_mode = parse_token_mode(v); }},
          {"public-base-url", "URL",
           "absolute http(s) URL the proxy is reached at, used in minted URLs (empty: from each request)",
           [](const Config& c) { return c.public_base_url; },
           [](Config& c, const std::string& v) { c.public_base_url = parse_public_base_url(v); }},
          {"max-moof-bytes", "SIZE", "largest moof/moov held for rewriting; larger ones pass through unchanged (4K..1G)",
           [](const Config& c) { return format_size(c.max_held_box); },
           [](Config& c, const std::string& v) { c.max_held_box = size_in(v, 4 * KiB, GiB); }},
          {"player-page", "BOOL", "serve the built-in test player page",
           [](const Config& c) { return bool_text(c.player_page); },
           [](Config& c, const std::string& v) { c.player_page = parse_bool(v); }},
      },
      {}});
  groups.push_back(Group{
      "Origin",
      {
          {"connect-timeout", "DURATION", "TCP and TLS connect to origin (1ms..10m)",
           [](const Config& c) { return format_duration(c.origin.connect_timeout); },
           [](Config& c, const std::string& v) {
             c.origin.connect_timeout = duration_in(v, milliseconds(1), std::chrono::minutes(10));
           }},
          {"first-byte-timeout", "DURATION", "from the start of a request until the origin's response head (1ms..1h)",
           [](const Config& c) { return format_duration(c.origin.first_byte_timeout); },
           [](Config& c, const std::string& v) {
             c.origin.first_byte_timeout = duration_in(v, milliseconds(1), std::chrono::hours(1));
           }},
          {"total-timeout", "DURATION", "whole origin transfer, redirects included (1ms..24h)",
           [](const Config& c) { return format_duration(c.origin.total_timeout); },
           [](Config& c, const std::string& v) {
             c.origin.total_timeout = duration_in(v, milliseconds(1), std::chrono::hours(24));
           }},
          {"max-redirects", "N", "origin redirects followed (http and https only; 0..20)",
           [](const Config& c) { return std::to_string(c.origin.max_redirects); },
           [](Config& c, const std::string& v) { c.origin.max_redirects = static_cast<int>(parse_count(v, 0, 20)); }},
          {"ca-file", "FILE", "PEM bundle to verify origin certificates with (empty: the system store)",
           [](const Config& c) { return c.origin.ca_file; },
           [](Config& c, const std::string& v) {
             if (!v.empty() && access(v.c_str(), R_OK) != 0)
               throw BadValue{"file '" + v + "' cannot be read: " + std::strerror(errno)};
             c.origin.ca_file = v;
           }},
          {"user-agent", "TEXT", "User-Agent sent to origin",
           [](const Config& c) { return c.origin.user_agent; },
           [](Config& c, const std::string& v) {
             if (v.empty() || !printable(v)) throw BadValue{invalid(v, "non-empty printable text")};
             c.origin.user_agent = v;
           }},
          {"max-manifest-bytes", "SIZE", "largest manifest fetched, after decoding (1K..1G)",
           [](const Config& c) { return format_size(c.max_manifest_bytes); },
           [](Config& c, const std::string& v) { c.max_manifest_bytes = size_in(v, KiB, GiB); }},
          {"max-segment-bytes", "SIZE", "largest media segment fetched (0: no limit)",
           [](const Config& c) { return format_size(c.max_segment_bytes); },
           [](Config& c, const std::string& v) {
             c.max_segment_bytes = size_in(v, 0, std::numeric_limits<std::uint64_t>::max());
           }},
      },
      {
          {"allow-origin", "PATTERN",
           "origin host allowed: exact host, IP address, or *.domain for any host under domain; repeatable "
           "(none: any public host)",
           [](const Config& c) { return c.origin.allow_hosts; },
           [](Config& c, const std::vector<std::string>& v) {
             c.origin.allow_hosts = each<std::string>(v, parse_host_pattern);
           }},
          {"allow-network", "CIDR",
           "network the origin may resolve to although it is loopback, private, link-local or reserved "
           "(e.g. 10.0.0.0/8); repeatable (none: public addresses only)",
           [](const Config& c) {
             std::vector<std::string> out;
             for (const auto& n : c.origin.address_policy.allowed_networks) out.push_back(n.str());
             return out;
           },
           [](Config& c, const std::vector<std::string>& v) {
             c.origin.address_policy.allowed_networks = each<Cidr>(v, parse_network);
           }},
          {"forward-header", "NAME",
           "client request header passed on to origin; repeatable; replaces the default list, an empty "
           "value forwards none (Host, hop-by-hop, Accept-Encoding, Forwarded and X-Forwarded-* never are)",
           [](const Config& c) { return c.forward_headers; },
           [](Config& c, const std::vector<std::string>& v) {
             std::vector<std::string> out;
             for (const auto& h : each<std::string>(v, parse_forward_header)) {
               const bool dup = std::any_of(out.begin(), out.end(), [&](const auto& o) { return ascii_lower(o) == ascii_lower(h); });
               if (!dup) out.push_back(h);
             }
             c.forward_headers = out;
           }},
      }});
  groups.push_back(Group{
      "Client side",
      {
          {"cors-origin", "ORIGIN",
           "Access-Control-Allow-Origin on answers: *, one origin (https://player.example), or empty for "
           "no CORS headers",
           [](const Config& c) { return c.cors_origin; },
           [](Config& c, const std::string& v) { c.cors_origin = parse_cors_origin(v); }},
          {"max-url-length", "SIZE", "longest request URL accepted (256..1M)",
           [](const Config& c) { return format_size(c.max_url_length); },
           [](Config& c, const std::string& v) { c.max_url_length = size_in(v, 256, MiB); }},
          {"max-header-bytes", "SIZE", "largest total of request headers accepted (1K..1M)",
           [](const Config& c) { return format_size(c.max_header_bytes); },
           [](Config& c, const std::string& v) { c.max_header_bytes = size_in(v, KiB, MiB); }},
          {"max-create-body", "SIZE", "largest /create request body accepted (1K..16M)",
           [](const Config& c) { return format_size(c.max_create_body); },
           [](Config& c, const std::string& v) { c.max_create_body = size_in(v, KiB, 16 * MiB); }},
          {"log-level", "LEVEL", "error, warn, info or debug",
           [](const Config& c) { return to_string(c.log_level); },
           [](Config& c, const std::string& v) { c.log_level = parse_log_level(v); }},
      },
      {}});
  return groups;
}

// Boost reports "--name=value" or "-x" as typed; the message wants the name.
std::string strip_dashes(std::string name) {
  while (!name.empty() && name.front() == '-') name.erase(0, 1);
  return name.substr(0, name.find('='));
}

// Cross-option checks, once every option has its value.
void check_consistency(const Config& c) {
  if (c.origin.first_byte_timeout > c.origin.total_timeout)
    throw ConfigError("option 'first-byte-timeout': " + format_duration(c.origin.first_byte_timeout) +
                      " exceeds total-timeout " + format_duration(c.origin.total_timeout));
  if (c.origin.connect_timeout > c.origin.total_timeout)
    throw ConfigError("option 'connect-timeout': " + format_duration(c.origin.connect_timeout) +
                      " exceeds total-timeout " + format_duration(c.origin.total_timeout));
}

std::string usage_notes() {
  return "Every option can also be set in the configuration file as 'name = value' (one per line,\n"
         "'#' starts a comment); the command line wins. Repeatable options given on the command line\n"
         "replace the file's list. DURATION: 500ms, 15s, 5m, 1h (a bare number is milliseconds).\n"
         "SIZE: bytes, or with K, M, G (powers of 1024). BOOL: true/false, yes/no, on/off, 1/0.\n";
}

}  // namespace

std::vector<std::string> default_forward_headers() {
  // Enough for content negotiation, byte ranges (on-demand profile) and
  // revalidation. Nothing that identifies or authenticates the viewer
  // (Cookie, Authorization, User-Agent, Referer) goes to a third-party origin
  // unless the operator lists it.
  return {"Accept", "Accept-Language", "Range", "If-Range", "If-None-Match", "If-Modified-Since"};
}

const char* to_string(TokenMode m) {
  switch (m) {
    case TokenMode::pass: return "pass";
    case TokenMode::drop: return "drop";
  }
  return "pass";
}

ParsedConfig parse_config(int argc, const char* const argv[]) {
  const Config defaults;
  const auto groups = settings();

  po::options_description command_only("Command line");
  command_only.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("check-config", "validate the configuration and exit")
      ("config,c", po::value<std::string>()->value_name("FILE")->default_value(kDefaultConfigFile),
       "configuration file (a missing default file is not an error)")
      ("no-supervisor", "same as --supervise=false");

  po::options_description service;  // the options the file may set too
  std::vector<po::options_description> sections;
  for (const auto& g : groups) {
    po::options_description section(g.title);
    for (const auto& s : g.settings) {
      auto* value = po::value<std::string>()->value_name(s.arg)->default_value(s.show(defaults));
      if (std::string(s.arg) == "BOOL") value->implicit_value("true");
      section.add_options()(s.name, value, s.help);
    }
    for (const auto& l : g.lists) {
      const auto items = l.show(defaults);
      section.add_options()(
          l.name,
          po::value<std::vector<std::string>>()->value_name(l.arg)->default_value(items, join(items, ", ")),
          l.help);
    }
    service.add(section);
    sections.push_back(section);
  }

  po::options_description all;
  all.add(command_only).add(service);
  // One description for printing, so that every section shares one column.
  po::options_description help_text;
  help_text.add(command_only);
  for (const auto& s : sections) help_text.add(s);

  const std::string program = argc > 0 && argv[0] ? std::string(argv[0]) : "dashpiff-fcgi";
  const std::string program_name = program.substr(program.rfind('/') == std::string::npos ? 0 : program.rfind('/') + 1);

  po::variables_map vm;
  std::set<std::string> from_command_line;
  try {
    const auto parsed = po::command_line_parser(argc, argv).options(all).run();
    for (const auto& o : parsed.options) {
      if (o.string_key.empty())
        throw ConfigError("unexpected argument '" + (o.value.empty() ? std::string() : o.value.front()) +
                          "' on the command line (options start with --)");
      from_command_line.insert(o.string_key);
    }
    po::store(parsed, vm);
  } catch (const po::unknown_option& e) {
    throw ConfigError("unknown option '" + strip_dashes(e.get_option_name()) + "'");
  } catch (const po::multiple_occurrences& e) {
    throw ConfigError("option '" + strip_dashes(e.get_option_name()) + "': given more than once");
  } catch (const po::error_with_option_name& e) {
    throw ConfigError("option '" + strip_dashes(e.get_option_name()) + "': " + e.what());
  } catch (const po::error& e) {
    throw ConfigError(std::string("command line: ") + e.what());
  }

  ParsedConfig result;
  if (vm.count("help")) {
    std::ostringstream out;
    out << "Usage: " << program_name << " [options]\n\n"
        << "FastCGI reverse proxy for DASH streams with PIFF sample-encryption boxes.\n"
        << help_text << "\n"
        << usage_notes();
    result.action = ConfigAction::help;
    result.text = out.str();
    return result;
  }
  if (vm.count("version")) {
    result.action = ConfigAction::version;
    result.text = program_name + " " + build_info().version + " (commit " + build_info().commit + ")\n";
    return result;
  }

  const std::string file = vm["config"].as<std::string>();
  const bool file_explicit = !vm["config"].defaulted();
  std::ifstream in(file);
  if (!in) {
    const int err = errno;
    if (file_explicit || err != ENOENT)
      throw ConfigError("config file '" + file + "' cannot be read: " + std::strerror(err));
  } else {
    try {
      po::store(po::parse_config_file(in, service, false), vm);
    } catch (const po::unknown_option& e) {
      throw ConfigError("unknown option '" + strip_dashes(e.get_option_name()) + "' in " + file);
    } catch (const po::multiple_occurrences& e) {
      throw ConfigError("option '" + strip_dashes(e.get_option_name()) + "': given more than once in " + file);
    } catch (const po::error_with_option_name& e) {
      throw ConfigError("option '" + strip_dashes(e.get_option_name()) + "' in " + file + ": " + e.what());
    } catch (const po::error& e) {
      throw ConfigError(file + ": " + e.what());
    }
    result.config.config_file = file;
  }
  po::notify(vm);

  Config& config = result.config;
  auto where = [&](const char* name) {
    return from_command_line.count(name) || vm[name].defaulted() ? std::string() : " in " + file;
  };
  for (const auto& g : groups) {
    for (const auto& s : g.settings) {
      try {
        s.apply(config, vm[s.name].as<std::string>());
      } catch (const BadValue& e) {
        throw ConfigError("option '" + std::string(s.name) + "'" + where(s.name) + ": " + e.reason);
      }
    }
    for (const auto& l : g.lists) {
      try {
        l.apply(config, vm[l.name].as<std::vector<std::string>>());
      } catch (const BadValue& e) {
        throw ConfigError("option '" + std::string(l.name) + "'" + where(l.name) + ": " + e.reason);
      }
    }
  }
  if (vm.count("no-supervisor")) config.supervise = false;
  check_consistency(config);

  result.action = vm.count("check-config") ? ConfigAction::check : ConfigAction::run;
  if (result.action == ConfigAction::check)
    result.text = "configuration OK" + (config.config_file.empty() ? std::string(" (no file read)")
                                                                     : " (" + config.config_file + ")") + "\n";
  return result;
}

}  // namespace dashpiff
