#include "worker.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

#include "event_loop.h"
#include "fcgi_adapter.h"
#include "service/log.h"
#include "service/media_transfer.h"
#include "origin/client.h"
#include "service/router.h"

namespace dashpiff {

// One connection from the web server and the libfcgi request state read
// from it. At any moment it is either in the epoll set (idle, armed once)
// or held by exactly one thread (serving a request), never both.
struct Worker::Connection {
  explicit Connection(int fd) : fcgi(fd) {}
  FcgiConnection fcgi;
  bool in_epoll = false;
  bool on_loop = false;  // its answer is the event loop's (under conn_mutex_)
};

namespace {

// The kernel doubles it (to 512 KiB) and caps it at net.core.wmem_max
// (Debian's default, 208 KiB, still gives 416 KiB).
constexpr int kSendBuffer = 256 * 1024;

// Enough descriptors stay free for origin connections, logs and the like.
std::size_t connection_limit(unsigned threads) {
  rlimit limit{};
  std::size_t soft = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    soft = static_cast<std::size_t>(limit.rlim_cur);
  const std::size_t reserve = 64 + 4 * static_cast<std::size_t>(threads);
  return std::max<std::size_t>(threads, soft > 2 * reserve ? soft - reserve : soft / 2);
}

// A thread counts as busy from a request's arrival to its last byte (the
// pool saturation gauge, dashpiff_worker_threads_busy).
class BusyMark {
 public:
  explicit BusyMark(MetricsBlock::WorkerSlot* slot) : slot_(slot) {
    if (slot_) slot_->busy.fetch_add(1, std::memory_order_relaxed);
  }
  ~BusyMark() {
    if (slot_) slot_->busy.fetch_sub(1, std::memory_order_relaxed);
  }
  BusyMark(const BusyMark&) = delete;
  BusyMark& operator=(const BusyMark&) = delete;

 private:
  MetricsBlock::WorkerSlot* slot_;
};

}  // namespace

Worker::Worker(const Config& config, const PoolConfig& pool, MetricsBlock& metrics, int listen_fd, int wake_fd)
    : config_(config),
      pool_(pool),
      metrics_(metrics),
      slot_(metrics.claim_worker_slot(::getpid(), pool.threads)),
      listen_fd_(listen_fd),
      stop_fd_(::eventfd(0, EFD_CLOEXEC)),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      queued_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)),
      max_connections_(connection_limit(pool.threads)) {
  if (stop_fd_.get() < 0 || queued_fd_.get() < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  if (epoll_fd_.get() < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  // A non-blocking listen socket turns a lost accept race (another thread or
  // worker took the connection) into EAGAIN instead of a thread blocked in
  // accept(2), where no stop request could reach it.
  const int flags = ::fcntl(listen_fd_, F_GETFL);
  if (flags < 0 || ::fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK) < 0)
    throw std::system_error(errno, std::generic_category(), "listen socket (fd 0 from spawn-fcgi)");

  // EPOLLEXCLUSIVE: a new connection wakes one worker process, not all.
  epoll_event listen_ev{};
  listen_ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  listen_ev.data.ptr = &listen_tag_;
  // Level-triggered and never consumed: every thread sees a stop.
  epoll_event wake_ev{};
  wake_ev.events = EPOLLIN;
  wake_ev.data.ptr = &stop_tag_;
  epoll_event stop_ev = wake_ev;
  // Level-triggered too: readable while the loop has queued connections.
  epoll_event queued_ev{};
  queued_ev.events = EPOLLIN;
  queued_ev.data.ptr = &queued_tag_;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_, &listen_ev) < 0 ||
      ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd, &wake_ev) < 0 ||
      ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, stop_fd_.get(), &stop_ev) < 0 ||
      ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, queued_fd_.get(), &queued_ev) < 0)
    throw std::system_error(errno, std::generic_category(), "epoll_ctl");
}

// A worker that dies instead has its slot freed by the supervisor (reap).
Worker::~Worker() { metrics_.release_worker_slot(::getpid()); }

bool Worker::recycle_due() {
  if (pool_.max_requests == 0) return false;
  if (served_.fetch_add(1) + 1 < pool_.max_requests) return false;
  return !recycling_.exchange(true);
}

