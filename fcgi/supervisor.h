// The worker pool, in the manner of php-fpm's static pool. spawn-fcgi execs
// dashpiff-fcgi in place (-n), so the supervisor is the service's main PID;
// it forks `workers` processes that all accept on the inherited listen
// socket, and never serves a request itself.
//
//   - A worker that dies (crash, kill, max-requests recycle) is replaced at
//     once (after a half-second pause when it died abnormally within a second
//     of starting, so a crash loop cannot spin) and the death is logged.
//   - SIGTERM/SIGINT: draining is set (/healthz answers 503), the listen
//     socket is shut for reading so new connections are refused at once
//     instead of queueing behind workers that no longer accept, every worker
//     is told to stop accepting (SIGTERM) and finishes what it holds; any
//     still running after shutdown-deadline is killed. Then exit 0.
//   - SIGHUP: the configuration is read again (a bad one is logged and the
//     running one kept) and the workers are replaced one at a time: start a
//     new worker, wait until it accepts, stop one old worker gracefully,
//     repeat. The listen socket always has accepting workers.
//
// Workers die with the supervisor (PR_SET_PDEATHSIG): an orphan would keep
// the socket open and spawn-fcgi refuses to bind a socket in use.
//
// Single-threaded on purpose: fork() from a threaded process copies locks
// held by threads that do not exist in the child.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <vector>

#include "options.h"
#include "service/metrics.h"
#include "signal_pipe.h"
#include "unique_fd.h"

namespace dashpiff {

// Runs in a freshly forked worker: serve on the listen socket until
// `wake_fd` becomes readable, call `ready` once about to accept, return the
// exit status.
using WorkerMain = std::function<int(const FcgiConfig& config, int wake_fd, const std::function<void()>& ready)>;

// Reads the configuration again (SIGHUP); throws ConfigError.
using ConfigLoader = std::function<FcgiConfig()>;

class Supervisor {
 public:
  using Clock = std::chrono::steady_clock;

  // Installs the supervisor's signal handlers: construct after FCGX_Init.
  Supervisor(FcgiConfig config, ConfigLoader reload, MetricsBlock& metrics, int listen_fd, WorkerMain worker_main);
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Returns the exit status once a stop signal has been handled and every
  // worker is gone.
  int run();

 private:
  struct Process {
    pid_t pid;
    unsigned generation;  // configuration it was started with
    Clock::time_point started;
    bool ready = false;     // reported that it is about to accept
    bool stopping = false;  // told to stop; not replaced when it exits
    bool killed = false;    // SIGKILLed after the deadline
    Clock::time_point stop_sent{};
  };

  void wait_for_events();
  void on_signal(int signo);
  void begin_shutdown(int signo);
  void reload();
  void read_ready_reports();
  void reap();
  void kill_overdue();
  void reconcile();
  bool spawn();
  [[noreturn]] void run_child(const sigset_t& parent_mask);
  void stop(Process& p);
  void update_alive();
  unsigned target() const;
  Process* find(pid_t pid);
  Clock::time_point next_deadline() const;

  FcgiConfig config_;
  ConfigLoader reload_;
  MetricsBlock& metrics_;
  int listen_fd_;
  WorkerMain worker_main_;
  pid_t self_;

  SignalPipe signals_;
  UniqueFd ready_read_;   // workers write their pid here once accepting
  UniqueFd ready_write_;

  std::vector<Process> workers_;
  unsigned generation_ = 0;
  bool shutting_down_ = false;
  bool reloading_ = false;
  Clock::time_point spawn_not_before_{};
};

// Worker processes to run for `workers` = 0: the CPUs this process may use.
unsigned cpu_count();

}  // namespace dashpiff
