#define BOOST_TEST_MODULE dashpiff core
#include <boost/test/unit_test.hpp>

#include "http/uri.h"
#include "http/url_codec.h"

using namespace dashpiff;

BOOST_AUTO_TEST_SUITE(url_codec)

BOOST_AUTO_TEST_CASE(encodes_spec_example) {
  BOOST_TEST(encode_url("http://cdn.example/a/b.mpd") == "http!0!1!1cdn.example!1a!1b.mpd");
}

BOOST_AUTO_TEST_CASE(escapes_every_coded_character) {
  BOOST_TEST(encode_url("!:/#~?") == "!!!0!1!2!3!4");
}

BOOST_AUTO_TEST_CASE(literal_bang_followed_by_digit_round_trips) {
  // The original's chained replaces decoded "!!0" to "!:"; a single scan must not.
  const std::string url = "http://h/a!0b?x=!1";
  const auto enc = encode_url(url);
  BOOST_TEST(enc == "http!0!1!1h!1a!!0b!4x=!!1");
  BOOST_TEST(decode_url(enc).value() == url);
  BOOST_TEST(decode_url("!!0").value() == "!0");
}

BOOST_AUTO_TEST_CASE(round_trips_awkward_urls) {
  for (std::string url : {"", "!", "!!", "http://h:8080/~user/a b#frag?",
                          "https://x/y?a=1&b=%2F&c=!4", "http://[::1]:80/p"}) {
    BOOST_TEST(decode_url(encode_url(url)).value() == url);
  }
}

BOOST_AUTO_TEST_CASE(dangling_escape_is_malformed) {
  BOOST_TEST(!decode_url("http!0!1!1h!").has_value());
  BOOST_TEST(!decode_url("!").has_value());
}

BOOST_AUTO_TEST_CASE(unknown_code_is_malformed) {
  BOOST_TEST(!decode_url("a!5b").has_value());
  BOOST_TEST(!decode_url("a!xb").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rfc3986)

// RFC 3986 §5.4 examples.
BOOST_AUTO_TEST_CASE(normal_examples) {
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"g:h", "g:h"},           {"g", "http://a/b/c/g"},      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"}, {"/g", "http://a/g"},         {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"}, {"g?y", "http://a/b/c/g?y"}, {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"}, {"g?y#s", "http://a/b/c/g?y#s"}, {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"}, {"", "http://a/b/c/d;p?q"},   {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},   {"..", "http://a/b/"},         {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},  {"../..", "http://a/"},        {"../../", "http://a/"},
      {"../../g", "http://a/g"}};
  for (const auto& [ref, want] : cases) BOOST_TEST(resolve_uri(base, ref) == want, ref);
}

BOOST_AUTO_TEST_CASE(abnormal_examples) {
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"../../../g", "http://a/g"}, {"../../../../g", "http://a/g"}, {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},      {"g.", "http://a/b/c/g."},       {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},  {"..g", "http://a/b/c/..g"},     {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"}, {"g/./h", "http://a/b/c/g/h"},   {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"}, {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"},   {"g?y/../x", "http://a/b/c/g?y/../x"},
      {"g#s/./x", "http://a/b/c/g#s/./x"},   {"g#s/../x", "http://a/b/c/g#s/../x"},
      {"http:g", "http:g"}};
  for (const auto& [ref, want] : cases) BOOST_TEST(resolve_uri(base, ref) == want, ref);
}

BOOST_AUTO_TEST_CASE(host_and_port) {
  BOOST_TEST(Uri::parse("http://user@Example.COM:8080/x").host() == "example.com");
  BOOST_TEST(Uri::parse("http://user@Example.COM:8080/x").port() == 8080);
  BOOST_TEST(Uri::parse("https://h/x").port() == 443);
  BOOST_TEST(Uri::parse("http://[::1]:81/").host() == "::1");
  BOOST_TEST(Uri::parse("http://[::1]:81/").port() == 81);
}

BOOST_AUTO_TEST_CASE(directory_and_strip) {
  BOOST_TEST(directory_of("http://h/a/b.mpd?t=1") == "http://h/a/");
  BOOST_TEST(directory_of("http://h") == "http://h/");
  BOOST_TEST(strip_query("http://h/a/b.mpd?t=1#f") == "http://h/a/b.mpd");
}

BOOST_AUTO_TEST_SUITE_END()

// The worker's log writer (service/log.h): lines leave in order through a
// thread of their own; a reader that falls behind costs lines, never a wait.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "service/log.h"

BOOST_AUTO_TEST_SUITE(log_writer)