void Worker::set_listening(bool on) {
  if (on == listening_ || (on && listen_closed_)) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.ptr = &listen_tag_;
  if (::epoll_ctl(epoll_fd_.get(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd_, &ev) == 0) listening_ = on;
}

Worker::Connection* Worker::accept_connection() {
  // Accepted sockets are blocking (O_NONBLOCK is not inherited): libfcgi
  // reads and writes them with plain read/write.
  const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED) return nullptr;
    std::lock_guard<std::mutex> lock(conn_mutex_);
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
      // Out of descriptors or memory: stop accepting until a connection
      // closes (or, with none open to close, pause briefly).
      log_line(LogLevel::warn, std::string("accept: ") + std::strerror(err));
      if (!connections_.empty()) {
        set_listening(false);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return nullptr;
    }
    // The supervisor shut the listen socket (the pool is draining): kept
    // connections are still served until the stop request.
    set_listening(false);
    listen_closed_ = true;
    return nullptr;
  }
  // A send buffer that holds a whole 250 KB segment lets the answer leave
  // without the thread sleeping until nginx has read part of it, and nginx
  // reads it in fewer, fuller reads (measured: the front's CPU per 250 KB
  // request fell by a third).
  const int sndbuf = kSendBuffer;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  metrics_.fastcgi_connections.fetch_add(1, std::memory_order_relaxed);
  auto conn = std::make_unique<Connection>(fd);
  Connection* raw = conn.get();
  std::lock_guard<std::mutex> lock(conn_mutex_);
  connections_.emplace(raw, std::move(conn));
  if (connections_.size() >= max_connections_) set_listening(false);
  return raw;
}

void Worker::close_connection(Connection* conn) {
  std::lock_guard<std::mutex> lock(conn_mutex_);
  close_locked(conn);
}

void Worker::close_locked(Connection* conn) {
  connections_.erase(conn);  // closes the descriptor, which leaves the epoll set
  if (connections_.size() < max_connections_) set_listening(true);
}

bool Worker::rearm(Connection& conn) {
  epoll_event ev{};
  // One-shot: the thread that takes the next request owns the connection
  // until it re-arms it.
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  ev.data.ptr = &conn;
  // Marked before it is armed: once armed, another thread may take it at
  // once, serve it and close it (nginx closing a kept connection, or its
  // next request), and `conn` is gone (AddressSanitizer caught the write
  // after the arm as a use after free on the serving threads' path).
  const bool was_in = conn.in_epoll;
  conn.in_epoll = true;
  if (::epoll_ctl(epoll_fd_.get(), was_in ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, conn.fcgi.fd(), &ev) == 0) return true;
  conn.in_epoll = was_in;  // not armed: still this thread's alone
  return false;
}

// Hands a /media/ answer and its connection to the worker's event loop.
class Worker::Launcher final : public TransferLauncher {
 public:
  Launcher(EventLoop& loop, Connection& conn, std::mutex& conn_mutex)
      : loop_(loop), conn_(conn), conn_mutex_(conn_mutex) {}
  bool has_room() const override { return loop_.has_room(); }
  HeldBytes* held_bytes() override { return loop_.held_bytes(); }
  void launch(const Make& make) override {
    const bool keep = conn_.fcgi.prepare_handoff();
    {
      std::lock_guard<std::mutex> lock(conn_mutex_);
      conn_.on_loop = true;
    }
    loop_.launch(&conn_, conn_.fcgi.fd(), conn_.fcgi.request_id(), keep, make);
    launched = true;
  }
  bool launched = false;

 private:
  EventLoop& loop_;
  Connection& conn_;
  std::mutex& conn_mutex_;
};

Worker::Served Worker::serve(Connection& conn, Router& router, OriginClient& origin, std::string& out_buffer) {
  FcgiConnection& fcgi = conn.fcgi;
  // On a kept connection this reads the next request; when the web server
  // has closed it instead, it fails.
  if (!fcgi.accept()) return Served::closed;
  try {
    const BusyMark busy(slot_);
    FcgiSink sink(fcgi, out_buffer);
    Request request = fcgi.read_request(config_.max_create_body);
    Launcher launcher(*loop_, conn, conn_mutex_);
    router.handle(request, sink, origin, &launcher);
    if (launcher.launched) return Served::handed_off;
  } catch (...) {
    // Issue #12 item 2: the router catches what its routes throw; this is
    // for what fails around it (reading the request, out of memory). The
    // thread keeps serving; this connection is dropped (nginx answers 502,
    // or breaks off an answer already started).
    fcgi.drop();
    try {
      log_line(LogLevel::error, "request failed outside the router; connection dropped");
    } catch (...) {
    }
    return Served::closed;
  }
  return fcgi.finish() ? Served::kept : Served::closed;
}

