// The supervisor with fake workers: each fake reports what happens to it
// (started, accepting, told to stop) as a line on a pipe, so the tests can
// check the order of events across processes without FastCGI or timing
// guesses. The supervisor itself runs in a forked process, as in service.
#define BOOST_TEST_MODULE dashpiff supervisor
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "options.h"
#include "service/log.h"
#include "shared_metrics.h"
#include "supervisor.h"

using namespace dashpiff;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// What every fake worker of one pool does.
struct FakeWorker {
  milliseconds ready_delay{0};       // setting up before it accepts
  bool crash_at_start = false;       // exit 1 right after starting
  milliseconds busy_after_wake{0};   // in-flight work left when told to stop
};

// PoolConfig::threads marks which configuration a worker was started with.
constexpr unsigned kFirstConfig = 1;
constexpr unsigned kReloadedConfig = 2;

struct Event {
  std::string kind;  // start, ready, stop
  pid_t pid;
  unsigned config;
};

void emit(int fd, const char* kind, unsigned config) {
  const std::string line = std::string(kind) + " " + std::to_string(::getpid()) + " " + std::to_string(config) + "\n";
  [[maybe_unused]] const auto n = ::write(fd, line.data(), line.size());  // < PIPE_BUF: one piece
}

FcgiConfig pool_config(unsigned workers, std::chrono::seconds deadline) {
  FcgiConfig c;
  c.pool.workers = workers;
  c.pool.threads = kFirstConfig;
  c.pool.shutdown_deadline = deadline;
  return c;
}

bool dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  if (text.empty()) return true;
  const auto paren = text.rfind(')');
  return paren != std::string::npos && text.size() > paren + 2 && text[paren + 2] == 'Z';
}

class Pool {
 public:
  Pool(unsigned workers, FakeWorker fake, std::function<FcgiConfig()> reload = nullptr,
       std::chrono::seconds deadline = std::chrono::seconds(5)) {
    int ev[2];
    int sock[2];
    BOOST_REQUIRE(::pipe2(ev, O_CLOEXEC) == 0);
    // Stands in for the listen socket: the fakes never accept, and the
    // supervisor only shuts it on SIGTERM.
    BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) == 0);
    if (!reload) reload = [workers, deadline] {
      FcgiConfig c = pool_config(workers, deadline);
      c.pool.threads = kReloadedConfig;
      return c;
    };
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(ev[0]);
      set_log_level(LogLevel::warn);
      const int events = ev[1];
      int status = 99;
      try {
        Supervisor supervisor(pool_config(workers, deadline), reload, metrics_.block(), sock[0],
                              [events, fake](const FcgiConfig& c, int wake_fd, const std::function<void()>& ready) {
                                emit(events, "start", c.pool.threads);
                                if (fake.crash_at_start) return 1;
                                std::this_thread::sleep_for(fake.ready_delay);
                                // Reported before the supervisor hears of it, so that
                                // the event order is the order things happened in.
                                emit(events, "ready", c.pool.threads);
                                ready();
                                pollfd p{wake_fd, POLLIN, 0};
                                while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
                                }
                                emit(events, "stop", c.pool.threads);
                                std::this_thread::sleep_for(fake.busy_after_wake);
                                return 0;
                              });
        status = supervisor.run();
      } catch (...) {
      }
      ::_exit(status);
    }
    ::close(ev[1]);
    ::close(sock[0]);
    ::close(sock[1]);
    events_fd_ = ev[0];
  }

  ~Pool() {
    if (!exited_) {
      ::kill(pid_, SIGKILL);  // its workers follow (PR_SET_PDEATHSIG)
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(events_fd_);
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  pid_t pid() const { return pid_; }
  MetricsBlock& metrics() { return metrics_.block(); }
  const std::vector<Event>& events() const { return events_; }

  std::size_t count(const std::string& kind, std::optional<unsigned> config = std::nullopt) const {
    return std::count_if(events_.begin(), events_.end(), [&](const Event& e) {
      return e.kind == kind && (!config || e.config == *config);
    });
  }

  // Reads events until `done` holds or `timeout` passes; returns whether it held.
  bool wait_until(const std::function<bool()>& done, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{events_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[4096];
      const auto n = ::read(events_fd_, buf, sizeof buf);
      if (n <= 0) {
        std::this_thread::sleep_for(10ms);  // every writer gone
        continue;
      }
      partial_.append(buf, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = partial_.find('\n')) != std::string::npos) {
        std::istringstream line(partial_.substr(0, nl));
        partial_.erase(0, nl + 1);
        Event e;
        line >> e.kind >> e.pid >> e.config;
        events_.push_back(e);
      }
    }
    return true;
  }

  // The supervisor's exit status (128 + signal when killed), or -1 when it
  // is still running after `timeout`.
  int wait_exit(milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

 private:
  SharedMetrics metrics_;  // before the fork: the test reads what the pool counts
  pid_t pid_ = -1;
  int events_fd_ = -1;
  bool exited_ = false;
  std::string partial_;
  std::vector<Event> events_;
};

// Counters are updated by the supervisor right after fork, which a fast
// worker's first report can overtake.
bool eventually(const std::function<bool()>& holds, milliseconds timeout = 1000ms) {
  const auto deadline = Clock::now() + timeout;
  while (!holds()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

long ms_since(Clock::time_point t) {
  return static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - t).count());
}

}  // namespace

