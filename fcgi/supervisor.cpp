#include "supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <system_error>
#include <utility>

#include "service/log.h"

namespace dashpiff {
namespace {

using std::chrono::milliseconds;

// A new worker reports ready within milliseconds; one that has not after
// this long is counted as ready so that a reload cannot stall on it.
constexpr auto kReadyTimeout = std::chrono::seconds(5);
// A worker that dies abnormally this soon after starting is probably dying
// of its configuration or environment: pause before replacing it, short
// enough that a replacement still comes within a second.
constexpr auto kShortLife = std::chrono::seconds(1);
constexpr auto kCrashPause = std::chrono::milliseconds(500);

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    std::string s = "killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
    if (WCOREDUMP(status)) s += ", core dumped";
    return s;
  }
  return "status " + std::to_string(status);
}

std::string seconds_text(Supervisor::Clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

std::string pool_text(const FcgiConfig& c, unsigned workers) {
  return std::to_string(workers) + " workers x " + std::to_string(c.pool.threads) +
         " threads, piff-mode=" + to_string(c.piff_mode) + ", max-requests=" + std::to_string(c.pool.max_requests) +
         ", shutdown-deadline=" + std::to_string(c.pool.shutdown_deadline.count()) + "s";
}

}  // namespace

unsigned cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<unsigned>(CPU_COUNT(&set));
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1u;
}

Supervisor::Supervisor(FcgiConfig config, ConfigLoader reload, MetricsBlock& metrics, int listen_fd,
                       WorkerMain worker_main)
    : config_(std::move(config)), reload_(std::move(reload)), metrics_(metrics), listen_fd_(listen_fd),
      worker_main_(std::move(worker_main)), self_(::getpid()), signals_({SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  ready_read_ = UniqueFd(fds[0]);
  ready_write_ = UniqueFd(fds[1]);
}

unsigned Supervisor::target() const { return config_.pool.workers ? config_.pool.workers : cpu_count(); }

Supervisor::Process* Supervisor::find(pid_t pid) {
  const auto it = std::find_if(workers_.begin(), workers_.end(), [pid](const Process& p) { return p.pid == pid; });
  return it == workers_.end() ? nullptr : &*it;
}

void Supervisor::update_alive() { metrics_.workers_alive.store(workers_.size()); }

int Supervisor::run() {
  log_line(LogLevel::info, "supervisor pid=" + std::to_string(self_) + " starting " + pool_text(config_, target()));
  reconcile();
  while (!(shutting_down_ && workers_.empty())) {
    wait_for_events();
    for (const int signo : signals_.take()) on_signal(signo);
    read_ready_reports();
    reap();
    kill_overdue();
    if (!shutting_down_) reconcile();
  }
  metrics_.workers_alive.store(0);
  log_line(LogLevel::info, "supervisor pid=" + std::to_string(self_) + ": every worker has stopped, exiting");
  return 0;
}

Supervisor::Clock::time_point Supervisor::next_deadline() const {
  auto next = Clock::time_point::max();
  for (const auto& p : workers_) {
    if (p.stopping && !p.killed) next = std::min(next, p.stop_sent + config_.pool.shutdown_deadline);
    if (!p.stopping && !p.ready) next = std::min(next, p.started + kReadyTimeout);
  }
  if (!shutting_down_ && spawn_not_before_ > Clock::now()) next = std::min(next, spawn_not_before_);
  return next;
}

void Supervisor::wait_for_events() {
  pollfd fds[2] = {{signals_.fd(), POLLIN, 0}, {ready_read_.get(), POLLIN, 0}};
  int timeout_ms = -1;
  const auto deadline = next_deadline();
  if (deadline != Clock::time_point::max()) {
    const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
    timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, 60 * 60 * 1000));
  }
  // EINTR is a signal arriving, which the pipe reports: nothing to do here.
  ::poll(fds, 2, timeout_ms);
}

void Supervisor::on_signal(int signo) {
  switch (signo) {
    case SIGTERM:
    case SIGINT:
      begin_shutdown(signo);
      break;
    case SIGHUP:
      reload();
      break;
    default:  // SIGCHLD: reap() runs after every wake-up
      break;
  }
}

