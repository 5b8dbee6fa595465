// One-line log records on stderr (journald under systemd). Each record is
// written with a single write(2) so lines from threads and workers never
// interleave mid-line.
#pragma once

#include <string_view>

namespace dashpiff {

enum class LogLevel { error, warn, info, debug };
const char* to_string(LogLevel l);

// Process setup only (and SIGHUP reload in the supervisor before forking).
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, std::string_view message);

}  // namespace dashpiff