BOOST_AUTO_TEST_CASE(starts_the_configured_number_of_workers) {
  Pool pool(3, {});
  BOOST_TEST(pool.wait_until([&] { return pool.count("ready") == 3; }, 5000ms));
  BOOST_TEST(eventually([&] { return pool.metrics().workers_alive.load() == 3u; }));
  BOOST_TEST(!pool.wait_until([&] { return pool.count("start") > 3; }, 300ms));
}

BOOST_AUTO_TEST_CASE(killed_worker_is_replaced_within_a_second_and_counted) {
  Pool pool(2, {});
  BOOST_REQUIRE(pool.wait_until([&] { return pool.count("ready") == 2; }, 5000ms));
  const pid_t victim = pool.events().front().pid;
  ::kill(victim, SIGKILL);
  BOOST_TEST(pool.wait_until([&] { return pool.count("start") == 3; }, 1000ms));
  std::vector<pid_t> started;
  for (const auto& e : pool.events())
    if (e.kind == "start") started.push_back(e.pid);
  BOOST_TEST(started.back() != victim);
  BOOST_TEST(pool.metrics().workers_restarted.load() == 1u);
  BOOST_TEST(eventually([&] { return pool.metrics().workers_alive.load() == 2u; }));
}

BOOST_AUTO_TEST_CASE(reload_brings_each_new_worker_up_before_stopping_an_old_one) {
  // A slow start makes any stop that does not wait for readiness visible.
  Pool pool(2, FakeWorker{200ms});
  BOOST_REQUIRE(pool.wait_until([&] { return pool.count("ready") == 2; }, 5000ms));
  ::kill(pool.pid(), SIGHUP);
  BOOST_REQUIRE(pool.wait_until(
      [&] { return pool.count("ready", kReloadedConfig) == 2 && pool.count("stop", kFirstConfig) == 2; }, 5000ms));
  BOOST_TEST(!pool.wait_until([&] { return pool.count("start") > 4; }, 300ms));

  // Replay: at every moment the pool had at least `workers` accepting.
  std::set<pid_t> accepting;
  for (const auto& e : pool.events()) {
    if (e.kind == "ready") accepting.insert(e.pid);
    if (e.kind == "stop") {
      accepting.erase(e.pid);
      BOOST_TEST(accepting.size() >= 2u, "worker " << e.pid << " stopped with only " << accepting.size()
                                                    << " accepting");
    }
  }
  BOOST_TEST(pool.count("stop", kReloadedConfig) == 0u);
  BOOST_TEST(pool.metrics().workers_restarted.load() == 0u);  // planned replacements are not restarts
}

