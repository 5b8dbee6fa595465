#include "service/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace dashpiff {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};

}  // namespace

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed); }

void log_line(LogLevel level, std::string_view message) {
  if (!log_enabled(level)) return;
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  // The date and time up to the second change once a second: formatted then,
  // per thread (snprintf per line was a tenth of the log line's cost).
  thread_local std::time_t stamped = -1;
  thread_local char stamp[64];
  if (secs != stamped) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    stamped = secs;
  }
  const char millis[] = {static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                         static_cast<char>('0' + ms % 10), 'Z', ' '};
  std::string line;
  line.reserve(40 + message.size());
  line.append(stamp).append(millis, sizeof millis);
  line += to_string(level);
  line += ' ';
  line += message;
  line += '\n';
  // A short write to stderr is not worth retrying: logging must never block a request.
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

const char* to_string(LogLevel l) {
  switch (l) {
    case LogLevel::error: return "error";
    case LogLevel::warn: return "warn";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
  }
  return "info";
}

}  // namespace dashpiff
