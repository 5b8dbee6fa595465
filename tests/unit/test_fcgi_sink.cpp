// The FastCGI sink over a real socket pair: what nginx would read back must
// be well-formed FCGI_STDOUT records whose contents, joined, are exactly the
// head and the body in order, however the body was handed over.
#define BOOST_TEST_MODULE dashpiff fastcgi sink
#include <boost/test/unit_test.hpp>

#include <fcgiapp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "fcgi_adapter.h"

using namespace dashpiff;

namespace {

constexpr std::size_t kMaxRecord = 65528;

// A connected pair; everything written to `app` is read from `web` on a
// thread, so that large answers never block on the socket buffer.
class Wire {
 public:
  Wire() {
    BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_) == 0);
    reader_ = std::thread([this] {
      char buffer[65536];
      for (;;) {
        const ssize_t n = ::read(fds_[1], buffer, sizeof buffer);
        if (n <= 0) break;
        received_.append(buffer, static_cast<std::size_t>(n));
      }
    });
  }
  ~Wire() {
    close_app();
    if (reader_.joinable()) reader_.join();
    ::close(fds_[1]);
  }
  int app() const { return fds_[0]; }
  // The web server's end (read by the thread; a test may write a request to it).
  int web() const { return fds_[1]; }
  // Everything the application side wrote, once it has closed its end.
  const std::string& received() {
    close_app();
    reader_.join();
    return received_;
  }

 private:
  void close_app() {
    if (fds_[0] >= 0) ::close(fds_[0]);
    fds_[0] = -1;
  }
  int fds_[2] = {-1, -1};
  std::thread reader_;
  std::string received_;
};

struct Records {
  std::string stdout_content;
  std::size_t count = 0;
  std::size_t largest = 0;
  bool well_formed = true;
};