BOOST_AUTO_TEST_CASE(reload_with_a_bad_configuration_keeps_the_running_workers) {
  Pool pool(2, {}, []() -> FcgiConfig { throw ConfigError("option 'piff-mode': invalid value 'sideways'"); });
  BOOST_REQUIRE(pool.wait_until([&] { return pool.count("ready") == 2; }, 5000ms));
  ::kill(pool.pid(), SIGHUP);
  BOOST_TEST(!pool.wait_until([&] { return pool.count("start") > 2 || pool.count("stop") > 0; }, 700ms));
  ::kill(pool.pid(), SIGTERM);
  BOOST_TEST(pool.wait_exit(3000ms) == 0);
}

BOOST_AUTO_TEST_CASE(worker_crashing_at_start_is_retried_twice_a_second_not_spun) {
  FakeWorker crashing;
  crashing.crash_at_start = true;
  Pool pool(1, crashing);
  pool.wait_until([] { return false; }, 2200ms);
  // Each crash is replaced after a half-second pause: retried, not spun.
  BOOST_TEST(pool.count("start") >= 3u);
  BOOST_TEST(pool.count("start") <= 6u);
  ::kill(pool.pid(), SIGTERM);
  BOOST_TEST(pool.wait_exit(3000ms) == 0);
}

BOOST_AUTO_TEST_CASE(sigterm_sets_draining_and_waits_for_in_flight_work) {
  FakeWorker busy;
  busy.busy_after_wake = 400ms;
  Pool pool(2, busy);
  BOOST_REQUIRE(pool.wait_until([&] { return pool.count("ready") == 2; }, 5000ms));
  const auto sent = Clock::now();
  ::kill(pool.pid(), SIGTERM);
  BOOST_TEST(pool.wait_until([&] { return pool.count("stop") == 2; }, 1000ms));
  BOOST_TEST(pool.metrics().draining.load() == 1u);
  BOOST_TEST(pool.wait_exit(3000ms) == 0);
  BOOST_TEST(ms_since(sent) >= 350);
  BOOST_TEST(pool.count("start") == 2u);  // nothing replaced while draining
}

BOOST_AUTO_TEST_CASE(sigterm_on_idle_pool_exits_at_once) {
  Pool pool(4, {});
  BOOST_REQUIRE(pool.wait_until([&] { return pool.count("ready") == 4; }, 5000ms));
  const auto sent = Clock::now();
  ::kill(pool.pid(), SIGTERM);
  BOOST_TEST(pool.wait_exit(2000ms) == 0);
  BOOST_TEST(ms_since(sent) < 500);
}

BOOST_AUTO_TEST_CASE(workers_busy_past_the_deadline_are_killed) {
  FakeWorker stuck;
  stuck.busy_after_wake = 30s;
  Pool pool(2, stuck, nullptr, std::chrono::seconds(1));
  BOOST_REQUIRE(pool.wait_until([&] { return pool.count("ready") == 2; }, 5000ms));
  const auto sent = Clock::now();
  ::kill(pool.pid(), SIGTERM);
  BOOST_TEST(pool.wait_exit(4000ms) == 0);
  const auto took = ms_since(sent);
  BOOST_TEST(took >= 900);
  BOOST_TEST(took < 3000);
  for (const auto& e : pool.events()) BOOST_TEST(dead(e.pid));
}

BOOST_AUTO_TEST_CASE(workers_die_with_a_killed_supervisor) {
  Pool pool(2, {});
  BOOST_REQUIRE(pool.wait_until([&] { return pool.count("ready") == 2; }, 5000ms));
  ::kill(pool.pid(), SIGKILL);
  BOOST_REQUIRE(pool.wait_exit(2000ms) == 128 + SIGKILL);
  const auto deadline = Clock::now() + 1000ms;
  const auto all_dead = [&] {
    return std::all_of(pool.events().begin(), pool.events().end(), [](const Event& e) { return dead(e.pid); });
  };
  while (!all_dead() && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  BOOST_TEST(all_dead());
}
