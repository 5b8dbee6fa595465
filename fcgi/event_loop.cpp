#include "event_loop.h"

#include <curl/curl.h>
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fcgi_adapter.h"
#include "service/log.h"
#include "service/media_transfer.h"
#include "unique_fd.h"

namespace dashpiff {
namespace {

using Clock = std::chrono::steady_clock;

// An event's tag: the kind in bits 32-39, the descriptor below, and for a
// client connection the serial of the transfer it was registered for in
// bits 40-63. A descriptor number comes back as soon as it is closed (or a
// kept connection serves its next request), and one epoll_wait batch can
// hold an event of the transfer just released after the wake that took in
// its successor on the same number: the serial keeps that stale event from
// failing the new request.
enum Kind : std::uint64_t { kWake = 1, kCurl = 2, kClient = 3 };
std::uint64_t tag(Kind kind, int fd, std::uint32_t serial = 0) {
  return (static_cast<std::uint64_t>(serial & 0xffffffu) << 40) | (static_cast<std::uint64_t>(kind) << 32) |
         static_cast<std::uint32_t>(fd);
}
Kind kind_of(std::uint64_t t) { return static_cast<Kind>((t >> 32) & 0xffu); }
int fd_of(std::uint64_t t) { return static_cast<int>(t & 0xffffffffu); }
std::uint32_t serial_of(std::uint64_t t) { return static_cast<std::uint32_t>(t >> 40); }

// How often paused transfers and deadlines are looked at, and the gauges
// published.
constexpr auto kSweep = std::chrono::milliseconds(200);
// Threads beside the loop for manifest parses and rewrites: a rewrite takes
// milliseconds, and most manifest answers (origin 304, bytes rewritten
// before) need none.
constexpr int kPoolThreads = 2;

// How often the front door is looked at while every serving thread is busy:
// the longest a /healthz waits for the loop then. Looking costs one
// epoll_wait of the worker's set, so it is not done on every event.
constexpr auto kFrontPoll = std::chrono::milliseconds(10);

}  // namespace

struct EventLoop::Impl {
  struct Transfer;

  // The answer's FastCGI records, sent without blocking: whatever the
  // socket does not take waits in `out` (bounded: the origin pauses at the
  // transfer buffer).
  class Sink final : public ResponseSink {
   public:
    Sink(Impl& loop, Transfer& t) : loop_(loop), t_(t) {}
    void begin(int status, const Headers& headers) override {
      if (started_) return;
      started_ = true;
      std::string head;
      append_cgi_head(head, status, headers);
      make_room();
      append_stdout_records(out, t_.request_id, head);
      loop_.mark_dirty(t_);
    }
    bool write(std::string_view chunk) override {
      if (failed || aborted) return false;
      make_room();
      append_stdout_records(out, t_.request_id, chunk);
      // Larger batches leave at once; smaller ones at the end of this round
      // of events, so that one origin read becomes one write.
      if (pending() >= kBatch) loop_.pump(t_);
      else loop_.mark_dirty(t_);
      return !failed;
    }
    bool flush() override {
      if (failed || aborted) return false;
      loop_.pump(t_);
      return !failed;
    }
    void end() override {
      if (failed || aborted || ended) return;
      ended = true;
      make_room();
      append_end_request(out, t_.request_id);
      loop_.pump(t_);
    }
    // The connection is dropped without FCGI_END_REQUEST: nginx breaks the
    // client transfer instead of ending a body with bytes missing.
    void abort() override { aborted = true; }
    bool started() const override { return started_; }

    std::size_t pending() const { return out.size() - sent; }

    // Before an append: what has left is dropped (so `out` never grows with
    // the answer while a client reads slowly) and the buffer is the one
    // allocation of its bounded size (appends then never double it).
    void make_room() {
      if (sent > 0) {
        out.erase(0, sent);
        sent = 0;
      }
      if (out.capacity() < loop_.out_capacity) out.reserve(loop_.out_capacity);
    }
    // A drained buffer of a transfer that waits (on a trickling origin) is
    // given back; the next append takes it again.
    void release_if_drained() {
      if (pending() == 0 && out.capacity() > 0) {
        std::string().swap(out);
        sent = 0;
      }
    }