// Parses FCGI_STDOUT records of request `id`; anything else is a failure.
Records parse(const std::string& wire, int id) {
  Records r;
  std::size_t at = 0;
  while (at < wire.size()) {
    if (wire.size() - at < 8) return r.well_formed = false, r;
    const auto* h = reinterpret_cast<const unsigned char*>(wire.data() + at);
    const std::size_t length = (std::size_t(h[4]) << 8) | h[5];
    const std::size_t padding = h[6];
    if (h[0] != 1 || h[1] != 6 || ((h[2] << 8) | h[3]) != id || wire.size() - at - 8 < length + padding)
      return r.well_formed = false, r;
    r.stdout_content.append(wire, at + 8, length);
    r.largest = std::max(r.largest, length);
    ++r.count;
    at += 8 + length + padding;
  }
  return r;
}

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// A request as FCGX_Accept_r leaves it, over `fd`, for the sink to write to.
FCGX_Request request_on(int fd, int id) {
  FCGX_Request r;
  FCGX_InitRequest(&r, -1, 0);
  r.ipcFd = fd;
  r.requestId = id;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(records_carry_both_pieces_in_order_at_every_size) {
  for (const auto& [a, b] : std::vector<std::pair<std::size_t, std::size_t>>{
           {0, 0}, {1, 0}, {0, 1}, {kMaxRecord, 0}, {kMaxRecord - 1, 2}, {70000, 200000},
           {3, 64 * kMaxRecord + 5}}) {
    const std::string first = pattern(a, 1);
    const std::string second = pattern(b, 2);
    Wire wire;
    BOOST_TEST(write_stdout_records(wire.app(), 7, first, second));
    const Records r = parse(wire.received(), 7);
    BOOST_TEST(r.well_formed, a << "+" << b);
    BOOST_TEST((r.stdout_content == first + second), a << "+" << b);
    BOOST_TEST(r.largest <= kMaxRecord);
    // Full records: no more records than the bytes need.
    BOOST_TEST(r.count == (a + b + kMaxRecord - 1) / kMaxRecord);
  }
}

BOOST_AUTO_TEST_CASE(writing_to_a_closed_peer_fails_instead_of_killing_the_process) {
  int fds[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  ::close(fds[1]);
  ::signal(SIGPIPE, SIG_IGN);  // as dashpiff-fcgi does
  BOOST_TEST(!write_stdout_records(fds[0], 1, pattern(1000, 3)));
  ::close(fds[0]);
}

BOOST_AUTO_TEST_CASE(sink_sends_head_then_body_whatever_the_chunk_sizes) {
  std::string buffer;  // one thread's, across answers
  for (int answer = 0; answer < 2; ++answer) {
    Wire wire;
    FCGX_Request request = request_on(wire.app(), 1);
    const std::string small = pattern(16 * 1024, 4);
    const std::string large = pattern(300 * 1024, 5);
    const char* storage = nullptr;
    {
      FcgiSink sink(request, buffer);
      storage = buffer.data();
      sink.begin(200, {{"Content-Type", "video/iso.segment"}, {"Bad", "a\r\nInjected: 1"}});
      BOOST_TEST(sink.started());
      for (int i = 0; i < 20; ++i) BOOST_TEST(sink.write(small));  // collected, then sent in batches
      BOOST_TEST(sink.flush());
      BOOST_TEST(sink.write(large));  // at least a record: sent as it is
      BOOST_TEST(sink.write("tail"));
      sink.end();
    }
    std::string body;
    for (int i = 0; i < 20; ++i) body += small;
    body += large + "tail";
    const Records r = parse(wire.received(), 1);
    BOOST_TEST(r.well_formed);
    BOOST_TEST((r.stdout_content == "Status: 200 OK\r\nContent-Type: video/iso.segment\r\nX-Accel-Buffering: yes\r\n\r\n" + body));
    // The answer was collected in the thread's buffer as reserved, never
    // reallocated (a buffer swapped out by the head would be grown, and
    // copied, again for every answer).
    BOOST_TEST(static_cast<const void*>(buffer.data()) == static_cast<const void*>(storage), "answer " << answer);
    BOOST_TEST(buffer.capacity() >= 4 * kMaxRecord);
  }
}

namespace {

// FastCGI 1.0 §3.3, §5.1: a request as nginx sends it (BEGIN_REQUEST asking
// to keep the connection, two parameters, empty stdin).
std::string web_request(int id) {
  auto record = [&](unsigned char type, const std::string& content) {
    std::string r = {1, static_cast<char>(type), static_cast<char>(id >> 8), static_cast<char>(id & 0xff),
                     static_cast<char>(content.size() >> 8), static_cast<char>(content.size() & 0xff), 0, 0};
    return r + content;
  };
  auto param = [](const std::string& k, const std::string& v) {
    return std::string(1, static_cast<char>(k.size())) + std::string(1, static_cast<char>(v.size())) + k + v;
  };
  const std::string begin = {0, 1, 1 /* FCGI_KEEP_CONN */, 0, 0, 0, 0, 0};
  return record(1, begin) + record(4, param("REQUEST_METHOD", "GET") + param("REQUEST_URI", "/healthz")) +
         record(4, "") + record(5, "");
}

// FastCGI 1.0 records as nginx sends a request: BEGIN_REQUEST, PARAMS (name-
// value pairs, then an empty record), STDIN (then an empty record).
std::string record(unsigned char type, std::string_view content, unsigned char padding = 0) {
  std::string r;
  r += static_cast<char>(1);
  r += static_cast<char>(type);
  r += '\0';
  r += '\1';
  r += static_cast<char>((content.size() >> 8) & 0xff);
  r += static_cast<char>(content.size() & 0xff);
  r += static_cast<char>(padding);
  r += '\0';
  r.append(content);
  r.append(padding, '\0');
  return r;
}

std::string pair(std::string_view name, std::string_view value) {
  std::string p;
  auto length = [&p](std::size_t n) {
    if (n < 128) {
      p += static_cast<char>(n);
    } else {
      p += static_cast<char>(0x80 | ((n >> 24) & 0x7f));
      p += static_cast<char>((n >> 16) & 0xff);
      p += static_cast<char>((n >> 8) & 0xff);
      p += static_cast<char>(n & 0xff);
    }
  };
  length(name.size());
  length(value.size());
  p.append(name).append(value);
  return p;
}

std::string request_bytes(std::string_view method, std::string_view uri) {
  const std::string begin_body("\0\1\1\0\0\0\0\0", 8);  // responder, keep-conn
  std::string params = pair("REQUEST_METHOD", method) + pair("REQUEST_URI", uri) +
                       pair("HTTP_X_LONG", std::string(300, 'x'));
  return record(1, begin_body) + record(4, params, 3) + record(4, "") + record(5, "");
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_sink_over_a_connection_ends_the_request_with_its_last_bytes_and_libfcgi_adds_nothing) {
  BOOST_REQUIRE(FCGX_Init() == 0);
  int fds[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  const int web = fds[1];
  const std::string request = web_request(3);
  BOOST_REQUIRE(::write(web, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  // Everything the web server can read right now (small answers fit the socket buffer).
  auto readable = [web] {
    std::string got;
    char chunk[4096];
    for (ssize_t n; (n = ::recv(web, chunk, sizeof chunk, MSG_DONTWAIT)) > 0;) got.append(chunk, static_cast<std::size_t>(n));
    return got;
  };
  const std::string answer =
      "Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nX-Accel-Buffering: yes\r\n\r\nok\n";
  // STDOUT with the answer, the empty STDOUT that closes the stream, then
  // END_REQUEST {appStatus 0, FCGI_REQUEST_COMPLETE} (FastCGI 1.0 §5.3, §5.5).
  std::string expected = {1, 6, 0, 3, 0, static_cast<char>(answer.size()), 0, 0};
  expected += answer;
  expected += std::string{1, 6, 0, 3, 0, 0, 0, 0};
  expected += std::string{1, 3, 0, 3, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::string buffer;
  {
    FcgiConnection connection(fds[0]);  // owns and closes it
    BOOST_REQUIRE(connection.accept());
    BOOST_TEST(connection.read_request(0).path == "/healthz");
    {
      FcgiSink sink(connection, buffer);
      sink.begin(200, {{"Content-Type", "text/plain"}, {"Content-Length", "3"}});
      BOOST_TEST(sink.write("ok\n"));
      sink.end();
    }
    // The whole end of the request left with the answer...
    BOOST_TEST((readable() == expected));
    // ...and libfcgi writes nothing after it; the kept connection stays open.
    BOOST_TEST(connection.finish());
    BOOST_TEST(readable().empty());
  }
  ::close(web);
}

// Issue #12 item 3: every answer with a body asks nginx for the buffered
// path, which fails a stream cut by a dying worker and closes the client
// connection at once, with or without a Content-Length
// (tests/e2e/test_pool.py a_worker_killed_mid_answer_...).
BOOST_AUTO_TEST_CASE(every_answer_with_a_body_asks_for_nginx_buffered_path) {
  const auto head = [](int status, const Headers& headers) {
    std::string out;
    append_cgi_head(out, status, headers);
    return out;
  };
  BOOST_TEST(head(200, {{"Content-Type", "video/mp4"}}) ==
             "Status: 200 OK\r\nContent-Type: video/mp4\r\nX-Accel-Buffering: yes\r\n\r\n");
  BOOST_TEST(head(206, {{"content-length", "5"}}) ==
             "Status: 206 Partial Content\r\ncontent-length: 5\r\nX-Accel-Buffering: yes\r\n\r\n");
  BOOST_TEST(head(304, {{"ETag", "\"a\""}}).find("X-Accel") == std::string::npos);
  BOOST_TEST(head(204, {}).find("X-Accel") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_whole_request_is_recognised_from_its_records_and_a_partial_one_is_not) {
  const std::string whole = request_bytes("GET", "/healthz?probe=1");
  const PeekedRequest got = parse_request_records(whole);
  BOOST_TEST(got.complete);
  BOOST_TEST(got.method == "GET");
  BOOST_TEST(got.path == "/healthz");
  // Every cut short of the empty stdin record leaves it to a serving thread.
  for (std::size_t n = 0; n < whole.size(); ++n)
    BOOST_TEST(!parse_request_records(std::string_view(whole).substr(0, n)).complete, "cut at " << n);
  // Stdin with a body before its end is still whole once the end is there.
  std::string with_body = whole.substr(0, whole.size() - 8) + record(5, "a=b") + record(5, "");
  BOOST_TEST(parse_request_records(with_body).complete);
  // Not a request: another record first, or a version other than 1.
  BOOST_TEST(!parse_request_records(record(5, "") + whole).complete);
  std::string bad_version = whole;
  bad_version[0] = 2;
  BOOST_TEST(!parse_request_records(bad_version).complete);
  // A pair whose lengths run past the parameters is not a request.
  const std::string begin_body("\0\1\1\0\0\0\0\0", 8);
  const std::string broken = record(1, begin_body) + record(4, std::string("\x7f\x01x", 3)) + record(4, "") + record(5, "");
  BOOST_TEST(!parse_request_records(broken).complete);
}

BOOST_AUTO_TEST_CASE(peeking_takes_nothing_from_the_connection) {
  int fds[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  const std::string whole = request_bytes("HEAD", "/healthz");
  BOOST_REQUIRE(::write(fds[1], whole.data(), whole.size()) == static_cast<ssize_t>(whole.size()));
  const PeekedRequest got = peek_request(fds[0]);
  BOOST_TEST(got.complete);
  BOOST_TEST(got.method == "HEAD");
  std::string back(whole.size(), '\0');
  BOOST_TEST(::read(fds[0], back.data(), back.size()) == static_cast<ssize_t>(whole.size()));
  BOOST_TEST(back == whole);
  BOOST_TEST(!peek_request(fds[0]).complete);  // nothing queued now
  ::close(fds[0]);
  ::close(fds[1]);
}
