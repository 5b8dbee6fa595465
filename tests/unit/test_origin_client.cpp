// OriginClient against a small HTTP/1.1 server run by the test itself on
// 127.0.0.0/8 (never anything else): streaming, status pass-through,
// keep-alive, redirects, the SSRF guard, timeouts, caps and decoding.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>

#include "origin/client.h"

using namespace dashpiff;
using namespace std::chrono_literals;

namespace {

// ---------------------------------------------------------------------------
// A deliberately small HTTP/1.1 server: one thread per connection, keep-alive,
// requests without bodies. Each reply is written in pieces with an optional
// pause between them, or never (hang) to play a stalled origin.

struct SeenRequest {
  std::string method;
  std::string target;
  Headers headers;
  const std::string* header(std::string_view name) const { return find_header(headers, name); }
};

struct Reply {
  std::vector<std::string> pieces;
  std::chrono::milliseconds gap{0};
  bool hang = false;   // read the request, answer nothing
  bool close = false;  // close the connection after answering
};

class TestServer {
 public:
  using Route = std::function<Reply(const SeenRequest&)>;

  TestServer(const char* ip, Route route, int backlog = 16) : ip_(ip), route_(std::move(route)) {
    if (pipe2(stop_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &addr.sin_addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, backlog) != 0)
      throw std::runtime_error("bind/listen on " + ip_);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (backlog > 0) acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~TestServer() {
    const char byte = 1;
    (void)!write(stop_[1], &byte, 1);
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threads.swap(connections_);
    }
    for (auto& t : threads) t.join();
    close(listen_fd_);
    close(stop_[0]);
    close(stop_[1]);
  }

  int port() const { return port_; }
  std::string base() const { return "http://" + ip_ + ":" + std::to_string(port_); }
  std::string url(const std::string& path) const { return base() + path; }
  int accepts() const { return accepts_; }
  // For "no connection was made" checks: gives a connection that did reach
  // the listener time to be counted before the count is read.
  int accepts_after_settling() const {
    std::this_thread::sleep_for(100ms);
    return accepts_;
  }
  std::vector<SeenRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  // Waits for fd to become readable; false when the server is stopping or the
  // time is up.
  bool wait_readable(int fd, int timeout_ms = -1) const {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_[0], POLLIN, 0}};
    const int n = poll(fds, 2, timeout_ms);
    return n > 0 && !(fds[1].revents & POLLIN) && fds[0].revents != 0;
  }
  bool stopping(int timeout_ms) const {
    pollfd fd{stop_[0], POLLIN, 0};
    return poll(&fd, 1, timeout_ms) > 0;
  }

  void accept_loop() {
    while (wait_readable(listen_fd_)) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++accepts_;
      std::lock_guard<std::mutex> lock(mutex_);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  static SeenRequest parse_head(const std::string& head) {
    SeenRequest r;
    const auto line_end = head.find("\r\n");
    const std::string first = head.substr(0, line_end);
    const auto sp1 = first.find(' ');
    const auto sp2 = first.find(' ', sp1 + 1);
    r.method = first.substr(0, sp1);
    r.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t pos = line_end + 2;
    while (pos < head.size()) {
      const auto end = head.find("\r\n", pos);
      const std::string line = head.substr(pos, end - pos);
      pos = end + 2;
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers.emplace_back(line.substr(0, colon), value);
    }
    return r;
  }

  void serve(int fd) {
    std::string buffer;
    for (;;) {
      std::size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        char chunk[4096];
        if (!wait_readable(fd)) return finish(fd);
        const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return finish(fd);
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      const auto request = parse_head(buffer.substr(0, end + 2));
      buffer.erase(0, end + 4);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(request);
      }
      const Reply reply = route_(request);
      if (reply.hang) {
        // Stay silent until the client gives up or the test ends.
        char sink[256];
        while (wait_readable(fd) && recv(fd, sink, sizeof sink, 0) > 0) {
        }
        return finish(fd);
      }
      for (std::size_t i = 0; i < reply.pieces.size(); ++i) {
        if (i > 0 && reply.gap.count() > 0 && stopping(static_cast<int>(reply.gap.count()))) return finish(fd);
        if (send(fd, reply.pieces[i].data(), reply.pieces[i].size(), MSG_NOSIGNAL) < 0) return finish(fd);
      }
      if (reply.close) return finish(fd);
    }
  }

  static void finish(int fd) { close(fd); }

  std::string ip_;
  Route route_;
  int stop_[2] = {-1, -1};
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepts_{0};
  mutable std::mutex mutex_;
  std::vector<SeenRequest> requests_;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

std::string head_text(int status, const Headers& headers) {
  std::string s = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  for (const auto& [k, v] : headers) s += k + ": " + v + "\r\n";
  return s + "\r\n";
}

Reply respond(int status, const std::string& body, Headers headers = {}) {
  headers.emplace_back("Content-Length", std::to_string(body.size()));
  return Reply{{head_text(status, headers) + body}};
}

Reply redirect(int status, const std::string& location) {
  return respond(status, "moved", {{"Location", location}});
}

// Chunked body sent piece by piece, with a pause between pieces.
Reply chunked(const std::vector<std::string>& parts, std::chrono::milliseconds gap, Headers headers = {}) {
  headers.emplace_back("Transfer-Encoding", "chunked");
  Reply r;
  r.pieces.push_back(head_text(200, headers));
  for (const auto& p : parts) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", p.size());
    r.pieces.push_back(size + p + "\r\n");
  }
  r.pieces.push_back("0\r\n\r\n");
  r.gap = gap;
  return r;
}

std::string gzip(const std::string& text) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&zs, text.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(zs.total_out);
  return out;
}


