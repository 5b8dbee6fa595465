// dashpiff-fcgi: the FastCGI front end. spawn-fcgi hands it the listen
// socket on fd 0 and execs it in place (-n), so this process is the
// service's main PID: the supervisor of a worker pool (fcgi/supervisor.h),
// or, with supervise=false, a single worker process for debugging.
#include <fcgiapp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <string>

#include "options.h"
#include "service/log.h"
#include "shared_metrics.h"
#include "mpd/rewriter.h"
#include "origin/client.h"
#include "signal_pipe.h"
#include "supervisor.h"
#include "worker.h"

namespace {

constexpr int kListenFd = 0;  // where spawn-fcgi puts the socket

// Catches a start outside spawn-fcgi before any worker is forked: every
// worker would otherwise fail the same way, over and over.
bool is_listening_socket(int fd) {
  int listening = 0;
  socklen_t len = sizeof listening;
  return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
}

int run_worker(const dashpiff::FcgiConfig& config, dashpiff::MetricsBlock& metrics, int wake_fd,
               const std::function<void()>& ready) {
  // The worker's log lines leave through a thread of their own: its event
  // loop logs every answer and must never wait on the log's reader
  // (service/log.h). Made here, in the worker process (a thread does not
  // survive fork), and gone after the worker and all of its threads.
  dashpiff::LogWriter log_writer(STDERR_FILENO);
  dashpiff::LogWriterInstalled logging(log_writer);
  dashpiff::Worker worker(config, config.pool, metrics, kListenFd, wake_fd);
  ready();
  return worker.run();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dashpiff;
  ParsedConfig parsed;
  try {
    parsed = parse_config(argc, argv);
  } catch (const ConfigError& e) {
    std::cerr << "dashpiff-fcgi: " << e.what() << "\n";
    return 2;
  }
  switch (parsed.action) {
    case ConfigAction::help:
    case ConfigAction::version:
    case ConfigAction::check:
      std::cout << parsed.text;
      return 0;
    case ConfigAction::run:
      break;
  }
  const FcgiConfig& config = parsed.config;
  set_log_level(config.log_level);
  if (!is_listening_socket(kListenFd)) {
    log_line(LogLevel::error, "dashpiff-fcgi: fd 0 is not a listening socket; start it with spawn-fcgi");
    return 1;
  }

  try {
    // libfcgi installs its own SIGTERM/SIGUSR1/SIGPIPE handlers here; the
    // SignalPipes made below replace them so that shutdown is ours.
    FCGX_Init();
    ::signal(SIGPIPE, SIG_IGN);  // a client gone away is an error return, not death
    // libfcgi's SIGUSR1 handler sets its shutdown flag, after which every
    // FCGX_Accept_r fails at once: the worker threads would spin while
    // connections pile up (a stray `kill -USR1`, as used to reopen logs,
    // would wedge the pool). Inherited by every worker.
    ::signal(SIGUSR1, SIG_IGN);
    // Set up once, before any fork: every worker inherits them.
    CurlGlobal curl;
    XercesGlobal xerces;
    SharedMetrics metrics;

    if (config.pool.supervise) {
      // Re-read on SIGHUP with the same command line, so that the command
      // line keeps winning over the file.
      const ConfigLoader reload = [argc, argv] { return parse_config(argc, argv).config; };
      Supervisor supervisor(config, reload, metrics.block(), kListenFd,
                            [&metrics](const FcgiConfig& c, int wake_fd, const std::function<void()>& ready) {
                              return run_worker(c, metrics.block(), wake_fd, ready);
                            });
      return supervisor.run();
    }

    ::signal(SIGHUP, SIG_IGN);
    SignalPipe stop({SIGTERM, SIGINT});
    metrics.block().workers_alive.store(1);
    log_line(LogLevel::info, "dashpiff-fcgi pid=" + std::to_string(::getpid()) +
                                 " starting without supervisor: one process, threads=" +
                                 std::to_string(config.pool.threads) + " piff-mode=" + to_string(config.piff_mode));
    const int status = run_worker(config, metrics.block(), stop.fd(), [] {});
    metrics.block().workers_alive.store(0);
    log_line(LogLevel::info, "dashpiff-fcgi stopped");
    return status;
  } catch (const std::exception& e) {
    log_line(LogLevel::error, std::string("dashpiff-fcgi: ") + e.what());
    return 1;
  }
}
