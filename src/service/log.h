// One-line log records on stderr (journald under systemd). Each record is
// written with a single write(2) so lines from threads and workers never
// interleave mid-line.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace dashpiff {

enum class LogLevel { error, warn, info, debug };
const char* to_string(LogLevel l);

// Process setup only (and SIGHUP reload in the supervisor before forking).
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
// Never throws, never waits on the log's reader while a LogWriter is
// installed.
void log_line(LogLevel level, std::string_view message);

// Log lines written by a thread of their own. An event loop logs every
// answer of its worker; a write(2) to a file or to journald waits when the
// reader is behind (page-cache throttling held the loop, and with it every
// transfer of the worker, for up to 0.7 s: client p99 615-727 ms at 64
// connections against 32-49 ms without per-request lines; issue 13: a
// waiting transfer holds no thread, and waiting on the log is waiting too).
// Lines queue in memory up to `max_queued` bytes; beyond, they are dropped
// and the next written line says how many. A batch leaves in writes of at
// most PIPE_BUF bytes that end at a line's end, so lines from several
// workers still never interleave mid-line (a pipe takes up to PIPE_BUF at
// once, and splits a longer write; journald and files read whole lines of
// one writer in order).
class LogWriter {
 public:
  explicit LogWriter(int fd, std::size_t max_queued = std::size_t{4} << 20);
  ~LogWriter();  // writes what is queued, then stops
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // False when the line was dropped (queue full, or no memory for it).
  bool enqueue(std::string_view line) noexcept;
  std::uint64_t dropped() const;

 private:
  void run();

  const int fd_;
  const std::size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::string queued_;
  std::uint64_t dropped_ = 0;
  std::uint64_t dropped_reported_ = 0;
  bool writer_idle_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

// Installs `writer` as where log_line sends its lines until the returned
// guard goes (process setup: every thread that logs must have stopped
// before the guard and the writer go).
class LogWriterInstalled {
 public:
  explicit LogWriterInstalled(LogWriter& writer);
  ~LogWriterInstalled();
  LogWriterInstalled(const LogWriterInstalled&) = delete;
  LogWriterInstalled& operator=(const LogWriterInstalled&) = delete;
};

}  // namespace dashpiff