void Worker::transfer_done(Connection* conn, bool keep) {
  // Under the lock throughout: once close_idle_connections sees the
  // connection off the loop, the loop has done with it.
  std::lock_guard<std::mutex> lock(conn_mutex_);
  conn->on_loop = false;
  // A stopping worker reads no further request (close_idle_connections).
  if (keep && !stopping_.load()) {
    conn->fcgi.reset_after_handoff();
    if (rearm(*conn)) return;
  }
  close_locked(conn);
}

void Worker::close_idle_connections(Router& router, OriginClient& origin, std::string& out_buffer) {
  // SIGHUP rolling reload, SIGTERM drain (issue #13: kept nginx connections
  // keep working): a kept connection left idle in the set is one nginx may
  // send its next request on, and no thread reads it any more; the request
  // waited until the drain ended (18 s behind one slow client, up to
  // shutdown-deadline). A request already there is answered; the
  // connection is closed after it, and so is every idle one, so nginx opens
  // a connection to a worker that accepts (a request sent on one as it is
  // closed finds it reset, and nginx retries it on another; a POST too, with
  // the shipped snippet's fastcgi_next_upstream non_idempotent).
  // The loop may be answering a /healthz from the set (overflow) as the
  // threads stop; once it is out, with stopping_ set, it takes none again.
  { const std::lock_guard<std::mutex> barrier(overflow_mutex_); }
  std::vector<Connection*> idle;
  {
    std::lock_guard<std::mutex> lock(conn_mutex_);
    for (const auto& entry : connections_)
      if (!entry.first->on_loop) idle.push_back(entry.first);
  }
  for (Connection* conn : idle) {
    if (peek_request(conn->fcgi.fd()).complete && serve(*conn, router, origin, out_buffer) == Served::handed_off)
      continue;  // the loop's now; transfer_done closes it
    close_connection(conn);
  }
}

void Worker::serve_and_settle(Connection& conn, Router& router, OriginClient& origin, std::string& out_buffer) {
  const Served served = serve(conn, router, origin, out_buffer);
  if (served == Served::closed || (served == Served::kept && !rearm(conn))) close_connection(&conn);
}

void Worker::queue_for_threads(Connection* conn) {
  std::lock_guard<std::mutex> lock(conn_mutex_);
  // The threads have stopped (a drain): the connection stays as it is, off
  // the loop, and close_idle_connections, which waits for this overflow
  // pass to end (overflow_mutex_), answers its request there, not here: a
  // request served on the loop thread could block it on a blocking read.
  if (queue_closed_) return;
  queued_.push_back(conn);
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto w = ::write(queued_fd_.get(), &one, sizeof one);
}

Worker::Connection* Worker::take_queued() {
  std::uint64_t one = 0;
  if (::read(queued_fd_.get(), &one, sizeof one) != sizeof one) return nullptr;  // another thread took it
  std::lock_guard<std::mutex> lock(conn_mutex_);
  if (queued_.empty()) return nullptr;
  Connection* conn = queued_.front();
  queued_.pop_front();
  return conn;
}

void Worker::overflow() {
  const std::lock_guard<std::mutex> serving(overflow_mutex_);  // see close_idle_connections
  // Bounded: the set's level-triggered members (stop, queued) come round
  // again and again while they are ready.
  for (int i = 0; i < 64; ++i) {
    if (stopping_.load() || waiting_.load() > 0) return;
    epoll_event ev{};
    if (::epoll_wait(epoll_fd_.get(), &ev, 1, 0) <= 0) return;
    if (ev.data.ptr == &stop_tag_ || ev.data.ptr == &queued_tag_) continue;
    Connection* conn = ev.data.ptr == &listen_tag_ ? accept_connection() : static_cast<Connection*>(ev.data.ptr);
    if (!conn) continue;
    // Only a request that is here in full, so libfcgi reads it without
    // waiting and the loop never blocks on the web server.
    const PeekedRequest peeked = peek_request(conn->fcgi.fd());
    if (peeked.complete && peeked.path == "/healthz" && (peeked.method == "GET" || peeked.method == "HEAD"))
      serve_and_settle(*conn, *loop_router_, *loop_origin_, loop_buffer_);
    else
      queue_for_threads(conn);
  }
}