void Supervisor::begin_shutdown(int signo) {
  const std::string name = signo == SIGINT ? "SIGINT" : "SIGTERM";
  if (shutting_down_) {
    log_line(LogLevel::info, name + ": already draining");
    return;
  }
  shutting_down_ = true;
  metrics_.draining.store(1);
  log_line(LogLevel::info, name + ": draining; " + std::to_string(workers_.size()) +
                               " workers finish their requests (shutdown-deadline=" +
                               std::to_string(config_.pool.shutdown_deadline.count()) + "s)");
  // Without this, connections keep queueing on a socket nobody accepts from
  // any more and wait for the deadline; with it they are refused at once
  // (the web server answers 502, a load balancer sees the node go). The
  // socket is shared, so this is only done when the whole pool stops.
  if (::shutdown(listen_fd_, SHUT_RD) < 0)
    log_line(LogLevel::warn, std::string("cannot shut the listen socket: ") + std::strerror(errno));
  for (auto& p : workers_)
    if (!p.stopping) stop(p);
}

void Supervisor::reload() {
  if (shutting_down_) {
    log_line(LogLevel::info, "SIGHUP ignored: draining");
    return;
  }
  FcgiConfig fresh;
  try {
    fresh = reload_();
  } catch (const std::exception& e) {
    log_line(LogLevel::error, std::string("SIGHUP: configuration not reloaded, keeping the running one: ") + e.what());
    return;
  }
  if (!fresh.pool.supervise) {
    log_line(LogLevel::warn, "SIGHUP: supervise=false takes effect at the next start, not on reload");
    fresh.pool.supervise = true;
  }
  set_log_level(fresh.log_level);
  config_ = std::move(fresh);
  ++generation_;
  reloading_ = true;
  const std::string from = config_.config_file.empty() ? "the command line" : config_.config_file;
  log_line(LogLevel::info, "SIGHUP: configuration reloaded from " + from + "; replacing the workers one at a time (" +
                               pool_text(config_, target()) + ")");
}

void Supervisor::read_ready_reports() {
  pid_t pids[64];
  for (;;) {
    const auto n = ::read(ready_read_.get(), pids, sizeof pids);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    // Each report is one write of sizeof(pid_t) < PIPE_BUF bytes, so whole.
    for (std::size_t i = 0; i < static_cast<std::size_t>(n) / sizeof(pid_t); ++i)
      if (Process* p = find(pids[i])) p->ready = true;
  }
}

void Supervisor::reap() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) break;
    const auto it = std::find_if(workers_.begin(), workers_.end(), [pid](const Process& p) { return p.pid == pid; });
    if (it == workers_.end()) continue;
    const Process dead = *it;
    workers_.erase(it);
    update_alive();
    metrics_.release_worker_slot(pid);  // a crash leaves its busy threads behind

    const auto now = Clock::now();
    const std::string who = "worker pid=" + std::to_string(pid) + " ";
    const std::string how = describe_status(status);
    if (dead.stopping) {
      const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      log_line(clean ? LogLevel::info : LogLevel::warn,
               who + "stopped (" + how + ") " + seconds_text(now - dead.stop_sent) + " after being told to");
      continue;
    }
    metrics_.workers_restarted.fetch_add(1);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      log_line(LogLevel::info, who + "exited (" + how + ": max-requests recycle, or stopped from outside); replacing it");
    } else if (now - dead.started < kShortLife) {
      spawn_not_before_ = now + kCrashPause;
      log_line(LogLevel::error, who + "died " + seconds_text(now - dead.started) + " after starting (" + how +
                                    "); replacing it after " + seconds_text(kCrashPause));
    } else {
      log_line(LogLevel::error, who + "died (" + how + ") after " + seconds_text(now - dead.started) +
                                    "; replacing it");
    }
  }
}

void Supervisor::kill_overdue() {
  const auto now = Clock::now();
  for (auto& p : workers_) {
    if (p.stopping && !p.killed && now >= p.stop_sent + config_.pool.shutdown_deadline) {
      log_line(LogLevel::warn, "worker pid=" + std::to_string(p.pid) + " still busy after shutdown-deadline=" +
                                   std::to_string(config_.pool.shutdown_deadline.count()) + "s; killing it");
      ::kill(p.pid, SIGKILL);
      p.killed = true;
    }
    if (!p.stopping && !p.ready && now >= p.started + kReadyTimeout) {
      log_line(LogLevel::warn, "worker pid=" + std::to_string(p.pid) + " has not reported ready after " +
                                   seconds_text(kReadyTimeout) + "; counting it as ready");
      p.ready = true;
    }
  }
}

