#include "fcgi_adapter.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>

namespace dashpiff {
namespace {

// A plain loop: find_first_of with a two-byte set calls memchr once per
// byte, which made this most of the cost of writing an answer's head.
bool clean(std::string_view s) {
  for (const char c : s)
    if (c == '\r' || c == '\n') return false;
  return true;
}

// HTTP_X_FORWARDED_PROTO -> X-Forwarded-Proto
std::string header_name(std::string_view cgi) {
  std::string name;
  bool upper = true;
  for (char c : cgi) {
    if (c == '_') {
      name += '-';
      upper = true;
    } else {
      name += static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                      : std::tolower(static_cast<unsigned char>(c)));
      upper = false;
    }
  }
  return name;
}

// FastCGI 1.0 §3.3: version, type, request id, content length, padding.
constexpr unsigned char kFcgiVersion = 1;
constexpr unsigned char kFcgiStdout = 6;
constexpr std::size_t kMaxRecord = 65528;  // under 65535, a multiple of 8: no padding needed
constexpr std::size_t kCollect = 4 * kMaxRecord;

bool write_all(int fd, iovec* iov, int count) {
  while (count > 0) {
    const ssize_t n = ::writev(fd, iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;  // EPIPE/ECONNRESET: the web server side went away
    }
    auto left = static_cast<std::size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

}  // namespace

bool write_stdout_records(int fd, int request_id, std::string_view first, std::string_view second,
                          std::string_view trailer) {
  // Each record is its header plus at most two pieces (the end of `first`
  // and the start of `second`): the caller's bytes are never copied.
  constexpr int kRecordsPerCall = 64;
  const std::size_t total = first.size() + second.size();
  std::size_t done = 0;
  if (total == 0 && !trailer.empty()) {
    iovec iov{const_cast<char*>(trailer.data()), trailer.size()};
    return write_all(fd, &iov, 1);
  }
  while (done < total) {
    unsigned char headers[kRecordsPerCall][8];
    iovec iov[kRecordsPerCall * 3 + 1];
    int count = 0;
    for (int r = 0; r < kRecordsPerCall && done < total; ++r) {
      const std::size_t n = std::min(total - done, kMaxRecord);
      unsigned char* h = headers[r];
      h[0] = kFcgiVersion;
      h[1] = kFcgiStdout;
      h[2] = static_cast<unsigned char>((request_id >> 8) & 0xff);
      h[3] = static_cast<unsigned char>(request_id & 0xff);
      h[4] = static_cast<unsigned char>((n >> 8) & 0xff);
      h[5] = static_cast<unsigned char>(n & 0xff);
      h[6] = 0;  // no padding
      h[7] = 0;
      iov[count++] = {h, 8};
      std::size_t at = done;
      const std::size_t stop = done + n;
      if (at < first.size()) {
        const std::size_t k = std::min(stop, first.size()) - at;
        iov[count++] = {const_cast<char*>(first.data() + at), k};
        at += k;
      }
      if (at < stop) {
        const std::size_t off = at - first.size();
        iov[count++] = {const_cast<char*>(second.data() + off), stop - at};
      }
      done = stop;
    }
    if (done == total && !trailer.empty()) iov[count++] = {const_cast<char*>(trailer.data()), trailer.size()};
    if (!write_all(fd, iov, count)) return false;
  }
  return true;
}

FcgiSink::FcgiSink(FCGX_Request& request, std::string& buffer) : request_(request), pending_(buffer) {
  pending_.clear();
  // libcurl hands the body on in pieces of at most 16 KiB: they collect here
  // up to kCollect, so the buffer is sized for that once per thread.
  pending_.reserve(kCollect + 4096);
}

void append_cgi_head(std::string& out, int status, const Headers& headers) {
  out.append("Status: ").append(std::to_string(status)).append(" ").append(reason_phrase(status)).append("\r\n");
  for (const auto& [name, value] : headers)
    if (clean(name) && clean(value)) out.append(name).append(": ").append(value).append("\r\n");
  // Issue #12 item 3, and the brief's "complete or visibly broken": nginx
  // (1.22) streaming a FastCGI answer unbuffered takes the connection's end
  // for the body's end, so a worker that died mid-answer (a crash, the
  // SIGKILL at shutdown-deadline) left a chunked answer ending cleanly with
  // its last chunk, and an answer with a Content-Length logged as a 200 and
  // its client connection kept for the next request: the client (or a CDN)
  // waited out keepalive_timeout for bytes that could never come. Only the
  // break record of a living worker failed either. nginx's buffered path
  // fails a stream that ends before FCGI_END_REQUEST and closes the client
  // connection at once: every answer with a body asks for it. The site pairs
  // it with fastcgi_max_temp_file_size 0, so it still streams as it comes
  // and nothing is spooled to disk (issue #13).
  if (status >= 200 && status != 204 && status != 304) out.append("X-Accel-Buffering: yes\r\n");
  out.append("\r\n");
}

namespace {
void append_record_header(std::string& out, unsigned char type, int request_id, std::size_t length) {
  const char h[8] = {static_cast<char>(kFcgiVersion), static_cast<char>(type),
                     static_cast<char>((request_id >> 8) & 0xff), static_cast<char>(request_id & 0xff),
                     static_cast<char>((length >> 8) & 0xff), static_cast<char>(length & 0xff), 0, 0};
  out.append(h, sizeof h);
}
}  // namespace

void append_stdout_records(std::string& out, int request_id, std::string_view data) {
  while (!data.empty()) {
    const std::size_t n = std::min(data.size(), kMaxRecord);
    append_record_header(out, kFcgiStdout, request_id, n);
    out.append(data.data(), n);
    data.remove_prefix(n);
  }
}

void append_end_request(std::string& out, int request_id) {
  // FastCGI 1.0 §5.3 and §5.5: an empty FCGI_STDOUT record closes the stream,
  // then FCGI_END_REQUEST with appStatus 0 and FCGI_REQUEST_COMPLETE.
  constexpr unsigned char kFcgiEndRequest = 3;
  append_record_header(out, kFcgiStdout, request_id, 0);
  append_record_header(out, kFcgiEndRequest, request_id, 8);
  out.append(8, '\0');
}

void append_break_record(std::string& out) {
  // A closed connection alone is not enough: nginx (1.22) streaming an
  // unbuffered answer takes the end of the connection for the end of the
  // body and closes a chunked answer with its last chunk, bytes missing. A
  // record it cannot parse (version 0; FastCGI 1.0 §3.3 knows only 1) makes
  // it fail the request instead: the client connection is closed without the
  // last chunk, and a buffered or cached answer is thrown away.
  out.append(8, '\0');
}

void FcgiSink::begin(int status, const Headers& headers) {
  if (started_) return;
  started_ = true;
  // The head waits in pending_ for the first body bytes or the first flush
  // (the origin client flushes before it waits), so head and body leave in
  // one writev without delaying the first byte. It is appended in place:
  // assigning a fresh string would swap out the thread's buffer, and every
  // answer would grow a new one, copying as it doubles.
  append_cgi_head(pending_, status, headers);
}

bool FcgiSink::write(std::string_view chunk) {
  if (failed_ || aborted_) return false;
  // Small chunks are collected and go out on flush (when the origin client
  // is about to wait) or once a few records' worth is held; a chunk of a
  // record or more goes out at once, straight from the caller's buffer.
  if (chunk.size() < kMaxRecord && pending_.size() + chunk.size() <= kCollect) {
    pending_.append(chunk);
    return true;
  }
  return send(chunk);
}

bool FcgiSink::flush() {
  if (failed_ || aborted_) return false;
  return pending_.empty() || send({});
}

bool FcgiSink::send(std::string_view tail) {
  // libfcgi would copy the body through its 8 KiB stream buffer and send
  // 8 KiB records; the records go straight to the connection instead.
  // Nothing is ever written through libfcgi's own stdout stream, so there is
  // nothing of it to flush first; FCGX_Finish_r still ends the stream.
  if (!write_stdout_records(request_.ipcFd, request_.requestId, pending_, tail)) failed_ = true;
  pending_.clear();
  return !failed_;
}

void FcgiSink::end() {
  if (!connection_ || failed_ || aborted_) {
    flush();
    return;
  }
  // The records that end the request (FastCGI 1.0 §5.3, §5.5) leave in the
  // same writev as the last body bytes: one write, and one wake-up of the web
  // server, per small answer instead of two. libfcgi then writes nothing more
  // (FcgiConnection::finish).
  std::string end_records;
  append_end_request(end_records, request_.requestId);
  if (!write_stdout_records(request_.ipcFd, request_.requestId, pending_, {}, end_records)) failed_ = true;
  pending_.clear();
  connection_->ended_ = !failed_;
}

void FcgiSink::abort() {
  if (aborted_) return;
  aborted_ = true;
  // Dropping the connection without FCGI_END_REQUEST, after a record nginx
  // cannot parse (append_break_record), makes nginx break the client
  // transfer instead of ending a chunked body cleanly with bytes missing.
  // Whatever was sent went out as whole records, so this one starts at a
  // record boundary. Before any byte of the answer the close alone gets the
  // client a 502.
  if (started_ && !failed_ && request_.ipcFd >= 0) {
    std::string record;
    append_break_record(record);
    iovec iov{record.data(), record.size()};
    write_all(request_.ipcFd, &iov, 1);
  }
  FCGX_Free(&request_, 1);
}

FcgiConnection::FcgiConnection(int fd) {
  FCGX_InitRequest(&request_, -1, 0);
  request_.ipcFd = fd;
  // FCGX_Accept_r starts by finishing "the previous request", which closes
  // the connection unless the previous request asked to keep it: for a
  // connection accepted here there was none, and it must stay open.
  request_.keepConnection = 1;
}

FcgiConnection::~FcgiConnection() {
  if (request_.ipcFd >= 0) ::close(request_.ipcFd);
  request_.ipcFd = -1;
  FCGX_Free(&request_, 0);
}

int FcgiConnection::fd() const { return request_.ipcFd; }
int FcgiConnection::request_id() const { return request_.requestId; }

bool FcgiConnection::accept() { return FCGX_Accept_r(&request_) >= 0; }

Request FcgiConnection::read_request(std::size_t max_body) { return to_request(request_, max_body); }

namespace {

// Reads what is left of the request's stdin, so that the next request on a
// kept connection starts at a record boundary. False when there is more
// than a request may carry: the connection is then dropped instead.
bool drain_stdin(FCGX_Request& request) {
  constexpr std::size_t kMaxDrain = 1 << 20;
  char buffer[4096];
  std::size_t drained = 0;
  for (;;) {
    const int n = FCGX_GetStr(buffer, sizeof buffer, request.in);
    if (n <= 0) return FCGX_GetError(request.in) == 0;
    drained += static_cast<std::size_t>(n);
    if (drained > kMaxDrain) return false;
  }
}

}  // namespace

bool FcgiConnection::prepare_handoff() {
  // For a GET the rest of stdin is its empty closing record, sent with the request.
  return request_.keepConnection && drain_stdin(request_);
}

bool FcgiConnection::finish() {
  if (ended_) {
    // The sink has written the end of the request: libfcgi's streams are
    // dropped unwritten, as after a hand-off to the event loop.
    ended_ = false;
    const bool keep = request_.keepConnection && drain_stdin(request_);
    if (keep) {
      reset_after_handoff();
      return true;
    }
    FCGX_Free(&request_, 1);
    return false;
  }
  // An aborted answer has already dropped the connection (ipcFd -1).
  if (request_.ipcFd >= 0 && request_.keepConnection && !drain_stdin(request_)) request_.keepConnection = 0;
  FCGX_Finish_r(&request_);  // closes unless the web server asked to keep it and all went well
  return request_.ipcFd >= 0;
}

void FcgiConnection::reset_after_handoff() {
  FCGX_Free(&request_, 0);
  request_.keepConnection = 1;
}

void FcgiConnection::drop() {
  if (request_.ipcFd >= 0) FCGX_Free(&request_, 1);
}

PeekedRequest parse_request_records(std::string_view bytes) {
  // FastCGI 1.0 §3.3 (record header), §3.4 (name-value pairs), §5.1-5.3.
  constexpr unsigned char kBeginRequest = 1, kParams = 4, kStdin = 5;
  PeekedRequest out;
  std::string params;
  bool begun = false, params_done = false;
  std::size_t at = 0;
  while (bytes.size() - at >= 8) {
    const auto* h = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    const std::size_t length = (std::size_t(h[4]) << 8) | h[5];
    const std::size_t total = 8 + length + h[6];
    if (h[0] != kFcgiVersion || bytes.size() - at < total) return out;
    const std::string_view content = bytes.substr(at + 8, length);
    at += total;
    if (!begun) {
      if (h[1] != kBeginRequest) return out;
      begun = true;
    } else if (h[1] == kParams && !params_done) {
      if (length == 0) params_done = true;
      else params.append(content);
    } else if (h[1] == kStdin && params_done) {
      if (length == 0) {
        out.complete = true;
        break;
      }
    } else {
      return out;  // anything else is for libfcgi to judge
    }
  }
  if (!out.complete) return out;
  // Name-value pairs: each length one byte below 128, else four with the top bit set.
  std::string_view p = params;
  auto read_length = [&p](std::size_t& n) {
    if (p.empty()) return false;
    const auto b0 = static_cast<unsigned char>(p[0]);
    if (b0 < 128) {
      n = b0;
      p.remove_prefix(1);
      return true;
    }
    if (p.size() < 4) return false;
    n = (std::size_t(b0 & 0x7f) << 24) | (std::size_t(static_cast<unsigned char>(p[1])) << 16) |
        (std::size_t(static_cast<unsigned char>(p[2])) << 8) | static_cast<unsigned char>(p[3]);
    p.remove_prefix(4);
    return true;
  };
  while (!p.empty()) {
    std::size_t name_length = 0, value_length = 0;
    if (!read_length(name_length) || !read_length(value_length) || p.size() < name_length ||
        p.size() - name_length < value_length) {
      out.complete = false;
      return out;
    }
    const auto name = p.substr(0, name_length);
    const auto value = p.substr(name_length, value_length);
    p.remove_prefix(name_length + value_length);
    if (name == "REQUEST_METHOD") out.method = std::string(value);
    else if (name == "REQUEST_URI") out.path = std::string(value.substr(0, value.find('?')));
  }
  return out;
}

PeekedRequest peek_request(int fd) {
  // nginx sends a GET's records in one write of a few KiB; a request that
  // does not fit here is simply left to a serving thread.
  char buffer[16 * 1024];
  const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_PEEK | MSG_DONTWAIT);
  if (n <= 0) return {};
  return parse_request_records(std::string_view(buffer, static_cast<std::size_t>(n)));
}

Request to_request(FCGX_Request& request, std::size_t max_body) {
  Request r;
  auto param = [&](const char* name) -> std::string {
    const char* v = FCGX_GetParam(name, request.envp);
    return v ? v : "";
  };
  r.method = param("REQUEST_METHOD");
  const std::string uri = param("REQUEST_URI");
  r.path = uri.substr(0, uri.find('?'));
  r.query = param("QUERY_STRING");
  r.remote_addr = param("REMOTE_ADDR");
  const std::string scheme = param("REQUEST_SCHEME");
  r.scheme = !scheme.empty() ? scheme : (param("HTTPS") == "on" ? "https" : "http");
  for (char** e = request.envp; e && *e; ++e) {
    const std::string_view kv = *e;
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    const auto key = kv.substr(0, eq);
    if (key.substr(0, 5) == "HTTP_") {
      r.headers.emplace_back(header_name(key.substr(5)), std::string(kv.substr(eq + 1)));
    } else if (key == "CONTENT_TYPE" || key == "CONTENT_LENGTH") {
      if (eq + 1 < kv.size()) r.headers.emplace_back(header_name(key), std::string(kv.substr(eq + 1)));
    }
  }
  if (r.method == "POST") {
    // Read one byte past the cap so that "exactly at the cap" is still accepted.
    std::string body(max_body + 1, '\0');
    const int n = FCGX_GetStr(body.data(), static_cast<int>(body.size()), request.in);
    body.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    r.body_too_large = body.size() > max_body;
    if (r.body_too_large) body.resize(max_body);
    r.body = std::move(body);
  }
  return r;
}

}  // namespace dashpiff