void Worker::serve_loop() {
  OriginClient origin(config_.origin);
  Router router(config_, metrics_);
  std::string out_buffer;  // the sink's scratch space, kept across requests
  for (;;) {
    // One event at a time: a thread must not take a second connection's
    // request while it serves the first.
    epoll_event ev{};
    waiting_.fetch_add(1);
    const int n = ::epoll_wait(epoll_fd_.get(), &ev, 1, -1);
    waiting_.fetch_sub(1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "epoll_wait");
    if (n == 0) continue;
    if (ev.data.ptr == &stop_tag_) {
      stopping_.store(true);
      // What the loop queued was read from the set already: it is answered.
      while (Connection* queued = take_queued()) serve_and_settle(*queued, router, origin, out_buffer);
      break;
    }
    // A new connection is served by the thread that accepted it (nginx sends
    // the request right after connecting). Parking it in the set instead
    // would let a stopping worker close it with the request unread: nginx
    // retries a failed kept connection, not a fresh one, and would answer 502.
    Connection* conn = nullptr;
    if (ev.data.ptr == &queued_tag_) conn = take_queued();
    else if (ev.data.ptr == &listen_tag_) conn = accept_connection();
    else conn = static_cast<Connection*>(ev.data.ptr);
    if (!conn) continue;
    serve_and_settle(*conn, router, origin, out_buffer);
    if (recycle_due()) {
      log_line(LogLevel::info, "worker reached max-requests=" + std::to_string(pool_.max_requests) +
                                   ", recycling");
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto w = ::write(stop_fd_.get(), &one, sizeof one);
      break;
    }
  }
}

int Worker::run() {
  loop_origin_ = std::make_unique<OriginClient>(config_.origin);
  loop_router_ = std::make_unique<Router>(config_, metrics_);
  EventLoop::Front front;
  // The loop thread starts inside EventLoop's constructor, before loop_ is
  // set, and no serving thread waits yet: it would take a connection at the
  // door at once, and a request it served there launches onto *loop_ (a
  // null dereference, the worker dead; a restarted worker found requests
  // queued on the socket). It minds the door once loop_ is there.
  front.saturated = [this] { return door_open_.load() && waiting_.load() == 0 && !stopping_.load(); };
  front.overflow = [this] { overflow(); };
  loop_ = std::make_unique<EventLoop>(
      config_, pool_, metrics_, slot_,
      [this](void* conn, bool keep) { transfer_done(static_cast<Connection*>(conn), keep); }, std::move(front));
  door_open_.store(true);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (unsigned i = 0; i < pool_.threads; ++i) {
    threads.emplace_back([this, &failures] {
      try {
        serve_loop();
      } catch (const std::exception& e) {
        log_line(LogLevel::error, std::string("worker thread failed: ") + e.what());
        failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  stopping_.store(true);
  {
    // From now on the loop queues nothing (what an overflow pass already
    // under way takes waits for close_idle_connections); what it queued
    // after the last thread looked is answered here.
    std::deque<Connection*> left;
    {
      std::lock_guard<std::mutex> lock(conn_mutex_);
      queue_closed_ = true;
      left.swap(queued_);
    }
    OriginClient origin(config_.origin);
    Router router(config_, metrics_);
    std::string out_buffer;
    for (Connection* conn : left) serve_and_settle(*conn, router, origin, out_buffer);
    close_idle_connections(router, origin, out_buffer);
  }
  // Transfers in flight finish first (a drain waits for them as for any
  // request; the supervisor's shutdown deadline bounds it).
  loop_->finish();
  // Idle kept connections close with the worker.
  std::lock_guard<std::mutex> lock(conn_mutex_);
  connections_.clear();
  return failures.load() ? 1 : 0;
}

}  // namespace dashpiff
