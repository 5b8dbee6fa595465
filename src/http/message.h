// Plain HTTP request/response types shared by the router and its front ends.
// Nothing here knows about FastCGI: a front end fills a Request and passes a
// ResponseSink that translates back to its own protocol.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dashpiff {

// Header names as received; lookups are case-insensitive.
using Headers = std::vector<std::pair<std::string, std::string>>;

bool iequals(std::string_view a, std::string_view b);
const std::string* find_header(const Headers& headers, std::string_view name);
void set_header(Headers& headers, std::string name, std::string value);
void remove_header(Headers& headers, std::string_view name);

// RFC 9110 §7.6.1: Connection, Keep-Alive, TE, Trailer, Transfer-Encoding,
// Upgrade, Proxy-*, and every name listed in the message's Connection header.
bool is_hop_by_hop(std::string_view name, const Headers& message_headers);

struct Request {
  std::string method;       // "GET", "HEAD", "POST", "OPTIONS", ...
  std::string path;         // decoded by nobody: exactly as on the request line
  std::string query;        // without '?', verbatim
  Headers headers;          // "Host", "Accept", ... (original names)
  std::string body;         // POST bodies only, already size-capped by the front end
  bool body_too_large = false;  // the front end stopped reading at its cap
  std::string remote_addr;  // peer address as the front end saw it
  std::string scheme = "http";  // what the front end was reached with
  std::string request_id;   // set by the front end or the router
};

// Where the router writes its answer. begin() once, then write() any number of
// times, then end() (or abort()). write() returns false when the client has gone, so that
// the origin transfer can be abandoned.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  virtual void begin(int status, const Headers& headers) = 0;
  virtual bool write(std::string_view chunk) = 0;
  // Sends what write() may have collected; also done by end(). False when
  // the client has gone.
  virtual bool flush() { return true; }
  virtual void end() = 0;
  // The answer cannot be completed (origin failed mid-body): the client must
  // see a broken transfer, never a short body that looks whole to a cache.
  virtual void abort() = 0;
  virtual bool started() const = 0;
};

const char* reason_phrase(int status);

}  // namespace dashpiff
