// dashpiff-fcgi's configuration: the worker pool's settings around the
// service's (service/config.h), read from the command line and an INI file
// (/etc/dashpiff/dashpiff.conf), the command line winning.
// Boost.Program_options. As php-fpm's fpm_conf, this is the process's part:
// the service knows nothing of processes, threads or argv.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "service/config.h"
#include "service/settings.h"

namespace dashpiff {

// How the process serves: php-fpm's static pool.
struct PoolConfig {
  unsigned workers = 0;          // 0: number of cores
  unsigned threads = 8;          // threads per worker serving requests
  unsigned long max_requests = 0;  // recycle a worker after this many; 0: never
  std::chrono::seconds shutdown_deadline{30};
  bool supervise = true;         // false: one process, for debugging
  // Issue 13: each worker's event loop runs the segment transfers.
  unsigned max_transfers = 2048;  // concurrent transfers per worker; beyond it 503 + Retry-After
  std::size_t transfer_buffer = 64u << 10;  // bytes held per transfer before its origin is paused
  std::chrono::milliseconds client_idle_timeout{60000};  // client side took nothing for this long: abort
  std::chrono::milliseconds origin_idle_timeout{30000};  // origin sent nothing for this long (not paused): abort
};

// Everything dashpiff-fcgi runs with: the service's configuration (what a
// worker's router gets) and the pool that runs it.
struct FcgiConfig : Config {
  PoolConfig pool;
  std::string config_file;       // where it was read from, for logs
};

// What the command line asked for beyond running.
enum class ConfigAction { run, help, version, check };

struct ParsedConfig {
  FcgiConfig config;
  ConfigAction action = ConfigAction::run;
  std::string text;  // help / version text to print for those actions
};

// Throws ConfigError naming the option and the reason. The file named by
// --config (default /etc/dashpiff/dashpiff.conf; a missing default file is not
// an error) fills in what the command line did not set. Durations are written
// 500ms, 15s, 5m, 1h (bare numbers are milliseconds); sizes as bytes or with
// K, M, G (powers of 1024). `dashpiff-fcgi --help` lists every option.
ParsedConfig parse_config(int argc, const char* const argv[]);

}  // namespace dashpiff