void Supervisor::reconcile() {
  const auto now = Clock::now();
  const unsigned want = target();
  const auto is_active = [](const Process& p) { return !p.stopping; };
  auto active = static_cast<unsigned>(std::count_if(workers_.begin(), workers_.end(), is_active));

  // Replace the dead.
  while (active < want && now >= spawn_not_before_ && spawn()) ++active;

  // Rolling replacement after a reload: one new worker up and accepting,
  // then one old worker stopped, and again.
  for (;;) {
    const bool starting =
        std::any_of(workers_.begin(), workers_.end(), [](const Process& p) { return !p.stopping && !p.ready; });
    const auto old = std::find_if(workers_.begin(), workers_.end(),
                                  [this](const Process& p) { return !p.stopping && p.generation < generation_; });
    if (old == workers_.end() || starting) break;
    if (active > want) {
      log_line(LogLevel::info, "stopping old worker pid=" + std::to_string(old->pid) +
                                   " now that its replacement accepts; it finishes its requests");
      stop(*old);
      --active;
    } else if (now >= spawn_not_before_ && spawn()) {
      ++active;
    } else {
      break;
    }
  }

  if (reloading_ && std::none_of(workers_.begin(), workers_.end(),
                                 [this](const Process& p) { return p.generation < generation_; })) {
    reloading_ = false;
    log_line(LogLevel::info, "reload complete: " + std::to_string(active) + " workers run the new configuration");
  }
}

void Supervisor::stop(Process& p) {
  ::kill(p.pid, SIGTERM);
  p.stopping = true;
  p.stop_sent = Clock::now();
}

bool Supervisor::spawn() {
  // Signals stay blocked across fork until the child has its own handlers:
  // a SIGTERM arriving in between must reach the child's wake pipe, not be
  // written into the supervisor's pipe by the inherited handler.
  sigset_t block;
  sigset_t old;
  sigemptyset(&block);
  for (const int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&block, s);
  ::sigprocmask(SIG_BLOCK, &block, &old);
  const pid_t pid = ::fork();
  if (pid == 0) run_child(old);
  const int fork_errno = errno;
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    spawn_not_before_ = Clock::now() + kCrashPause;
    log_line(LogLevel::error, std::string("cannot start a worker: fork: ") + std::strerror(fork_errno));
    return false;
  }
  workers_.push_back(Process{pid, generation_, Clock::now()});
  update_alive();
  log_line(LogLevel::info, "started worker pid=" + std::to_string(pid) +
                               (generation_ ? " (configuration " + std::to_string(generation_) + ")" : ""));
  return true;
}

void Supervisor::run_child(const sigset_t& parent_mask) {
  // Die with the supervisor: an orphan would hold the listen socket. The
  // supervisor may already have gone before prctl took effect.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != self_) ::_exit(1);

  signals_.close_in_child();
  ready_read_.reset();
  ::signal(SIGHUP, SIG_IGN);  // reloads are the supervisor's business
  ::signal(SIGCHLD, SIG_DFL);
  int status = 1;
  try {
    // SIGTERM (from the supervisor, or systemd's control-group kill) wakes
    // every worker thread; a fresh pipe, so nothing reaches the parent's.
    SignalPipe stop({SIGTERM, SIGINT});
    ::sigprocmask(SIG_SETMASK, &parent_mask, nullptr);
    const int ready_fd = ready_write_.get();
    status = worker_main_(config_, stop.fd(), [ready_fd] {
      const pid_t me = ::getpid();
      [[maybe_unused]] const auto n = ::write(ready_fd, &me, sizeof me);
    });
  } catch (const std::exception& e) {
    log_line(LogLevel::error, "worker pid=" + std::to_string(::getpid()) + " failed: " + e.what());
  }
  // The supervisor's objects were copied by fork and are not this process's
  // to clean up.
  ::_exit(status);
}

}  // namespace dashpiff
