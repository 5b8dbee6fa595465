#include "service/config.h"
#include "util/strings.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>

#include "http/uri.h"

namespace dashpiff {

using namespace settings;

namespace {

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
  const std::string expected = "a host name, an IP address, or *.domain, optionally with :port";
  const std::string lowered = ascii_lower(text);
  const auto split = split_host_port(lowered);
  if (!split) throw BadValue{invalid(text, expected)};
  const std::string port = split->port ? ":" + std::to_string(split->port) : std::string();
  std::string p(split->host);
  if (auto ip = IpAddress::parse(p.size() > 2 && p.front() == '[' && p.back() == ']' ? p.substr(1, p.size() - 2) : p))
    return p + port;
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
  return p + port;
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

}  // namespace

std::vector<settings::Group<Config>> service_settings() {
  using Group = settings::Group<Config>;
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  std::vector<Group> groups;
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
           "absolute http(s) URL the proxy is reached at, used in minted URLs and remote elements' xlink:href "
           "(empty: from each request)",
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
          {"low-speed-limit", "SIZE",
           "least an origin must send in every low-speed-time, or the transfer is cut as a timeout "
           "(0: no limit; 0..1G)",
           [](const Config& c) { return format_size(c.origin.low_speed_bytes); },
           [](Config& c, const std::string& v) { c.origin.low_speed_bytes = size_in(v, 0, GiB); }},
          {"low-speed-time", "DURATION",
           "the window low-speed-limit is measured over, rounded up to whole seconds (1s..1h)",
           [](const Config& c) { return format_duration(c.origin.low_speed_time); },
           [](Config& c, const std::string& v) {
             c.origin.low_speed_time = duration_in(v, milliseconds(1000), std::chrono::hours(1));
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
          {"max-held-bytes", "SIZE", "most bytes a worker holds in whole answers at once (manifests, Smooth fragments; 1M..64G); beyond it 503",
           [](const Config& c) { return format_size(c.max_held_bytes); },
           [](Config& c, const std::string& v) { c.max_held_bytes = size_in(v, MiB, 64 * GiB); }},
          {"max-manifest-elements", "N", "most elements in a manifest, counted as it arrives (100..10000000)",
           [](const Config& c) { return std::to_string(c.max_manifest_elements); },
           [](Config& c, const std::string& v) { c.max_manifest_elements = parse_count(v, 100, 10000000); }},
          {"max-manifest-depth", "N", "deepest nesting of manifest elements (8..256)",
           [](const Config& c) { return std::to_string(c.max_manifest_depth); },
           [](Config& c, const std::string& v) { c.max_manifest_depth = parse_count(v, 8, 256); }},
          {"max-manifest-attributes", "N", "most attributes on one manifest element (16..100000)",
           [](const Config& c) { return std::to_string(c.max_manifest_attributes); },
           [](Config& c, const std::string& v) { c.max_manifest_attributes = parse_count(v, 16, 100000); }},
          {"max-manifest-attribute-bytes", "SIZE", "longest manifest name or attribute value (1K..16M)",
           [](const Config& c) { return format_size(c.max_manifest_attribute_bytes); },
           [](Config& c, const std::string& v) { c.max_manifest_attribute_bytes = size_in(v, KiB, 16 * MiB); }},
          {"max-manifest-text-bytes", "SIZE", "longest manifest text run, comment or CDATA section (1K..1G)",
           [](const Config& c) { return format_size(c.max_manifest_text_bytes); },
           [](Config& c, const std::string& v) { c.max_manifest_text_bytes = size_in(v, KiB, GiB); }},
          {"max-manifest-gzip-ratio", "N", "most a compressed manifest may expand, past its first 1M (2..100000)",
           [](const Config& c) { return std::to_string(c.max_manifest_gzip_ratio); },
           [](Config& c, const std::string& v) {
             c.max_manifest_gzip_ratio = static_cast<unsigned>(parse_count(v, 2, 100000));
           }},
          {"max-segment-bytes", "SIZE", "largest media segment fetched (0: no limit)",
           [](const Config& c) { return format_size(c.max_segment_bytes); },
           [](Config& c, const std::string& v) {
             c.max_segment_bytes = size_in(v, 0, std::numeric_limits<std::uint64_t>::max());
           }},
      },
      {
          {"allow-origin", "PATTERN",
           "origin host allowed: exact host, IP address, or *.domain for any host under domain, each "
           "optionally with :port (then only on that port); repeatable (none: any public host). With entries, "
           "an allow-network range is reached only through them, and only through entries without a *.",
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

// Cross-option checks, once every option has its value.
void check_consistency(const Config& c) {
  if (c.origin.first_byte_timeout > c.origin.total_timeout)
    throw ConfigError("option 'first-byte-timeout': " + format_duration(c.origin.first_byte_timeout) +
                      " exceeds total-timeout " + format_duration(c.origin.total_timeout));
  if (c.origin.connect_timeout > c.origin.total_timeout)
    throw ConfigError("option 'connect-timeout': " + format_duration(c.origin.connect_timeout) +
                      " exceeds total-timeout " + format_duration(c.origin.total_timeout));
}

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

}  // namespace dashpiff
