#include "service/log.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace dashpiff {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
// Set by LogWriterInstalled during process setup; null: lines go straight to stderr.
std::atomic<LogWriter*> g_writer{nullptr};

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to write: the lines are lost, the service goes on
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// A batch of whole lines in writes of at most PIPE_BUF bytes, each ending at
// a line's end: a pipe takes such a write whole (POSIX write(2)), so the
// lines of several workers sharing one (their supervisor's stderr under
// Docker or `| logger`) never mix; one longer write is split and mixed with
// another writer's once the pipe is full. A line longer than PIPE_BUF goes
// alone.
void write_lines(int fd, std::string_view batch) {
  while (!batch.empty()) {
    std::size_t end = batch.size() <= PIPE_BUF ? batch.size() - 1 : batch.rfind('\n', PIPE_BUF - 1);
    if (end == std::string_view::npos) end = std::min(batch.find('\n'), batch.size() - 1);
    write_all(fd, batch.substr(0, end + 1));
    batch.remove_prefix(end + 1);
  }
}

std::string format_line(LogLevel level, std::string_view message) {
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
  return line;
}

}  // namespace

LogWriter::LogWriter(int fd, std::size_t max_queued)
    : fd_(fd), max_queued_(max_queued), thread_([this] { run(); }) {}

LogWriter::~LogWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_one();
  thread_.join();
}

bool LogWriter::enqueue(std::string_view line) noexcept {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queued_.size() + line.size() > max_queued_) {
      ++dropped_;
      return false;
    }
    try {
      queued_.append(line);
    } catch (...) {
      ++dropped_;
      return false;
    }
    wake = writer_idle_;
    writer_idle_ = false;
  }
  // Only a writer that has run dry is woken: while it writes a batch, lines
  // gather for the next one without a wake-up each.
  if (wake) ready_.notify_one();
  return true;
}

std::uint64_t LogWriter::dropped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return dropped_;
}

void LogWriter::run() {
  std::string batch;
  for (;;) {
    std::uint64_t newly_dropped = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (queued_.empty() && !stopping_) {
        writer_idle_ = true;
        ready_.wait(lock, [this] { return !queued_.empty() || stopping_; });
      }
      if (queued_.empty() && stopping_) return;
      batch.clear();
      batch.swap(queued_);  // the queue keeps the capacity the batch had
      newly_dropped = dropped_ - dropped_reported_;
      dropped_reported_ = dropped_;
    }
    if (newly_dropped > 0) {
      try {
        batch += format_line(LogLevel::warn, std::to_string(newly_dropped) +
                                                  " log line(s) dropped: the log's reader fell behind");
      } catch (...) {
      }
    }
    write_lines(fd_, batch);
  }
}

LogWriterInstalled::LogWriterInstalled(LogWriter& writer) { g_writer.store(&writer, std::memory_order_release); }

LogWriterInstalled::~LogWriterInstalled() { g_writer.store(nullptr, std::memory_order_release); }

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed); }


void log_line(LogLevel level, std::string_view message) {
  if (!log_enabled(level)) return;
  try {
    const std::string line = format_line(level, message);
    if (LogWriter* writer = g_writer.load(std::memory_order_acquire)) {
      writer->enqueue(line);
      return;
    }
    // A short write to stderr is not worth retrying: logging must never block a request.
    [[maybe_unused]] const auto written = ::write(STDERR_FILENO, line.data(), line.size());
  } catch (...) {  // no memory for the line: it is lost, the caller goes on
  }
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
