#include "signal_pipe.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace dashpiff {
namespace {

// Process setup state: the write end the handler reports to (-1: none).
volatile sig_atomic_t g_write_fd = -1;

extern "C" void on_signal(int signo) {
  // The interrupted code may be about to look at errno.
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(signo);
  // Non-blocking: when the pipe is full the signal is already on record.
  [[maybe_unused]] const auto n = ::write(g_write_fd, &byte, 1);
  errno = saved_errno;
}

}  // namespace

SignalPipe::SignalPipe(std::initializer_list<int> signals) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  read_ = UniqueFd(fds[0]);
  write_ = UniqueFd(fds[1]);
  g_write_fd = write_.get();

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // SA_RESTART keeps ordinary system calls from failing with EINTR; poll and
  // epoll_wait return EINTR regardless, which is when the pipe is read.
  sa.sa_flags = SA_RESTART;
  for (const int s : signals) {
    struct sigaction act = sa;
    if (s == SIGCHLD) act.sa_flags |= SA_NOCLDSTOP;
    if (::sigaction(s, &act, nullptr) < 0) throw std::system_error(errno, std::generic_category(), "sigaction");
  }
}

SignalPipe::~SignalPipe() {
  if (g_write_fd == write_.get()) g_write_fd = -1;
}

std::vector<int> SignalPipe::take() {
  std::vector<int> seen;
  unsigned char buf[64];
  for (;;) {
    const auto n = ::read(read_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i)
      if (std::find(seen.begin(), seen.end(), buf[i]) == seen.end()) seen.push_back(buf[i]);
  }
  return seen;
}

void SignalPipe::close_in_child() {
  if (g_write_fd == write_.get()) g_write_fd = -1;
  read_.reset();
  write_.reset();
}

}  // namespace dashpiff