    std::string out;
    std::size_t sent = 0;
    bool failed = false;   // the web server side went away
    bool aborted = false;
    bool ended = false;

   private:
    static constexpr std::size_t kBatch = 64 * 1024;
    Impl& loop_;
    Transfer& t_;
    bool started_ = false;
  };

  struct Transfer final : public OriginHandler {
    Transfer(Impl& loop, void* conn, int fd, int request_id, bool keep)
        : loop(loop), conn(conn), fd(fd), request_id(request_id), keep(keep), sink(loop, *this) {}

    // What the origin sends goes to this answer and to every answer that
    // shares its fetch. A sharer that refuses a part (a limit of its own)
    // is sent nothing more and fails when the fetch ends; the fetch goes on
    // for the others.
    bool on_head(const OriginHead& head) override {
      loop.stop_sharing(*this);  // a later one would miss what came before
      // An answer meant for its one requester (RFC 9111 §5.2.2.7 private;
      // §4.1 Vary on what tells requesters apart) is not theirs: each
      // sharer makes its own fetch once this one is over.
      if (!followers.empty() && !shared_answer_reusable(head.headers))
        for (Transfer* f : followers) f->refetch = true;
      const bool wanted = answer->on_head(head);
      for (Transfer* f : followers) f->take([&] { return f->answer->on_head(head); });
      return wanted;
    }
    bool on_data(std::string_view chunk) override {
      last_origin = Clock::now();
      const bool wanted = answer->on_data(chunk);
      for (Transfer* f : followers) f->take([&] { return f->answer->on_data(chunk); });
      return wanted;
    }
    template <class Part>
    void take(const Part& part) {
      if (refused || refetch) return;
      try {
        refused = !part();
      } catch (...) {  // called from libcurl's callback: nothing escapes
        refused = true;
      }
    }
    bool accepting() override {
      if (sink.failed || sink.aborted) return true;  // on_data refuses; curl then ends the transfer
      if (sink.pending() < loop.pool.transfer_buffer) return true;
      paused = true;
      return false;
    }

    Impl& loop;
    void* conn;
    int fd;
    int request_id;
    bool keep;
    std::uint32_t serial = 0;  // set when the loop takes it in (see tag)
    Sink sink;
    std::unique_ptr<LoopAnswer> answer;
    std::unique_ptr<OriginTransfer> origin;
    bool in_work = false;      // a pool thread runs the answer's work; the loop leaves it alone
    bool client_gone = false;  // the web server hung up meanwhile
    bool in_multi = false;
    bool broken = false;  // ends with the break record and the close, not FCGI_END_REQUEST
    bool paused = false;      // curl holds the origin back until the socket drains
    bool out_armed = false;   // waiting for EPOLLOUT on the connection
    bool finished = false;    // the answer is complete; its last bytes may still be queued
    bool dirty = false;
    // Sharing one fetch (issue 14): a follower has no origin transfer of its
    // own and gets its leader's head, bytes and result; a leader's key is in
    // `sharing` until its head arrives.
    Transfer* leader = nullptr;
    std::vector<Transfer*> followers;
    std::string shared_key;
    bool refused = false;  // a follower that refused a part of the shared answer
    bool refetch = false;  // a follower the shared answer is not for (on_head)
    bool own_fetch = false;  // neither follows nor leads: its answer was another's
    Clock::time_point followed;  // when it took another's fetch (its own would have started)
    Clock::time_point last_client = Clock::now();
    Clock::time_point last_origin = Clock::now();
  };

