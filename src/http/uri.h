// RFC 3986 references: split into components and resolve against a base.
// Components are kept exactly as written (no percent-decoding, no case
// folding beyond the scheme) because origins' token checks compare bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dashpiff {

struct Uri {
  std::optional<std::string> scheme;     // lower-cased
  std::optional<std::string> authority;  // "user@host:port" as written
  std::string path;
  std::optional<std::string> query;      // without '?'
  std::optional<std::string> fragment;   // without '#'

  static Uri parse(std::string_view ref);
  std::string str() const;  // RFC 3986 §5.3 recomposition

  bool is_absolute() const { return scheme.has_value(); }
  // Host part of the authority without userinfo, port or IPv6 brackets.
  std::string host() const;
  // Port given in the authority, or the scheme's default (80/443), or -1.
  int port() const;
};

// An absolute http or https URL with a host: the only kind the proxy fetches
// or mints (SPEC §2). Scheme compared lower-cased, as parse() stores it.
bool is_http_url(const Uri& absolute_url);
bool is_http_url(std::string_view absolute_url);

// RFC 3986 §5.2.2 (strict): resolve `ref` against the absolute `base`.
std::string resolve_uri(std::string_view base, std::string_view ref);

// RFC 3986 §5.2.4.
std::string remove_dot_segments(std::string_view path);

// The URL without query and fragment ("http://h/a/b.mpd?x" -> "http://h/a/b.mpd").
std::string strip_query(std::string_view url);

// "host" or "host:port" as written in an authority without userinfo (RFC 3986
// §3.2.2-3.2.3): an IPv6 literal needs brackets to carry a port, so a bare
// "::1" is a host. nullopt for an empty host or a port outside 1..65535.
struct HostPort {
  std::string_view host;  // brackets kept for an IPv6 literal
  int port = 0;           // 0: none given
};
std::optional<HostPort> split_host_port(std::string_view text);

// Directory part of an absolute URL, up to and including the last '/' of the
// path ("http://h/a/b.mpd" -> "http://h/a/").
std::string directory_of(std::string_view url);

}  // namespace dashpiff
