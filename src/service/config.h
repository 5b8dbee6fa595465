// Service configuration: every option on the command line and in an INI file
// (/etc/dashpiff/dashpiff.conf), the command line winning. Boost.Program_options.
#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "origin/client.h"
#include "piff/mode.h"
#include "service/log.h"

namespace dashpiff {

// The request headers forwarded to the origin by default (hop-by-hop, Host and
// X-Forwarded-* never are, whatever the list says).
std::vector<std::string> default_forward_headers();

enum class TokenMode { pass, drop };

struct Config {
  // Pool
  unsigned workers = 0;          // 0: number of cores
  unsigned threads = 8;          // threads per worker serving requests
  unsigned long max_requests = 0;  // recycle a worker after this many; 0: never
  std::chrono::seconds shutdown_deadline{30};
  bool supervise = true;         // false: one process, for debugging

  // Behaviour
  PiffMode piff_mode = PiffMode::automatic;
  TokenMode token_mode = TokenMode::pass;
  std::string public_base_url;   // "https://d123.cloudfront.net" (no trailing '/'); empty: from the request
  std::size_t max_held_box = 4u << 20;
  bool player_page = false;

  // Origin
  OriginOptions origin;
  std::size_t max_manifest_bytes = 16u << 20;
  std::uint64_t max_segment_bytes = 0;  // 0: no cap
  std::vector<std::string> forward_headers = default_forward_headers();  // request headers passed to origin

  // Client side
  std::string cors_origin = "*";  // empty: no CORS headers
  std::size_t max_url_length = 8192;
  std::size_t max_header_bytes = 16384;
  std::size_t max_create_body = 65536;

  LogLevel log_level = LogLevel::info;
  std::string config_file;       // where it was read from, for logs
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the command line asked for beyond running.
enum class ConfigAction { run, help, version, check };

struct ParsedConfig {
  Config config;
  ConfigAction action = ConfigAction::run;
  std::string text;  // help / version text to print for those actions
};

// Throws ConfigError naming the option and the reason. The file named by
// --config (default /etc/dashpiff/dashpiff.conf; a missing default file is not
// an error) fills in what the command line did not set. Durations are written
// 500ms, 15s, 5m, 1h (bare numbers are milliseconds); sizes as bytes or with
// K, M, G (powers of 1024). `dashpiff-fcgi --help` lists every option.
ParsedConfig parse_config(int argc, const char* const argv[]);

const char* to_string(TokenMode m);

}  // namespace dashpiff
