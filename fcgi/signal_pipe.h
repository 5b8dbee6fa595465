// Signals as bytes on a pipe (the self-pipe trick), so that a poll or epoll
// loop can wait for them together with everything else. The handler does
// nothing but write(2), which is async-signal-safe.
#pragma once

#include <initializer_list>
#include <vector>

#include "unique_fd.h"

namespace dashpiff {

class SignalPipe {
 public:
  // Installs a handler for each of `signals`. libfcgi's FCGX_Init installs
  // its own SIGTERM handler, so construct this after FCGX_Init. One
  // SignalPipe per process at a time: the handler writes to the newest.
  explicit SignalPipe(std::initializer_list<int> signals);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  // Readable once a signal has arrived; stays readable until take().
  int fd() const { return read_.get(); }

  // The signals that arrived since the last call, each once, in order of
  // first arrival.
  std::vector<int> take();

  // For a forked child that is about to make its own SignalPipe: the
  // parent's pipe must not carry the child's signals.
  void close_in_child();

 private:
  UniqueFd read_;
  UniqueFd write_;
};

}  // namespace dashpiff
