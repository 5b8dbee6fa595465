// dashpiff-fcgi: the FastCGI front end. spawn-fcgi hands it the listen
// socket on fd 0 (and execs it in place with -n).
#include <fcgiapp.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <system_error>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "mpd_rewriter.h"
#include "origin_client.h"
#include "worker.h"

namespace {

// Written by the SIGTERM/SIGINT handler; process setup state, set once.
int g_stop_pipe_write = -1;

extern "C" void on_stop_signal(int) {
  const char byte = 1;
  [[maybe_unused]] const auto n = ::write(g_stop_pipe_write, &byte, 1);
}

void install_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
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
      std::cout << parsed.text;
      return 0;
    case ConfigAction::check:
      std::cout << "dashpiff-fcgi: configuration OK\n";
      return 0;
    case ConfigAction::run:
      break;
  }
  const Config& config = parsed.config;
  set_log_level(config.log_level);

  try {
    // libfcgi installs its own SIGTERM/SIGUSR1/SIGPIPE handlers here; ours
    // replace them below so that shutdown is under our control.
    FCGX_Init();
    CurlGlobal curl;
    XercesGlobal xerces;
    SharedMetrics metrics;

    int stop_pipe[2];
    if (::pipe2(stop_pipe, O_CLOEXEC) < 0) throw std::system_error(errno, std::generic_category(), "pipe");
    g_stop_pipe_write = stop_pipe[1];
    install_handlers();

    metrics.block().workers_alive.store(1);
    log_line(LogLevel::info, "dashpiff-fcgi starting: single process, threads=" + std::to_string(config.threads) +
                                 " piff-mode=" + to_string(config.piff_mode));
    Worker worker(config, metrics.block(), 0, stop_pipe[0]);
    const int status = worker.run();
    log_line(LogLevel::info, "dashpiff-fcgi stopped");
    return status;
  } catch (const std::exception& e) {
    log_line(LogLevel::error, std::string("dashpiff-fcgi: ") + e.what());
    return 1;
  }
}
