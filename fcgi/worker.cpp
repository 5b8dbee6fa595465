#include "worker.h"

#include <fcgiapp.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "fcgi_sink.h"
#include "log.h"
#include "router.h"

namespace dashpiff {
namespace {

// Closes an fd on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Worker::Worker(const Config& config, MetricsBlock& metrics, int listen_fd, int wake_fd)
    : config_(config), metrics_(metrics), listen_fd_(listen_fd), wake_fd_(wake_fd),
      stop_fd_(::eventfd(0, EFD_CLOEXEC)) {
  if (stop_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  // A non-blocking listen socket turns a lost accept race (another thread or
  // worker took the connection) into EAGAIN, which libfcgi reports as an
  // error instead of blocking in accept(2), where no signal could reach it.
  const int flags = ::fcntl(listen_fd_, F_GETFL);
  if (flags < 0 || ::fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK) < 0)
    throw std::system_error(errno, std::generic_category(), "listen socket (fd 0 from spawn-fcgi)");
}

Worker::~Worker() { ::close(stop_fd_); }

bool Worker::recycle_due() {
  if (config_.max_requests == 0) return false;
  if (served_.fetch_add(1) + 1 < config_.max_requests) return false;
  return !recycling_.exchange(true);
}

void Worker::accept_loop() {
  OriginClient origin(config_.origin);
  Router router(config_, metrics_);

  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (ep.get() < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  // EPOLLEXCLUSIVE: one new connection wakes one waiting thread, not all of
  // them in every worker.
  epoll_event listen_ev{};
  listen_ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  listen_ev.data.fd = listen_fd_;
  epoll_event wake_ev{};
  wake_ev.events = EPOLLIN;
  wake_ev.data.fd = wake_fd_;
  epoll_event stop_ev{};
  stop_ev.events = EPOLLIN;
  stop_ev.data.fd = stop_fd_;
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, listen_fd_, &listen_ev) < 0 ||
      ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake_fd_, &wake_ev) < 0 ||
      ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, stop_fd_, &stop_ev) < 0)
    throw std::system_error(errno, std::generic_category(), "epoll_ctl");

  FCGX_Request fcgi;
  FCGX_InitRequest(&fcgi, listen_fd_, FCGI_FAIL_ACCEPT_ON_INTR);
  for (;;) {
    epoll_event ev[3];
    const int n = ::epoll_wait(ep.get(), ev, 3, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "epoll_wait");
    bool stop = false;
    for (int i = 0; i < n; ++i) stop = stop || ev[i].data.fd != listen_fd_;
    if (stop) break;
    if (FCGX_Accept_r(&fcgi) < 0) continue;  // lost the race: EAGAIN

    FcgiSink sink(fcgi);
    Request request = to_request(fcgi, config_.max_create_body);
    router.handle(request, sink, origin);
    FCGX_Finish_r(&fcgi);
    if (recycle_due()) {
      log_line(LogLevel::info, "worker reached max-requests=" + std::to_string(config_.max_requests) +
                                   ", recycling");
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto w = ::write(stop_fd_, &one, sizeof one);
      break;
    }
  }
  FCGX_Free(&fcgi, 1);
}

int Worker::run() {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (unsigned i = 0; i < config_.threads; ++i) {
    threads.emplace_back([this, &failures] {
      try {
        accept_loop();
      } catch (const std::exception& e) {
        log_line(LogLevel::error, std::string("accept thread failed: ") + e.what());
        failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  return failures.load() ? 1 : 0;
}

}  // namespace dashpiff