  Impl(const Config& c, const PoolConfig& p, MetricsBlock& m, MetricsBlock::WorkerSlot* s, Done d, Front f)
      : config(c), pool(p), metrics(m), slot(s), done(std::move(d)), front(std::move(f)), policy(c.origin),
        epoll_fd(::epoll_create1(EPOLL_CLOEXEC)), wake_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (epoll_fd.get() < 0 || wake_fd.get() < 0)
      throw std::system_error(errno, std::generic_category(), "event loop descriptors");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag(kWake, wake_fd.get());
    if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wake_fd.get(), &ev) < 0)
      throw std::system_error(errno, std::generic_category(), "epoll_ctl");
    multi = curl_multi_init();
    if (multi == nullptr) throw std::runtime_error("libcurl multi handle allocation failed");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::socket_callback);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::timer_callback);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    // Kept origin connections for the segment hosts (as the threads' clients keep theirs).
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 64L);
    for (int i = 0; i < kPoolThreads; ++i) pool_threads.emplace_back([this] { pool_thread(); });
    thread = std::thread([this] { run(); });
  }

  ~Impl() {
    finish();
    {
      std::lock_guard<std::mutex> lock(work_mutex);
      pool_stopping = true;
    }
    work_ready.notify_all();
    for (auto& p : pool_threads) p.join();
    curl_multi_cleanup(multi);
  }

  // --- from the serving threads -------------------------------------------

  void launch(void* conn, int fd, int request_id, bool keep, const TransferLauncher::Make& make) {
    auto t = std::make_unique<Transfer>(*this, conn, fd, request_id, keep);
    t->answer = make(t->sink);
    {
      // Counted once queued: push_back may throw (no memory), and a count
      // raised before it would never come down.
      std::lock_guard<std::mutex> lock(queue_mutex);
      queue.push_back(std::move(t));
      in_flight.fetch_add(1);
      if (slot) slot->transfers.fetch_add(1, std::memory_order_relaxed);
    }
    wake();
  }

  void finish() {
    if (!thread.joinable()) return;
    stopping.store(true);
    wake();
    thread.join();
  }

  // Every kFrontPoll while no serving thread is free.
  void look_at_front(Clock::time_point now) {
    if (!front.overflow || stopping.load() || now < next_front) return;
    next_front = now + kFrontPoll;
    if (front.saturated()) front.overflow();
  }

  void wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd.get(), &one, sizeof one);
  }

  // --- libcurl's multi socket interface -----------------------------------

  static int socket_callback(CURL*, curl_socket_t s, int what, void* userp, void* socketp) noexcept {
    auto& self = *static_cast<Impl*>(userp);
    epoll_event ev{};
    ev.data.u64 = tag(kCurl, s);
    if (what == CURL_POLL_REMOVE) {
      ::epoll_ctl(self.epoll_fd.get(), EPOLL_CTL_DEL, s, &ev);
      return 0;
    }
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    // socketp marks a socket already in the set (curl_multi_assign below).
    if (socketp == nullptr) {
      if (::epoll_ctl(self.epoll_fd.get(), EPOLL_CTL_ADD, s, &ev) == 0 || errno == EEXIST) {
        if (errno == EEXIST) ::epoll_ctl(self.epoll_fd.get(), EPOLL_CTL_MOD, s, &ev);
        curl_multi_assign(self.multi, s, &self);
      }
    } else {
      ::epoll_ctl(self.epoll_fd.get(), EPOLL_CTL_MOD, s, &ev);
    }
    return 0;
  }

  static int timer_callback(CURLM*, long timeout_ms, void* userp) noexcept {
    auto& self = *static_cast<Impl*>(userp);
    if (timeout_ms < 0) self.curl_deadline.reset();
    else self.curl_deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
  }

  void socket_action(curl_socket_t s, int flags) {
    int running = 0;
    curl_multi_socket_action(multi, s, flags, &running);
    collect_done();
  }

  // Transfers libcurl has finished: the next hop of a redirect, or the end.
  void collect_done() {
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode code = msg->data.result;
      Transfer* t = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      curl_multi_remove_handle(multi, easy);
      if (t == nullptr) continue;
      t->in_multi = false;
      set_paused(*t, false);
      auto result = t->origin->hop_done(code);
      if (result) complete(*t, *result);
      else add_to_multi(*t);
    }
  }

  // False when the fetch could not go on: the answer is complete, and `t`
  // may be gone.
  bool add_to_multi(Transfer& t) {
    CURL* easy = static_cast<CURL*>(t.origin->easy_handle());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &t);
    // libcurl's receive buffer is held per transfer too (see the header).
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, static_cast<long>(receive_buffer));
    if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
      complete(t, t.origin->abandoned(OriginError::protocol, "curl_multi_add_handle failed"));
      return false;
    }
    t.in_multi = true;
    return true;
  }

  void set_paused(Transfer& t, bool paused) {
    if (t.paused == paused) return;
    t.paused = paused;
  }

  // --- the client side ----------------------------------------------------

  void mark_dirty(Transfer& t) {
    if (t.dirty) return;
    t.dirty = true;
    dirty.push_back(t.fd);
  }

  // Sends what the socket takes now; the rest waits for EPOLLOUT.
  void pump(Transfer& t) {
    Sink& s = t.sink;
    while (s.pending() > 0 && !s.failed) {
      // Non-blocking per call (MSG_DONTWAIT): the descriptor's own flags stay
      // as libfcgi reads it, so a hand-off costs no fcntl there and back
      // (four system calls per answer, strace -c).
      const ssize_t n = ::send(t.fd, s.out.data() + s.sent, s.pending(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        s.sent += static_cast<std::size_t>(n);
        t.last_client = Clock::now();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      s.failed = true;  // EPIPE, ECONNRESET: nginx has given up on the answer
    }
    if (s.pending() == 0) {
      s.out.clear();
      s.sent = 0;
    }
    arm(t, s.pending() > 0 && !s.failed);
  }

  // The connection is in the set while the loop holds it: readable means
  // the web server hung up (stdin was read to its end before the hand-over,
  // and nginx sends nothing more before the answer ends), so a transfer
  // waiting on its origin learns of it too. EPOLLOUT only while bytes wait.
  bool watch(Transfer& t, int op, bool out) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0u);
    ev.data.u64 = tag(kClient, t.fd, t.serial);
    return ::epoll_ctl(epoll_fd.get(), op, t.fd, &ev) == 0;
  }

  void arm(Transfer& t, bool on) {
    if (t.out_armed == on) return;
    if (watch(t, EPOLL_CTL_MOD, on)) t.out_armed = on;
  }

  void on_client_event(Transfer& t, std::uint32_t events) {
    if (t.in_work) {
      // Only readable or hung up while nothing is queued: the web server
      // has gone. Out of the set until the work is back (a hang-up would
      // be reported again and again).
      t.client_gone = true;
      epoll_event none{};
      ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, t.fd, &none);
      return;
    }
    if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLIN)) t.sink.failed = true;
    if (!t.sink.failed) pump(t);
    after_progress(t);
  }

  // After bytes left (or could not): release a finished answer, resume a
  // paused origin, or end a transfer whose client has gone.
  void after_progress(Transfer& t) {
    if (t.sink.failed) {
      if (t.finished) return release(t, false);
      // Others wait on this fetch: it goes on for them, and this answer
      // ends (unseen) with it. Out of the set meanwhile, or the hang-up
      // would be reported again and again.
      if (!t.followers.empty()) return stop_watching(t);
      return abandon(t, OriginError::aborted, "client went away");
    }
    if (t.finished) {
      if (t.sink.pending() == 0) release(t, !t.broken);
      return;
    }
    if (t.paused && t.sink.pending() < pool.transfer_buffer / 2 + 1) {
      set_paused(t, false);
      // May deliver the held chunk at once (and pause again). When the
      // handler refuses it (it is done: a range's end; or a limit failed the
      // hop, which keeps that failure) curl would only say so once the origin
      // socket next reads: the fetch ends here, so the answer ends (its
      // counts, its last record) now and not after the client has seen its
      // last byte.
      if (curl_easy_pause(static_cast<CURL*>(t.origin->easy_handle()), CURLPAUSE_CONT) != CURLE_OK)
        abandon(t, OriginError::aborted, "transfer abandoned by the receiver");
    }
  }

  // --- ending -------------------------------------------------------------

  void abandon(Transfer& t, OriginError error, const std::string& why) {
    if (t.leader) {
      unfollow(t);
      return complete(t, shared_fetch_result(failed_fetch(error, why)));
    }
    if (t.in_multi) {
      curl_multi_remove_handle(multi, static_cast<CURL*>(t.origin->easy_handle()));
      t.in_multi = false;
    }
    complete(t, t.origin->abandoned(error, why));
  }

  // The fetch is over: the answer ends (or aborts) as on the threaded path.
  void complete(Transfer& t, const OriginResult& result) {
    set_paused(t, false);
    stop_sharing(t);
    // The answers that shared this fetch end with its result, after this
    // one (which may be gone by then: the result is theirs to keep).
    std::vector<Transfer*> followers;
    followers.swap(t.followers);
    std::optional<OriginResult> shared;
    if (!followers.empty()) {
      try {
        shared = shared_fetch_result(result);
      } catch (...) {
      }
    }
    // Issue #12 item 2: a failure here (out of memory while logging or
    // counting) must not end the loop and every transfer on it; an answer
    // that did not end cleanly is broken off below.
    LoopAnswer::Next next = LoopAnswer::Next::done;
    try {
      next = t.answer->finish(result, !t.sink.failed);
    } catch (...) {
    }
    if (next == LoopAnswer::Next::again) restart(t);
    else if (next == LoopAnswer::Next::work) hand_to_pool(t);
    else end_answer(t);
    for (Transfer* f : followers) {
      f->leader = nullptr;
      if (f->refetch) {
        f->own_fetch = true;
        restart(*f);
      } else if (f->refused || !shared) {
        complete(*f, shared_fetch_result(failed_fetch(OriginError::aborted, "transfer abandoned by the receiver")));
      } else {
        complete(*f, *shared);
      }
    }
  }

  // --- one fetch for identical requests (issue 14) ---------------------------

  // `t` takes `leader`'s fetch: what the origin answers from now on is its
  // answer too. Only before the head has arrived (stop_sharing), so nothing
  // was missed.
  void follow(Transfer& t, Transfer& leader) {
    leader.followers.push_back(&t);
    t.leader = &leader;
    t.followed = Clock::now();
    metrics.origin_fetches_shared.fetch_add(1, std::memory_order_relaxed);
  }

  // A follower leaves (its client went): the fetch goes on for the others;
  // with no one left for it, a fetch whose own client has gone ends too.
  void unfollow(Transfer& t) {
    Transfer& leader = *t.leader;
    t.leader = nullptr;
    auto& list = leader.followers;
    list.erase(std::remove(list.begin(), list.end(), &t), list.end());
    if (list.empty() && leader.sink.failed && !leader.finished) abandon(leader, OriginError::aborted, "client went away");
  }

  // What a sharer of another's fetch is given: that fetch's result, not an
  // origin request of its own (the origin's counts have it once).
  static OriginResult shared_fetch_result(OriginResult result) {
    result.shared = true;
    return result;
  }

  // No one joins this fetch from now on.
  void stop_sharing(Transfer& t) {
    if (t.shared_key.empty()) return;
    const auto it = sharing.find(t.shared_key);
    if (it != sharing.end() && it->second == &t) sharing.erase(it);
    t.shared_key.clear();
  }

  void stop_watching(Transfer& t) {
    epoll_event none{};
    ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, t.fd, &none);
  }

  // --- work off the loop (a manifest's parse and rewrite) -------------------

  void hand_to_pool(Transfer& t) {
    t.in_work = true;
    {
      std::lock_guard<std::mutex> lock(work_mutex);
      work_queue.push_back(&t);
    }
    work_ready.notify_one();
  }

  void pool_thread() {
    OriginClient origin(config.origin);  // this thread's, for what the work fetches itself
    for (;;) {
      Transfer* t = nullptr;
      {
        std::unique_lock<std::mutex> lock(work_mutex);
        work_ready.wait(lock, [this] { return pool_stopping || !work_queue.empty(); });
        if (work_queue.empty()) return;
        t = work_queue.front();
        work_queue.pop_front();
      }
      t->answer->run_work(origin);  // touches the answer's own state only, never the sink
      {
        std::lock_guard<std::mutex> lock(work_mutex);
        work_done.push_back(t);
      }
      wake();
    }
  }

  void take_worked() {
    std::deque<Transfer*> worked;
    {
      std::lock_guard<std::mutex> lock(work_mutex);
      worked.swap(work_done);
    }
    for (Transfer* t : worked) {
      t->in_work = false;
      if (t->client_gone) t->sink.failed = true;
      LoopAnswer::Next next = LoopAnswer::Next::done;
      try {
        next = t->answer->resume(!t->sink.failed);
      } catch (...) {
      }
      // An on-demand MPD's index reads are fetches of this loop too.
      if (next == LoopAnswer::Next::again) {
        restart(*t);
        continue;
      }
      if (next == LoopAnswer::Next::work) {
        hand_to_pool(*t);
        continue;
      }
      end_answer(*t);
    }
  }

  // The answer is made: it ends (or aborts) as on the threaded path.
  void end_answer(Transfer& t) {
    t.finished = true;
    if (t.sink.failed) return release(t, false);
    if (!t.sink.ended) {
      // Broken off (FastCGI 1.0 has no abort record): before any byte went
      // out the close alone gets the client a 502; after, what is queued
      // drains, then a record nginx cannot parse, then the close, so nginx
      // fails the answer instead of ending it cleanly with bytes missing.
      // `out` holds whole records, so its end is a record boundary.
      if (!t.sink.started()) return release(t, false);
      t.broken = true;
      try {
        append_break_record(t.sink.out);
      } catch (...) {
        return release(t, false);  // no memory for 8 bytes: the close alone
      }
    }
    pump(t);
    if (t.sink.failed) return release(t, false);
    if (t.sink.pending() == 0) release(t, !t.broken);
  }

  // The answer's next fetch (its first, or another LoopAnswer::finish
  // asked for): its own, or a share of an identical one in flight.
  void restart(Transfer& t) {
    t.last_origin = Clock::now();
    std::optional<OriginResult> over;
    try {
      OriginRequest request = t.answer->start(manifests);
      if (t.refetch) {
        t.refetch = false;
        // After waiting on a fetch whose answer was not for it: what is left
        // of the time its own fetch would have had (issue #12: a budget per
        // request, not one per fetch it comes to make).
        using std::chrono::milliseconds;
        const auto left = std::max(milliseconds(1), config.origin.total_timeout -
                                                        std::chrono::duration_cast<milliseconds>(Clock::now() - t.followed));
        if (request.time_limit.count() == 0 || left < request.time_limit) request.time_limit = left;
      }
      if (std::string key = t.own_fetch ? std::string() : t.answer->shared_fetch_key(); !key.empty()) {
        if (const auto it = sharing.find(key); it != sharing.end()) return follow(t, *it->second);
        t.shared_key = std::move(key);
      }
      t.origin = std::make_unique<OriginTransfer>(policy, std::move(request), t);
      over = t.origin->start();
    } catch (...) {  // out of memory: this answer fails, the loop goes on
      over = failed_fetch(OriginError::internal, "out of memory starting a fetch");
    }
    if (over) {
      t.shared_key.clear();
      return complete(t, *over);
    }
    // A failed add completes the answer, which may release `t`.
    if (!add_to_multi(t) || t.shared_key.empty()) return;
    try {
      sharing.emplace(t.shared_key, &t);
    } catch (...) {
      t.shared_key.clear();  // not shared, that is all
    }
  }

  void release(Transfer& t, bool clean) {
    epoll_event none{};
    ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, t.fd, &none);
    const bool keep = clean && t.keep;
    auto node = transfers.find(t.fd);
    std::unique_ptr<Transfer> owned;
    if (node != transfers.end()) {
      owned = std::move(node->second);
      transfers.erase(node);
    }
    in_flight.fetch_sub(1);
    if (slot) slot->transfers.fetch_sub(1, std::memory_order_relaxed);
    done(t.conn, keep);
    // `owned` (and with it t) goes here.
  }

  // --- the loop -----------------------------------------------------------

  void take_new() {
    std::deque<std::unique_ptr<Transfer>> taken;
    {
      std::lock_guard<std::mutex> lock(queue_mutex);
      taken.swap(queue);
    }
    for (auto& owned : taken) {
      Transfer& t = *owned;
      t.serial = ++next_serial & 0xffffffu;
      transfers[t.fd] = std::move(owned);
      if (!watch(t, EPOLL_CTL_ADD, false)) {
        t.sink.failed = true;
        complete(t, failed_fetch(OriginError::aborted, "connection unusable"));
        continue;
      }
      restart(t);
    }
  }

  void flush_dirty() {
    std::vector<int> list;
    list.swap(dirty);
    for (int fd : list) {
      auto it = transfers.find(fd);
      if (it == transfers.end()) continue;
      Transfer& t = *it->second;
      t.dirty = false;
      pump(t);
      after_progress(t);
    }
  }

  void sweep(Clock::time_point now) {
    std::vector<int> expired_client, expired_origin, timed_out;
    std::uint64_t paused = 0, waiting = 0;
    for (auto& [fd, owned] : transfers) {
      Transfer& t = *owned;
      if (t.in_work) continue;
      t.sink.release_if_drained();
      if (t.finished) {
        if (t.sink.pending() > 0 && now - t.last_client > pool.client_idle_timeout) expired_client.push_back(fd);
        continue;
      }
      if (t.paused) ++paused;
      else if (t.sink.pending() == 0) ++waiting;
      if (t.sink.pending() > 0 && now - t.last_client > pool.client_idle_timeout) expired_client.push_back(fd);
      else if (!t.paused && t.in_multi && now - t.last_origin > pool.origin_idle_timeout) expired_origin.push_back(fd);
      else if (t.in_multi && t.origin->expired(now)) timed_out.push_back(fd);
    }
    if (slot) {
      slot->paused_on_client.store(static_cast<std::int64_t>(paused), std::memory_order_relaxed);
      slot->waiting_on_origin.store(static_cast<std::int64_t>(waiting), std::memory_order_relaxed);
    }
    auto each = [&](const std::vector<int>& fds, auto fn) {
      for (int fd : fds) {
        auto it = transfers.find(fd);
        if (it != transfers.end()) fn(*it->second);
      }
    };
    if (!expired_client.empty())
      log_line(LogLevel::info, std::to_string(expired_client.size()) + " transfer(s) aborted: the client took nothing for " +
                                   std::to_string(pool.client_idle_timeout.count()) + " ms (client-idle-timeout)");
    if (!expired_origin.empty())
      log_line(LogLevel::info, std::to_string(expired_origin.size()) + " transfer(s) aborted: the origin sent nothing for " +
                                   std::to_string(pool.origin_idle_timeout.count()) + " ms (origin-idle-timeout)");
    each(expired_client, [&](Transfer& t) {
      if (t.finished) return release(t, false);
      abandon(t, OriginError::aborted,
              "client took nothing for " + std::to_string(pool.client_idle_timeout.count()) + " ms");
    });
    each(expired_origin, [&](Transfer& t) {
      abandon(t, OriginError::timeout,
              "origin sent nothing for " + std::to_string(pool.origin_idle_timeout.count()) + " ms");
    });
    each(timed_out, [&](Transfer& t) { abandon(t, OriginError::timeout, "deadline"); });
    // Once many transfers have ended, the pages their buffers used go back
    // to the system (glibc keeps freed memory in its arenas otherwise, and
    // the worker would stay at its peak).
    peak_transfers = std::max(peak_transfers, transfers.size());
    if (peak_transfers >= transfers.size() + 32 && now - last_trim >= std::chrono::seconds(1)) {
      ::malloc_trim(0);
      last_trim = now;
      peak_transfers = transfers.size();
    }
  }

  void run() {
    auto next_sweep = Clock::now() + kSweep;
    std::vector<epoll_event> events(256);
    for (;;) {
      if (stopping.load() && transfers.empty() && in_flight.load() == 0) break;
      auto now = Clock::now();
      auto until = next_sweep;
      if (curl_deadline && *curl_deadline < until) until = *curl_deadline;
      if (front.saturated && front.saturated() && now + kFrontPoll < until) until = now + kFrontPoll;
      const auto wait = std::max<long long>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + (until > now ? 1 : 0));
      const int n = ::epoll_wait(epoll_fd.get(), events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(std::min<long long>(wait, 1000)));
      if (n < 0 && errno != EINTR) {
        log_line(LogLevel::error, std::string("event loop: epoll_wait: ") + std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      for (int i = 0; i < n; ++i) {
        const auto t = events[i].data.u64;
        const std::uint32_t ev = events[i].events;
        switch (kind_of(t)) {
          case kWake: {
            std::uint64_t count = 0;
            [[maybe_unused]] const auto r = ::read(wake_fd.get(), &count, sizeof count);
            take_new();
            take_worked();
            break;
          }
          case kCurl: {
            int flags = 0;
            if (ev & EPOLLIN) flags |= CURL_CSELECT_IN;
            if (ev & EPOLLOUT) flags |= CURL_CSELECT_OUT;
            if (ev & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
            socket_action(fd_of(t), flags);
            break;
          }
          case kClient: {
            auto it = transfers.find(fd_of(t));
            if (it != transfers.end() && it->second->serial == serial_of(t)) on_client_event(*it->second, ev);
            break;
          }
        }
      }
      now = Clock::now();
      if (curl_deadline && *curl_deadline <= now) {
        curl_deadline.reset();
        socket_action(CURL_SOCKET_TIMEOUT, 0);
      }
      flush_dirty();
      look_at_front(now);
      if (now >= next_sweep) {
        sweep(now);
        next_sweep = now + kSweep;
      }
    }
    if (slot) {
      slot->paused_on_client.store(0, std::memory_order_relaxed);
      slot->waiting_on_origin.store(0, std::memory_order_relaxed);
    }
  }

  const Config& config;
  const PoolConfig& pool;
  // libcurl's receive buffer per transfer: half the transfer buffer, 16K to
  // 64K. Below the transfer buffer, so that a transfer flowing to a fast
  // client does not pause on every read: with the transfer buffer at or
  // under one read (32K and 64K) each chunk paused and resumed the transfer
  // (and libcurl kept a copy), and the worker spent 1.3-1.6 times the CPU
  // per 1 MB segment (bench --quick); 64K/32K costs what 64K/64K did.
  const std::size_t receive_buffer = std::clamp<std::size_t>(pool.transfer_buffer / 2, 16 * 1024, 64 * 1024);
  // The answer's buffer: below transfer-buffer a transfer takes one more
  // chunk (one record header with it), so this never has to grow.
  const std::size_t out_capacity = pool.transfer_buffer + receive_buffer + 64;
  MetricsBlock& metrics;
  MetricsBlock::WorkerSlot* slot;
  Done done;
  Front front;
  Clock::time_point next_front = Clock::now();
  OriginClient policy;  // lends its options (allow-list, address policy, timeouts) to every transfer
  UniqueFd epoll_fd;
  UniqueFd wake_fd;
  CURLM* multi = nullptr;
  std::optional<Clock::time_point> curl_deadline;
  std::unordered_map<int, std::unique_ptr<Transfer>> transfers;  // by connection descriptor
  std::unordered_map<std::string, Transfer*> sharing;             // fetches others may join, by fetch_key
  std::vector<int> dirty;
  std::size_t peak_transfers = 0;
  std::uint32_t next_serial = 0;  // of the transfers taken in (see tag)
  Clock::time_point last_trim;

  std::mutex queue_mutex;
  std::deque<std::unique_ptr<Transfer>> queue;
  std::atomic<std::size_t> in_flight{0};
  HeldBytes held{config.max_held_bytes};
  std::atomic<bool> stopping{false};

  // Manifests rewritten by this worker (loop thread only): revalidated with
  // the origin's validators, answered from here on a 304.
  RewriteCache manifests;
  // The small pool beside the loop for the answers' work.
  std::mutex work_mutex;
  std::condition_variable work_ready;
  std::deque<Transfer*> work_queue;  // handed out, in_work
  std::deque<Transfer*> work_done;   // back from a pool thread
  bool pool_stopping = false;
  std::vector<std::thread> pool_threads;

  std::thread thread;  // last: starts after everything above exists
};

EventLoop::EventLoop(const Config& config, const PoolConfig& pool, MetricsBlock& metrics,
                     MetricsBlock::WorkerSlot* slot, Done done, Front front)
    : impl_(std::make_unique<Impl>(config, pool, metrics, slot, std::move(done), std::move(front))) {}
EventLoop::~EventLoop() = default;

HeldBytes* EventLoop::held_bytes() { return &impl_->held; }

bool EventLoop::has_room() const { return impl_->in_flight.load() < impl_->pool.max_transfers; }

void EventLoop::launch(void* conn, int fd, int request_id, bool keep, const TransferLauncher::Make& make) {
  impl_->launch(conn, fd, request_id, keep, make);
}

void EventLoop::finish() { impl_->finish(); }

}  // namespace dashpiff