// `openssl s_server -www` on 127.0.0.1 with a throw-away self-signed
// certificate: an HTTPS origin the system trust store knows nothing about.
class TlsOrigin {
 public:
  TlsOrigin() {
    char tmpl[] = "/tmp/dashpiff-tls-test-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
    const std::string make_cert = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                                  " -keyout " + key() + " -out " + cert() +
                                  " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2"
                                  " >/dev/null 2>&1";
    if (std::system(make_cert.c_str()) != 0) throw std::runtime_error("openssl req failed");
    port_ = free_port();
    const std::string accept = "127.0.0.1:" + std::to_string(port_), cert_file = cert(), key_file = key();
    const char* argv[] = {"openssl", "s_server", "-quiet", "-www", "-accept", accept.c_str(),
                          "-cert", cert_file.c_str(), "-key", key_file.c_str(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawnp(&pid_, "openssl", &actions, nullptr, const_cast<char* const*>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start openssl s_server");
    wait_until_listening();
  }
  ~TlsOrigin() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    unlink(cert().c_str());
    unlink(key().c_str());
    rmdir(dir_.c_str());
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/"; }
  std::string cert() const { return dir_ + "/cert.pem"; }

 private:
  std::string key() const { return dir_ + "/key.pem"; }

  static int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
  }

  void wait_until_listening() const {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<std::uint16_t>(port_));
      inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
      const bool up = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      close(fd);
      if (up) return;
      std::this_thread::sleep_for(20ms);
    }
    throw std::runtime_error("openssl s_server did not start listening");
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// ---------------------------------------------------------------------------

struct Collector : OriginHandler {
  int heads = 0;
  int chunks = 0;
  bool data_before_head = false;
  OriginHead head;
  std::string body;
  bool refuse_head = false;
  std::size_t refuse_after_bytes = std::string::npos;

  bool on_head(const OriginHead& h) override {
    ++heads;
    head = h;
    return !refuse_head;
  }
  bool on_data(std::string_view chunk) override {
    if (heads == 0) data_before_head = true;
    ++chunks;
    body.append(chunk);
    return body.size() < refuse_after_bytes;
  }
};

OriginOptions loopback_allowed(const char* network = "127.0.0.0/8") {
  OriginOptions o;
  o.connect_timeout = 2s;
  o.first_byte_timeout = 3s;
  o.total_timeout = 5s;
  o.user_agent = "dashpiff-test";
  o.address_policy.allowed_networks.push_back(Cidr::parse(network).value());
  return o;
}

OriginRequest get(const std::string& url) {
  OriginRequest r;
  r.url = url;
  return r;
}

struct Fixture {
  CurlGlobal curl;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(origin_client, Fixture)

BOOST_AUTO_TEST_CASE(streams_body_chunks_after_one_head) {
  TestServer server("127.0.0.1", [](const SeenRequest&) {
    return chunked({"first-", "second-", "third"}, 30ms, {{"X-Origin", "yes"}});
  });
  OriginClient client(loopback_allowed());
  Collector c;
  const auto result = client.fetch(get(server.url("/seg.m4s?token=a%2Fb")), c);
  BOOST_TEST_REQUIRE(result.ok(), result.message);
  BOOST_TEST(c.heads == 1);
  BOOST_TEST(!c.data_before_head);
  BOOST_TEST(c.head.status == 200);
  BOOST_TEST(*find_header(c.head.headers, "X-Origin") == "yes");
  BOOST_TEST(c.body == "first-second-third");
  BOOST_TEST(c.chunks >= 2);  // delivered as it arrived, not buffered whole
  BOOST_TEST(result.body_bytes == c.body.size());
  BOOST_TEST(result.head_delivered);
  BOOST_TEST(c.head.effective_url == server.url("/seg.m4s?token=a%2Fb"));
  // The query reaches the origin byte for byte.
  BOOST_TEST(server.requests().at(0).target == "/seg.m4s?token=a%2Fb");
}

BOOST_AUTO_TEST_CASE(passes_origin_error_status_through) {
  TestServer server("127.0.0.1", [](const SeenRequest&) { return respond(404, "no such segment"); });
  OriginClient client(loopback_allowed());
  Collector c;
  const auto result = client.fetch(get(server.url("/missing")), c);
  BOOST_TEST_REQUIRE(result.ok(), result.message);
  BOOST_TEST(c.head.status == 404);
  BOOST_TEST(c.body == "no such segment");
}

BOOST_AUTO_TEST_CASE(reuses_one_connection_for_consecutive_fetches) {
  TestServer server("127.0.0.1", [](const SeenRequest& r) { return respond(200, "body of " + r.target); });
  OriginClient client(loopback_allowed());
  for (const char* path : {"/a", "/b", "/c"}) {
    Collector c;
    const auto result = client.fetch(get(server.url(path)), c);
    BOOST_TEST_REQUIRE(result.ok(), result.message);
    BOOST_TEST(c.body == std::string("body of ") + path);
  }
  BOOST_TEST(server.requests().size() == 3u);
  BOOST_TEST(server.accepts() == 1);
}

BOOST_AUTO_TEST_CASE(follows_redirects_and_reports_only_the_final_head) {
  TestServer server("127.0.0.1", [](const SeenRequest& r) {
    if (r.target == "/start") return redirect(302, "/middle");
    if (r.target == "/middle") return redirect(301, "final?x=1");
    return respond(200, "arrived", {{"X-Final", "1"}});
  });
  OriginClient client(loopback_allowed());
  Collector c;
  const auto result = client.fetch(get(server.url("/start")), c);
  BOOST_TEST_REQUIRE(result.ok(), result.message);
  BOOST_TEST(c.heads == 1);
  BOOST_TEST(c.head.status == 200);
  BOOST_TEST(c.body == "arrived");
  BOOST_TEST(find_header(c.head.headers, "Location") == nullptr);
  BOOST_TEST(find_header(c.head.headers, "X-Final") != nullptr);
  BOOST_TEST(c.head.effective_url == server.url("/final?x=1"));
  BOOST_TEST(server.requests().size() == 3u);
  BOOST_TEST(server.accepts() == 1);  // redirect bodies drained, connection kept
}

BOOST_AUTO_TEST_CASE(stops_after_max_redirects) {
  TestServer server("127.0.0.1", [](const SeenRequest&) { return redirect(302, "/again"); });
  auto options = loopback_allowed();
  options.max_redirects = 2;
  OriginClient client(options);
  Collector c;
  const auto result = client.fetch(get(server.url("/loop")), c);
  BOOST_TEST(to_string(result.error) == "too_many_redirects");
  BOOST_TEST(c.heads == 0);
  BOOST_TEST(server.requests().size() == 3u);
}

BOOST_AUTO_TEST_CASE(refuses_non_http_schemes_before_any_network_activity) {
  TestServer server("127.0.0.1", [](const SeenRequest&) { return respond(200, "x"); });
  OriginClient client(loopback_allowed());
  const std::string port = std::to_string(server.port());
  for (const std::string& url : std::vector<std::string>{"file:///etc/passwd", "gopher://127.0.0.1:" + port + "/1",
                                "dict://127.0.0.1:" + port + "/d:x", "ftp://127.0.0.1:" + port + "/",
                                "ldap://127.0.0.1:" + port + "/", "telnet://127.0.0.1:" + port}) {
    Collector c;
    const auto result = client.fetch(get(url), c);
    BOOST_TEST_CONTEXT(url) {
      BOOST_TEST(to_string(result.error) == "scheme_refused");
      BOOST_TEST(result.message.find("only http and https") != std::string::npos);
      BOOST_TEST(c.heads == 0);
    }
  }
  BOOST_TEST(server.accepts_after_settling() == 0);
}

BOOST_AUTO_TEST_CASE(refuses_redirect_to_file_and_gopher) {
  TestServer target("127.0.0.1", [](const SeenRequest&) { return respond(200, "should not be reached"); });
  const std::string gopher = "gopher://127.0.0.1:" + std::to_string(target.port()) + "/";
  TestServer server("127.0.0.1", [&](const SeenRequest& r) {
    return redirect(302, r.target == "/to-file" ? "file:///etc/passwd" : gopher);
  });
  OriginClient client(loopback_allowed());
  for (const char* path : {"/to-file", "/to-gopher"}) {
    Collector c;
    const auto result = client.fetch(get(server.url(path)), c);
    BOOST_TEST_CONTEXT(path) {
      BOOST_TEST(to_string(result.error) == "scheme_refused");
      BOOST_TEST(result.message.find("redirect") != std::string::npos);
      BOOST_TEST(c.heads == 0);
    }
  }
  BOOST_TEST(target.accepts_after_settling() == 0);
}

BOOST_AUTO_TEST_CASE(refuses_redirect_to_a_host_not_on_the_allow_list) {
  TestServer server("127.0.0.1", [](const SeenRequest&) { return respond(200, "x"); });
  TestServer redirector("127.0.0.1", [&](const SeenRequest&) {
    return redirect(302, "http://localhost:" + std::to_string(server.port()) + "/elsewhere");
  });
  auto options = loopback_allowed();
  options.allow_hosts = {"127.0.0.1"};
  OriginClient client(options);
  Collector c;
  const auto result = client.fetch(get(redirector.url("/start")), c);
  BOOST_TEST(to_string(result.error) == "host_refused");
  BOOST_TEST(result.message.find("localhost") != std::string::npos);
  BOOST_TEST(server.accepts_after_settling() == 0);
  // The same list refuses the host up front.
  Collector d;
  BOOST_TEST(to_string(client.fetch(get("http://localhost:" + std::to_string(server.port()) + "/"), d).error) ==
             "host_refused");
}

BOOST_AUTO_TEST_CASE(host_patterns_match_exact_hosts_and_subdomains) {
  OriginOptions options;
  options.allow_hosts = {"cdn.example", "*.media.example.com", "10.0.0.1", "[::1]"};
  OriginClient client(options);
  BOOST_TEST(client.host_allowed("cdn.example"));
  BOOST_TEST(client.host_allowed("CDN.Example."));
  BOOST_TEST(!client.host_allowed("x.cdn.example"));
  BOOST_TEST(!client.host_allowed("cdn.example.evil"));
  BOOST_TEST(client.host_allowed("a.media.example.com"));
  BOOST_TEST(client.host_allowed("a.b.media.example.com"));
  BOOST_TEST(!client.host_allowed("media.example.com"));
  BOOST_TEST(!client.host_allowed("evilmedia.example.com"));
  BOOST_TEST(client.host_allowed("10.0.0.1"));
  BOOST_TEST(client.host_allowed("[::1]"));
  BOOST_TEST(client.host_allowed("::0:1"));
  BOOST_TEST(!client.host_allowed(""));
  OriginClient any{OriginOptions{}};
  BOOST_TEST(any.host_allowed("anything.example"));
}

BOOST_AUTO_TEST_CASE(an_allow_origin_port_ties_its_host_to_that_port) {
  OriginOptions options;
  options.allow_hosts = {"media.internal:8080", "*.cdn.example:443", "[fd00::1]:81", "10.0.0.9:8000", "open.example"};
  OriginClient client(options);
  BOOST_TEST(client.host_allowed("media.internal", 8080));
  BOOST_TEST(!client.host_allowed("media.internal", 22));
  BOOST_TEST(!client.host_allowed("media.internal", 80));
  BOOST_TEST(client.host_allowed("a.cdn.example", 443));
  BOOST_TEST(!client.host_allowed("a.cdn.example", 8443));
  BOOST_TEST(client.host_allowed("[fd00::1]", 81));
  BOOST_TEST(!client.host_allowed("[fd00::1]", 82));
  BOOST_TEST(client.host_allowed("10.0.0.9", 8000));
  BOOST_TEST(!client.host_allowed("10.0.0.9", 8001));
  BOOST_TEST(client.host_allowed("open.example", 1234));  // no port: any port
  BOOST_TEST(client.host_allowed("media.internal"));      // port 0: on some port
}

// An allowed private network reached through a port-tied entry: the listed
// port is served, another port of the same host is refused before any
// connection is made (allow-origin = 127.0.0.1:PORT with allow-network).
BOOST_AUTO_TEST_CASE(an_allowed_network_is_reached_only_on_the_listed_port) {
  TestServer listed("127.0.0.1", [](const SeenRequest&) { return respond(200, "listed"); });
  TestServer other("127.0.0.1", [](const SeenRequest&) { return respond(200, "other"); });
  auto options = loopback_allowed();
  options.allow_hosts = {"127.0.0.1:" + std::to_string(listed.port())};
  OriginClient client(options);
  Collector ok;
  BOOST_TEST(client.fetch(get(listed.url("/a")), ok).ok());
  BOOST_TEST(ok.body == "listed");
  Collector refused;
  const auto result = client.fetch(get(other.url("/a")), refused);
  BOOST_TEST(to_string(result.error) == "host_refused");
  BOOST_TEST(other.accepts_after_settling() == 0);
  // A redirect from the listed port to another port of the same host is
  // checked like a first hop: refused before any connection.
  TestServer bouncer("127.0.0.1", [&](const SeenRequest&) { return redirect(302, other.url("/b")); });
  options.allow_hosts = {"127.0.0.1:" + std::to_string(bouncer.port())};
  OriginClient tied(options);
  const auto bounced = tied.fetch(get(bouncer.url("/a")), refused);
  BOOST_TEST(to_string(bounced.error) == "host_refused", bounced.message);
  BOOST_TEST(bouncer.requests().size() == 1u);
  BOOST_TEST(other.accepts_after_settling() == 0);
  // A URL's port 0 is no port of the entry (host_allowed reads 0 as "on some port").
  const auto zero = client.fetch(get("http://127.0.0.1:0/a"), refused);
  BOOST_TEST(to_string(zero.error) == "host_refused", zero.message);
}

// Issue #12 item 8: a *.domain entry lets names through whose DNS another
// party may hold; one of them resolving into an allowed network must not
// reach it. libcurl resolves every *.localhost name to loopback (RFC 6761).
BOOST_AUTO_TEST_CASE(an_allowed_network_is_not_reached_through_a_wildcard_entry) {
  TestServer server("127.0.0.1", [](const SeenRequest&) { return respond(200, "inside"); });
  const std::string url = "http://media.localhost:" + std::to_string(server.port()) + "/a";
  for (const std::string& entry : {std::string("*.localhost"), "*.localhost:" + std::to_string(server.port())}) {
    auto options = loopback_allowed();
    options.allow_hosts = {entry};
    OriginClient client(options);
    Collector c;
    const auto result = client.fetch(get(url), c);
    BOOST_TEST(to_string(result.error) == "address_refused", entry << ": " << result.message);
    BOOST_TEST(result.message.find("wildcard") != std::string::npos, result.message);
    BOOST_TEST(to_string(result.told) == "dns");  // a name: told as one that does not resolve
  }
  BOOST_TEST(server.accepts_after_settling() == 0);
  // Named exactly (with or beside a wildcard), the same host reaches it.
  auto options = loopback_allowed();
  options.allow_hosts = {"*.localhost", "media.localhost:" + std::to_string(server.port())};
  OriginClient client(options);
  Collector c;
  const auto result = client.fetch(get(url), c);
  BOOST_TEST(result.ok(), result.message);
  BOOST_TEST(c.body == "inside");
  // A public address stays reachable through a wildcard entry: only the
  // allowed networks are tied to named hosts.
  AddressPolicy policy;
  policy.allowed_networks = {*Cidr::parse("127.0.0.0/8")};
  BOOST_TEST(policy.permits(*IpAddress::parse("8.8.8.8"), false));
  BOOST_TEST(!policy.permits(*IpAddress::parse("127.0.0.1"), false));
  BOOST_TEST(policy.permits(*IpAddress::parse("127.0.0.1"), true));
}

BOOST_AUTO_TEST_CASE(refuses_loopback_origin_by_default_and_serves_it_once_allowed) {
  TestServer server("127.0.0.1", [](const SeenRequest&) { return respond(200, "local"); });
  {
    OriginOptions defaults;
    OriginClient client(defaults);
    Collector c;
    const auto result = client.fetch(get(server.url("/x")), c);
    BOOST_TEST(to_string(result.error) == "address_refused");
    BOOST_TEST(result.message == "origin address 127.0.0.1 is loopback, refused");
    BOOST_TEST(c.heads == 0);
  }
  BOOST_TEST(server.accepts_after_settling() == 0);
  OriginClient allowed(loopback_allowed("127.0.0.0/8"));
  Collector c;
  const auto result = allowed.fetch(get(server.url("/x")), c);
  BOOST_TEST_REQUIRE(result.ok(), result.message);
  BOOST_TEST(c.body == "local");
}

BOOST_AUTO_TEST_CASE(refuses_a_name_that_resolves_to_loopback) {
  TestServer server("127.0.0.1", [](const SeenRequest&) { return respond(200, "local"); });
  OriginClient client{OriginOptions{}};
  Collector c;
  const auto result = client.fetch(get("http://localhost:" + std::to_string(server.port()) + "/"), c);
  BOOST_TEST(to_string(result.error) == "address_refused");
  BOOST_TEST(result.message.find("is loopback, refused") != std::string::npos);
  BOOST_TEST(server.accepts_after_settling() == 0);
}

BOOST_AUTO_TEST_CASE(redirect_from_allowed_address_to_another_loopback_address_is_refused) {
  TestServer other("127.0.0.2", [](const SeenRequest&) { return respond(200, "should not be reached"); });
  TestServer server("127.0.0.1", [&](const SeenRequest&) { return redirect(302, other.url("/secret")); });
  OriginClient client(loopback_allowed("127.0.0.1/32"));
  Collector c;
  const auto result = client.fetch(get(server.url("/start")), c);
  BOOST_TEST(to_string(result.error) == "address_refused");
  BOOST_TEST(result.message == "origin address 127.0.0.2 is loopback, refused");
  BOOST_TEST(c.heads == 0);
  BOOST_TEST(server.requests().size() == 1u);
  BOOST_TEST(other.accepts_after_settling() == 0);
}

BOOST_AUTO_TEST_CASE(drops_credentials_on_redirect_to_another_origin) {
  TestServer other("127.0.0.1", [](const SeenRequest&) { return respond(200, "there"); });
  TestServer server("127.0.0.1", [&](const SeenRequest& r) {
    if (r.target == "/same") return redirect(302, "/here");
    if (r.target == "/here") return respond(200, "here");
    return redirect(302, other.url("/there"));
  });
  OriginClient client(loopback_allowed());
  auto request = get(server.url("/same"));
  request.headers = {{"Authorization", "Bearer secret"}, {"Range", "bytes=0-3"}};
  Collector c;
  BOOST_TEST_REQUIRE(client.fetch(request, c).ok());
  BOOST_TEST(server.requests().at(1).header("Authorization") != nullptr);  // same origin keeps it

  request.url = server.url("/away");
  Collector d;
  BOOST_TEST_REQUIRE(client.fetch(request, d).ok());
  const auto seen = other.requests().at(0);
  BOOST_TEST(seen.header("Authorization") == nullptr);
  BOOST_TEST(*seen.header("Range") == "bytes=0-3");
}

BOOST_AUTO_TEST_CASE(origin_that_never_answers_times_out_within_first_byte_timeout) {
  TestServer server("127.0.0.1", [](const SeenRequest&) { return Reply{{}, 0ms, true}; });
  auto options = loopback_allowed();
  options.first_byte_timeout = 300ms;
  OriginClient client(options);
  Collector c;
  const auto start = std::chrono::steady_clock::now();
  const auto result = client.fetch(get(server.url("/stall")), c);
  const double elapsed = seconds_since(start);
  BOOST_TEST(to_string(result.error) == "timeout");
  BOOST_TEST(result.message.find("no response head") != std::string::npos, result.message);
  BOOST_TEST(result.message.find("300 ms") != std::string::npos);
  BOOST_TEST(elapsed >= 0.29);
  BOOST_TEST(elapsed < 1.2);
  BOOST_TEST(c.heads == 0);
}

BOOST_AUTO_TEST_CASE(slow_body_hits_the_total_timeout_after_the_head) {
  TestServer server("127.0.0.1", [](const SeenRequest&) {
    return chunked({"a", "b", "c", "d", "e", "f", "g", "h"}, 150ms);
  });
  auto options = loopback_allowed();
  options.first_byte_timeout = 400ms;
  options.total_timeout = 500ms;
  OriginClient client(options);
  Collector c;
  const auto start = std::chrono::steady_clock::now();
  const auto result = client.fetch(get(server.url("/trickle")), c);
  const double elapsed = seconds_since(start);
  BOOST_TEST(to_string(result.error) == "timeout");
  BOOST_TEST(result.message.find("total timeout") != std::string::npos, result.message);
  BOOST_TEST(result.head_delivered);
  BOOST_TEST(c.heads == 1);
  BOOST_TEST(!c.body.empty());
  BOOST_TEST(elapsed < 1.0);
}

BOOST_AUTO_TEST_CASE(connect_that_hangs_times_out_within_connect_timeout) {
  // A listener that never accepts, with its one-slot queue already taken:
  // the kernel drops further SYNs, so a connect hangs like one to a dead host.
  TestServer server("127.0.0.1", nullptr, /*backlog=*/0);
  std::vector<int> fillers;
  for (int i = 0; i < 2; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(server.port()));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);
  auto options = loopback_allowed();
  options.connect_timeout = 300ms;
  OriginClient client(options);
  Collector c;
  const auto start = std::chrono::steady_clock::now();
  const auto result = client.fetch(get(server.url("/")), c);
  const double elapsed = seconds_since(start);
  for (int fd : fillers) close(fd);
  // A connect that times out is a connect error, told to the requester in
  // the same words as a refused one: no port mapping through the proxy.
  BOOST_TEST(to_string(result.error) == "connect");
  BOOST_TEST(result.message.find("timed out") != std::string::npos, result.message);
  BOOST_TEST(result.client_message == "could not connect to the origin");
  BOOST_TEST(elapsed < 1.0);
}

BOOST_AUTO_TEST_CASE(refused_connection_is_a_connect_error) {
  int port = 0;
  {
    TestServer closed("127.0.0.1", nullptr, 0);  // bound, then closed: nothing listens there
    port = closed.port();
  }
  OriginClient client(loopback_allowed());
  Collector c;
  const auto result = client.fetch(get("http://127.0.0.1:" + std::to_string(port) + "/"), c);
  BOOST_TEST(to_string(result.error) == "connect");
  BOOST_TEST(result.message == "connect to origin 127.0.0.1:" + std::to_string(port) +
                                   " failed: Connection refused");
  BOOST_TEST(result.client_message == "could not connect to the origin");
}

BOOST_AUTO_TEST_CASE(body_over_the_cap_by_content_length_is_refused_before_the_head) {
  TestServer server("127.0.0.1", [](const SeenRequest&) { return respond(200, std::string(5000, 'x')); });
  OriginClient client(loopback_allowed());
  auto request = get(server.url("/big"));
  request.max_body_bytes = 4096;
  Collector c;
  const auto result = client.fetch(request, c);
  BOOST_TEST(to_string(result.error) == "too_large");
  BOOST_TEST(!result.head_delivered);
  BOOST_TEST(c.heads == 0);
  // Exactly at the cap is fine.
  request.max_body_bytes = 5000;
  Collector d;
  BOOST_TEST(client.fetch(request, d).ok());
  BOOST_TEST(d.body.size() == 5000u);
}

BOOST_AUTO_TEST_CASE(body_over_the_cap_while_streaming_is_cut) {
  TestServer server("127.0.0.1", [](const SeenRequest&) {
    return chunked({std::string(3000, 'a'), std::string(3000, 'b'), std::string(3000, 'c')}, 20ms);
  });
  OriginClient client(loopback_allowed());
  auto request = get(server.url("/big"));
  request.max_body_bytes = 4096;
  Collector c;
  const auto result = client.fetch(request, c);
  BOOST_TEST(to_string(result.error) == "too_large");
  BOOST_TEST(result.head_delivered);
  BOOST_TEST(c.body.size() <= 4096u);
  BOOST_TEST(result.body_bytes == c.body.size());
}

BOOST_AUTO_TEST_CASE(handler_refusing_the_head_or_data_aborts) {
  TestServer server("127.0.0.1", [](const SeenRequest&) {
    return chunked({std::string(1000, 'a'), std::string(1000, 'b'), std::string(1000, 'c')}, 20ms);
  });
  OriginClient client(loopback_allowed());
  Collector on_head;
  on_head.refuse_head = true;
  const auto r1 = client.fetch(get(server.url("/x")), on_head);
  BOOST_TEST(to_string(r1.error) == "aborted");
  BOOST_TEST(r1.head_delivered);
  BOOST_TEST(on_head.body.empty());

  Collector on_data;
  on_data.refuse_after_bytes = 1;
  const auto r2 = client.fetch(get(server.url("/y")), on_data);
  BOOST_TEST(to_string(r2.error) == "aborted");
  BOOST_TEST(on_data.chunks == 1);
}

BOOST_AUTO_TEST_CASE(decodes_gzip_when_asked_and_says_so_in_the_head) {
  const std::string mpd = "<MPD>" + std::string(2000, ' ') + "</MPD>";
  const std::string packed = gzip(mpd);
  TestServer server("127.0.0.1", [&](const SeenRequest& r) {
    const auto* ae = r.header("Accept-Encoding");
    if (ae && ae->find("gzip") != std::string::npos)
      return respond(200, packed, {{"Content-Encoding", "gzip"}, {"Content-Type", "application/dash+xml"}});
    return respond(200, mpd, {{"Content-Type", "application/dash+xml"}});
  });
  OriginClient client(loopback_allowed());
  auto request = get(server.url("/a.mpd"));
  request.decode_body = true;
  request.max_body_bytes = 100;  // below the decoded size: checked on decoded bytes, not Content-Length
  Collector capped;
  BOOST_TEST(to_string(client.fetch(request, capped).error) == "too_large");

  request.max_body_bytes = 1 << 20;
  Collector c;
  const auto result = client.fetch(request, c);
  BOOST_TEST_REQUIRE(result.ok(), result.message);
  BOOST_TEST(packed.size() < mpd.size());
  BOOST_TEST(c.body == mpd);
  BOOST_TEST(find_header(c.head.headers, "Content-Encoding") == nullptr);
  BOOST_TEST(find_header(c.head.headers, "Content-Length") == nullptr);
  BOOST_TEST(server.requests().back().header("Accept-Encoding")->find("gzip") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(media_fetch_offers_no_encoding_and_passes_bytes_verbatim) {
  const std::string packed = gzip("segment bytes");
  TestServer server("127.0.0.1", [&](const SeenRequest&) {
    // A misbehaving origin that compresses anyway: the bytes must pass untouched.
    return respond(200, packed, {{"Content-Encoding", "gzip"}});
  });
  OriginClient client(loopback_allowed());
  auto request = get(server.url("/seg.m4s"));
  request.headers = {{"Accept-Encoding", "gzip, br"}, {"Host", "evil.example"}, {"Connection", "X-Secret"},
                     {"X-Secret", "1"}, {"Range", "bytes=0-99"}, {"X-Request-Id", "abc123"},
                     {"Bad\r\nHeader", "x"}, {"X-Injected", "a\r\nEvil: 1"}};
  Collector c;
  const auto result = client.fetch(request, c);
  BOOST_TEST_REQUIRE(result.ok(), result.message);
  BOOST_TEST(c.body == packed);
  BOOST_TEST(*find_header(c.head.headers, "Content-Encoding") == "gzip");
  const auto seen = server.requests().at(0);
  BOOST_TEST(seen.header("Accept-Encoding") == nullptr);
  BOOST_TEST(*seen.header("Host") == "127.0.0.1:" + std::to_string(server.port()));
  BOOST_TEST(seen.header("X-Secret") == nullptr);
  BOOST_TEST(seen.header("Evil") == nullptr);
  BOOST_TEST(seen.header("X-Injected") == nullptr);
  BOOST_TEST(*seen.header("Range") == "bytes=0-99");
  BOOST_TEST(*seen.header("X-Request-Id") == "abc123");
  BOOST_TEST(*seen.header("User-Agent") == "dashpiff-test");
}

BOOST_AUTO_TEST_CASE(interim_100_continue_head_is_not_reported) {
  TestServer server("127.0.0.1", [](const SeenRequest&) {
    Reply r = respond(200, "done", {{"X-Final", "1"}});
    r.pieces.insert(r.pieces.begin(), "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n");
    return r;
  });
  OriginClient client(loopback_allowed());
  Collector c;
  const auto result = client.fetch(get(server.url("/")), c);
  BOOST_TEST_REQUIRE(result.ok(), result.message);
  BOOST_TEST(c.heads == 1);
  BOOST_TEST(c.head.status == 200);
  BOOST_TEST(find_header(c.head.headers, "X-Interim") == nullptr);
  BOOST_TEST(find_header(c.head.headers, "X-Final") != nullptr);
  BOOST_TEST(c.body == "done");
}

BOOST_AUTO_TEST_CASE(head_request_and_empty_body_still_deliver_the_head) {
  TestServer server("127.0.0.1", [](const SeenRequest& r) {
    if (r.method == "HEAD") return Reply{{head_text(200, {{"Content-Length", "12345"}})}};
    return Reply{{head_text(204, {})}};
  });
  OriginClient client(loopback_allowed());
  auto head = get(server.url("/seg"));
  head.method = "HEAD";
  Collector c;
  const auto r1 = client.fetch(head, c);
  BOOST_TEST_REQUIRE(r1.ok(), r1.message);
  BOOST_TEST(c.heads == 1);
  BOOST_TEST(c.chunks == 0);
  BOOST_TEST(*find_header(c.head.headers, "Content-Length") == "12345");
  BOOST_TEST(server.requests().at(0).method == "HEAD");

  Collector d;
  const auto r2 = client.fetch(get(server.url("/empty")), d);
  BOOST_TEST_REQUIRE(r2.ok(), r2.message);
  BOOST_TEST(d.heads == 1);
  BOOST_TEST(d.head.status == 204);
  BOOST_TEST(d.chunks == 0);
  BOOST_TEST(server.accepts() == 1);
}

BOOST_AUTO_TEST_CASE(tls_origin_is_verified_against_the_trust_store) {
  TlsOrigin origin;
  {
    OriginClient client(loopback_allowed());  // system store: the self-signed certificate is unknown
    Collector c;
    const auto result = client.fetch(get(origin.url()), c);
    BOOST_TEST(to_string(result.error) == "tls");
    BOOST_TEST(result.message.find("TLS with origin 127.0.0.1:") == 0u, result.message);
    BOOST_TEST(c.heads == 0);
  }
  auto options = loopback_allowed();
  options.ca_file = origin.cert();
  OriginClient client(options);
  Collector c;
  const auto result = client.fetch(get(origin.url()), c);
  BOOST_TEST_REQUIRE(result.ok(), result.message);
  BOOST_TEST(c.head.status == 200);
  BOOST_TEST(c.body.find("<HTML>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(malformed_urls_and_methods_are_refused) {
  OriginClient client(loopback_allowed());
  for (const char* url : {"", "not a url", "http://", "/relative/path", "http://[::1/"}) {
    Collector c;
    BOOST_TEST_CONTEXT(url) { BOOST_TEST(to_string(client.fetch(get(url), c).error) == "bad_url"); }
  }
  auto post = get("http://127.0.0.1:9/");
  post.method = "POST";
  Collector c;
  BOOST_TEST(!client.fetch(post, c).ok());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Issue #12 item 2: nothing throws through libcurl's C frames.

namespace {

// A handler that throws from the callback named by `where`.
struct Thrower : Collector {
  enum class Where { head, data, wait } where;
  bool throw_bad_alloc = true;
  explicit Thrower(Where w) : where(w) {}
  void raise() {
    if (throw_bad_alloc) throw std::bad_alloc();
    throw std::runtime_error("handler exploded");
  }
  bool on_head(const OriginHead& h) override {
    if (where == Where::head) raise();
    return Collector::on_head(h);
  }
  bool on_data(std::string_view chunk) override {
    if (where == Where::data) raise();
    return Collector::on_data(chunk);
  }
  void on_wait() override {
    if (where == Where::wait) raise();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(an_exception_in_any_handler_callback_is_contained_and_the_client_stays_usable) {
  TestServer server("127.0.0.1", [](const SeenRequest&) {
    return chunked({std::string(1000, 'a'), std::string(1000, 'b')}, std::chrono::milliseconds(30));
  });
  OriginClient client(loopback_allowed());
  for (auto where : {Thrower::Where::head, Thrower::Where::data, Thrower::Where::wait}) {
    for (bool bad_alloc : {true, false}) {
      Thrower t(where);
      t.throw_bad_alloc = bad_alloc;
      const auto result = client.fetch(get(server.url("/x")), t);
      BOOST_TEST(to_string(result.error) == "internal");
      BOOST_TEST(result.message.find(bad_alloc ? "out of memory" : "handler exploded") != std::string::npos,
                 result.message);
      // The same client, right after: a normal transfer.
      Collector ok;
      const auto next = client.fetch(get(server.url("/y")), ok);
      BOOST_TEST(next.ok(), next.message);
      BOOST_TEST(ok.body == std::string(1000, 'a') + std::string(1000, 'b'));
    }
  }
}

// Issue #12 items 3 and 7: how a broken origin is classified and told.

namespace {

// A raw origin: answers every request with `bytes` then, per `reset`,
// closes or resets the connection.
Reply raw(std::string bytes, bool close = true) {
  Reply r{{std::move(bytes)}};
  r.close = close;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(bytes_that_are_not_http_are_invalid_http) {
  const std::vector<std::string> answers = {
      "SSH-2.0-OpenSSH_9.2\r\n",                                                       // another protocol
      "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",                                  // bad status code
      "HTTP/1.1 600 OK\r\nContent-Length: 0\r\n\r\n",                                  // past 599 (RFC 9110 §15)
      "HTTP/1.1 999 OK\r\nContent-Length: 3\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",   // bad chunk size
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde",        // conflicting lengths
  };
  for (const auto& answer : answers) {
    TestServer server("127.0.0.1", [&](const SeenRequest&) { return raw(answer); });
    OriginClient client(loopback_allowed());
    Collector c;
    const auto result = client.fetch(get(server.url("/x")), c);
    BOOST_TEST(to_string(result.error) == "invalid_http", answer << ": " << result.message);
    BOOST_TEST(result.client_message == "origin sent invalid HTTP");
  }
}

// The origin's Location is not the requester's URL: a malformed one is the
// origin's invalid HTTP (502), never "origin URL is malformed" (400).
BOOST_AUTO_TEST_CASE(a_redirect_to_a_malformed_url_is_invalid_http) {
  for (const std::string location : {"http://[::1/x", "http://exa mple.com/x", "http://127.0.0.1:99999/x"}) {
    TestServer server("127.0.0.1", [&](const SeenRequest&) { return redirect(302, location); });
    OriginClient client(loopback_allowed());
    Collector c;
    const auto result = client.fetch(get(server.url("/x")), c);
    BOOST_TEST(to_string(result.error) == "invalid_http", location << ": " << result.message);
    BOOST_TEST(result.client_message == "origin sent invalid HTTP");
  }
}

BOOST_AUTO_TEST_CASE(an_answer_that_ends_early_is_incomplete) {
  const std::vector<std::string> answers = {
      "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + std::string(1000, 'x'),  // short Content-Length
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + std::string(1000, 'x') + "\r\n",  // no last chunk
      "",  // nothing at all
  };
  for (const auto& answer : answers) {
    TestServer server("127.0.0.1", [&](const SeenRequest&) { return raw(answer); });
    OriginClient client(loopback_allowed());
    Collector c;
    const auto result = client.fetch(get(server.url("/x")), c);
    BOOST_TEST(to_string(result.error) == "incomplete", answer.substr(0, 40) << ": " << result.message);
    BOOST_TEST(result.client_message == "origin ended its answer early");
  }
}

BOOST_AUTO_TEST_CASE(a_connection_reset_mid_body_is_incomplete) {
  // SO_LINGER 0 turns the server's close into a reset.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  BOOST_REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(listen(listener, 4) == 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread server([listener] {
    const int fd = accept(listener, nullptr, nullptr);
    char buffer[4096];
    (void)!recv(fd, buffer, sizeof buffer, 0);
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'x');
    (void)!send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
  });
  OriginClient client(loopback_allowed());
  Collector c;
  const auto result =
      client.fetch(get("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x"), c);
  server.join();
  close(listener);
  BOOST_TEST(to_string(result.error) == "incomplete", result.message);
  BOOST_TEST(result.head_delivered);
}

BOOST_AUTO_TEST_CASE(client_messages_name_no_address) {
  OriginClient client(OriginOptions{});  // loopback refused
  TestServer server("127.0.0.1", [](const SeenRequest&) { return respond(200, "x"); });
  Collector c;
  const auto result = client.fetch(get(server.url("/x")), c);
  BOOST_TEST(to_string(result.error) == "address_refused");
  BOOST_TEST(result.message.find("127.0.0.1") != std::string::npos);  // the log keeps it
  BOOST_TEST(result.client_message.find("127.") == std::string::npos, result.client_message);
  BOOST_TEST(result.client_message.find("loopback") == std::string::npos, result.client_message);
  BOOST_TEST(to_string(result.told) == "none");  // an address literal: the requester named the address
}

// A name whose addresses are all refused is told as one that does not
// resolve: which internal names exist is the resolver's to know.
BOOST_AUTO_TEST_CASE(a_name_that_resolves_only_to_refused_addresses_reads_as_unresolved) {
  OriginClient client(OriginOptions{});  // loopback refused
  TestServer server("127.0.0.1", [](const SeenRequest&) { return respond(200, "x"); });
  Collector c;
  const auto refused = client.fetch(get("http://localhost:" + std::to_string(server.port()) + "/x"), c);
  const auto missing = client.fetch(get("http://no-such-origin.invalid/x"), c);
  BOOST_TEST(to_string(refused.error) == "address_refused");  // metrics and the log keep the truth
  BOOST_TEST(refused.message.find("loopback") != std::string::npos, refused.message);
  BOOST_TEST(refused.message.find("localhost") != std::string::npos, refused.message);
  BOOST_TEST(to_string(missing.error) == "dns");
  BOOST_TEST(to_string(refused.told) == "dns");
  BOOST_TEST(refused.client_message == missing.client_message);
  BOOST_TEST(server.accepts_after_settling() == 0);
}

BOOST_AUTO_TEST_CASE(a_trickling_origin_is_cut_by_the_low_speed_limit) {
  // A head, then a byte every 100 ms: 10 bytes a second, under 100 per second.
  TestServer server("127.0.0.1", [](const SeenRequest&) {
    Reply r;
    r.pieces.push_back("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    for (int i = 0; i < 999; ++i) r.pieces.push_back("x");
    r.gap = 100ms;
    return r;
  });
  auto options = loopback_allowed();
  options.low_speed_bytes = 100;
  options.low_speed_time = 1000ms;
  OriginClient client(options);
  Collector c;
  const auto start = std::chrono::steady_clock::now();
  const auto result = client.fetch(get(server.url("/trickle")), c);
  const double elapsed = seconds_since(start);
  BOOST_TEST(to_string(result.error) == "timeout");
  BOOST_TEST(result.message.find("fewer than 100 bytes in 1000 ms") != std::string::npos, result.message);
  BOOST_TEST(result.client_message.find("127.0.0.1") == std::string::npos, result.client_message);
  BOOST_TEST(result.head_delivered);
  BOOST_TEST(elapsed >= 0.9);
  BOOST_TEST(elapsed < 5.0);  // a loaded machine's margin over libcurl's whole-second window
  // A fast origin on the same client is untouched by the limit.
  TestServer fast("127.0.0.1", [](const SeenRequest&) { return respond(200, std::string(100000, 'y')); });
  Collector d;
  BOOST_TEST(client.fetch(get(fast.url("/fast")), d).ok());
}

BOOST_AUTO_TEST_CASE(a_head_without_end_or_a_storm_of_interim_heads_is_refused) {
  std::string endless = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 5000; ++i) endless += "X-Filler-" + std::to_string(i) + ": " + std::string(20, 'f') + "\r\n";
  std::string storm;
  for (int i = 0; i < 50; ++i) storm += "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n";
  storm += "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  for (const auto& answer : {endless, storm}) {
    TestServer server("127.0.0.1", [&](const SeenRequest&) { return raw(answer); });
    OriginClient client(loopback_allowed());
    Collector c;
    const auto start = std::chrono::steady_clock::now();
    const auto result = client.fetch(get(server.url("/x")), c);
    BOOST_TEST(to_string(result.error) == "invalid_http", result.message);
    BOOST_TEST(c.heads == 0);
    BOOST_TEST(seconds_since(start) < 1.0);
  }
}
