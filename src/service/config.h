// The service's configuration: what a request is answered with (behaviour,
// origin, client side, log level), whatever process carries it, and its
// settings table (name, argument, help, default, parser of each option).
// Reading it from argv and a file is the front end's job (fcgi/options.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "origin/client.h"
#include "piff/mode.h"
#include "service/log.h"
#include "service/settings.h"

namespace dashpiff {

// The request headers forwarded to the origin by default (hop-by-hop, Host and
// X-Forwarded-* never are, whatever the list says).
std::vector<std::string> default_forward_headers();

enum class TokenMode { pass, drop };

struct Config {
  // Behaviour
  PiffMode piff_mode = PiffMode::automatic;
  TokenMode token_mode = TokenMode::pass;
  std::string public_base_url;   // "https://d123.cloudfront.net" (no trailing '/'); empty: from the request
  std::size_t max_held_box = 4u << 20;
  bool player_page = false;

  // Origin
  OriginOptions origin;
  std::size_t max_manifest_bytes = 16u << 20;
  // All whole answers a worker holds at once (HeldBytes, origin_proxy.h):
  // sixteen manifests at their cap, thousands of real ones.
  std::uint64_t max_held_bytes = 256u << 20;
  // Manifest shape, checked while it arrives (mpd/prescan.h has the reasons
  // for the defaults) and the most a gzip'd manifest may expand.
  std::size_t max_manifest_elements = 50000;
  std::size_t max_manifest_depth = 32;
  std::size_t max_manifest_attributes = 64;
  std::size_t max_manifest_attribute_bytes = 64u << 10;
  std::size_t max_manifest_text_bytes = 1u << 20;
  unsigned max_manifest_gzip_ratio = 100;
  std::uint64_t max_segment_bytes = 0;  // 0: no cap
  std::vector<std::string> forward_headers = default_forward_headers();  // request headers passed to origin

  // Client side
  std::string cors_origin = "*";  // empty: no CORS headers
  std::size_t max_url_length = 8192;
  std::size_t max_header_bytes = 16384;
  std::size_t max_create_body = 65536;

  LogLevel log_level = LogLevel::info;
};

// The service's options, in --help order: one group per section.
std::vector<settings::Group<Config>> service_settings();

// Checks across options, once every option has its value; throws
// ConfigError naming the option.
void check_consistency(const Config& c);

const char* to_string(TokenMode m);

}  // namespace dashpiff