namespace {

std::string read_available(int fd) {
  std::string out;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return out;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(lines_arrive_whole_and_in_order) {
  int fds[2];
  BOOST_REQUIRE(::pipe2(fds, O_NONBLOCK) == 0);
  {
    dashpiff::LogWriter writer(fds[1]);
    for (int i = 0; i < 1000; ++i) BOOST_TEST(writer.enqueue("line " + std::to_string(i) + "\n"));
  }  // the destructor writes what is queued
  const std::string got = read_available(fds[0]);
  std::string want;
  for (int i = 0; i < 1000; ++i) want += "line " + std::to_string(i) + "\n";
  BOOST_TEST(got == want);
  ::close(fds[0]);
  ::close(fds[1]);
}

BOOST_AUTO_TEST_CASE(a_reader_that_stops_costs_lines_not_waits) {
  // A blocking pipe nobody reads: the writer thread blocks in write(2) once
  // it is full; the logging side must go on at once, dropping beyond its bound.
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  const std::string line(1000, 'x');
  std::thread reader;
  {
    dashpiff::LogWriter writer(fds[1], 64 * 1024);
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t accepted = 0;
    for (int i = 0; i < 2000; ++i) accepted += writer.enqueue(line + "\n") ? 1 : 0;
    const auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 1000);
    const std::uint64_t dropped = writer.dropped();
    BOOST_TEST(dropped > 0u);
    BOOST_TEST(accepted + dropped == 2000u);
    // Now a reader: the writer finishes what it holds and stops.
    reader = std::thread([fd = fds[0]] {
      char buffer[65536];
      while (::read(fd, buffer, sizeof buffer) > 0) {
      }
    });
  }
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
}

BOOST_AUTO_TEST_CASE(lines_of_writers_sharing_a_pipe_never_mix) {
  // The workers of one supervisor share its stderr: under Docker or a
  // `| logger` that is one pipe. A write(2) of up to PIPE_BUF bytes goes in
  // whole (POSIX); a longer one may be split and mixed with another
  // writer's bytes once the pipe is full.
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  constexpr int kLines = 3000;
  std::string got;
  std::thread reader([&got, fd = fds[0]] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // behind: batches gather
    char buffer[65536];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) got.append(buffer, static_cast<std::size_t>(n));
  });
  {
    dashpiff::LogWriter a(fds[1]);
    dashpiff::LogWriter b(fds[1]);
    const std::string pad(200, '.');
    for (int i = 0; i < kLines; ++i) {
      BOOST_TEST(a.enqueue("A " + std::to_string(i) + pad + "\n"));
      BOOST_TEST(b.enqueue("B " + std::to_string(i) + pad + "\n"));
    }
  }
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  int next[2] = {0, 0};
  int mixed = 0;
  std::size_t start = 0;
  for (std::size_t end; (end = got.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = got.substr(start, end - start);
    const int who = line.rfind("A ", 0) == 0 ? 0 : line.rfind("B ", 0) == 0 ? 1 : -1;
    const std::string pad(200, '.');
    if (who < 0 || line != std::string(who ? "B " : "A ") + std::to_string(next[who]) + pad) {
      ++mixed;
      continue;
    }
    ++next[who];
  }
  BOOST_TEST(mixed == 0);
  BOOST_TEST(next[0] == kLines);
  BOOST_TEST(next[1] == kLines);
}

BOOST_AUTO_TEST_CASE(a_line_longer_than_pipe_buf_still_arrives_whole) {
  int fds[2];
  BOOST_REQUIRE(::pipe2(fds, O_NONBLOCK) == 0);
  std::string want;
  {
    dashpiff::LogWriter writer(fds[1]);
    for (const std::size_t size : {10u, 10000u, 5000u, 4095u, 1u, 20000u, 3u}) {
      const std::string line = std::string(size, 'y') + "\n";
      want += line;
      BOOST_TEST(writer.enqueue(line));
    }
  }
  BOOST_TEST(read_available(fds[0]) == want);
  ::close(fds[0]);
  ::close(fds[1]);
}

BOOST_AUTO_TEST_CASE(log_line_goes_through_the_installed_writer) {
  int fds[2];
  BOOST_REQUIRE(::pipe2(fds, O_NONBLOCK) == 0);
  {
    dashpiff::LogWriter writer(fds[1]);
    dashpiff::LogWriterInstalled installed(writer);
    dashpiff::log_line(dashpiff::LogLevel::error, "through the writer");
  }
  const std::string got = read_available(fds[0]);
  BOOST_TEST(got.find(" error through the writer\n") != std::string::npos);
  ::close(fds[0]);
  ::close(fds[1]);
}

BOOST_AUTO_TEST_SUITE_END()
