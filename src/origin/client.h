// Fetches origin URLs for the proxy. One OriginClient per thread: it owns a
// libcurl easy handle that is reused so connections to the origin stay alive.
// The client enforces the fetch policy itself (schemes, host allow-list,
// refused networks checked on the address actually connected to, redirects,
// timeouts, size caps) because the URLs it is handed come from strangers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "origin/address_policy.h"
#include "http/message.h"

namespace dashpiff {

struct OriginOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds first_byte_timeout{15000};  // from the start of each hop until its response head
  std::chrono::milliseconds total_timeout{300000};      // whole transfer
  // Low-speed limit (issue #12 item 5): every window of low_speed_time must
  // bring at least low_speed_bytes, or the transfer is cut as a timeout; a
  // trickling origin would otherwise hold a thread or a transfer for the
  // whole total_timeout. libcurl measures it (as bytes per second over
  // whole seconds, so windows round up to a second), on both paths, and not
  // while a transfer is paused for a slow client. 0 bytes: no limit.
  std::uint64_t low_speed_bytes = 1024;
  std::chrono::milliseconds low_speed_time{10000};
  int max_redirects = 5;
  // Host patterns, each optionally with a port ("cdn.example", "*.example.com",
  // "media.internal:8080", "[fd00::1]:8080"); empty: any host on any port.
  std::vector<std::string> allow_hosts;
  AddressPolicy address_policy;          // which resolved addresses may be connected to
  std::string user_agent = "dashpiff";
  std::string ca_file;                   // empty: the system store
};

enum class OriginError {
  none,
  bad_url,             // not parseable / no host
  scheme_refused,      // not http(s), also on a redirect
  host_refused,        // not on the allow-list
  address_refused,     // resolved to a refused network (SSRF guard)
  dns,                 // name did not resolve
  connect,             // refused / unreachable
  timeout,             // connect, first byte or total
  tls,                 // certificate or handshake
  too_many_redirects,
  too_large,           // body over max_body_bytes
  aborted,             // a handler asked to stop (client gone)
  protocol,            // anything else libcurl reports
  invalid_http,        // not HTTP, a bad status line or head, bad chunking or coding (RFC 9112)
  incomplete,          // the answer ended early: short body, no last chunk, reset, nothing at all
  internal,            // the receiver failed (an exception in a handler, out of memory)
};
// Keep equal to the last value plus one: metrics index an array by OriginError.
constexpr int kOriginErrorCount = static_cast<int>(OriginError::internal) + 1;

const char* to_string(OriginError e);

struct OriginRequest {
  std::string url;            // absolute http(s) URL, query verbatim
  std::string method = "GET"; // GET or HEAD
  // Already filtered by the router. The client still drops Host, Accept-Encoding,
  // Content-Length, Expect, hop-by-hop and malformed headers, and Authorization/
  // Cookie on a redirect to another origin.
  Headers headers;
  bool decode_body = false;   // offer Accept-Encoding and hand on decoded bytes (manifests)
  // 0: no cap. A Content-Length over it fails with too_large before on_head;
  // otherwise the transfer is cut once the delivered bytes would exceed it.
  std::uint64_t max_body_bytes = 0;
  // 0: no cap. With decode_body, a body that has decoded past 1 MiB to more
  // than this many times the bytes received is cut as too_large: a gzip
  // bomb is stopped by its ratio, not after max_body_bytes of it (issue #12).
  unsigned max_decoded_ratio = 0;
  // 0: the client's total_timeout. Otherwise the whole transfer (every hop)
  // ends within this, when it is the shorter: a caller that makes many
  // fetches for one answer (an MPD rewrite's index reads) gives them one
  // budget instead of a timeout each (issue #12 item 1).
  std::chrono::milliseconds time_limit{0};
};

struct OriginHead {
  int status = 0;
  // Final response's headers (after redirects and 1xx). When the body was
  // decoded (decode_body), Content-Encoding and Content-Length are removed:
  // they described the encoded bytes, on_data gets the decoded ones.
  Headers headers;
  std::string effective_url;  // after redirects
};

// Receives the final response. Both return false to abandon the transfer.
class OriginHandler {
 public:
  virtual ~OriginHandler() = default;
  virtual bool on_head(const OriginHead& head) = 0;
  virtual bool on_data(std::string_view chunk) = 0;
  // The client is about to wait for more origin data: hand on what is held.
  virtual void on_wait() {}
  // False while the receiver cannot take more: the transfer pauses without
  // taking the chunk (an event loop's receiver resumes it once it drains).
  virtual bool accepting() { return true; }
};

struct OriginResult {
  OriginError error = OriginError::none;
  std::string message;       // one line for the log: hosts, addresses, errno, libcurl's words
  // One line for the requester (issue #12 item 7): what failed (DNS, refused
  // address, connect, timeout, invalid HTTP, ...), never a resolved address,
  // a host learnt from a redirect or an OS error text. Connection refused,
  // unreachable and connect timeouts read the same, so the service cannot
  // map ports.
  std::string client_message;
  // The kind the requester is told of, where it is not `error`: a host name
  // whose addresses are all refused reads as one that does not resolve, so
  // that the service is no oracle of which internal names exist (issue #12
  // item 7); `error` and `message` keep the truth for metrics and the log.
  OriginError told = OriginError::none;
  std::uint64_t body_bytes = 0;
  double seconds = 0;        // total time
  bool head_delivered = false;  // on_head was called
  bool shared = false;  // another request's fetch, handed on (counted with that request)
  bool ok() const { return error == OriginError::none; }
};

// A fetch that failed before or apart from libcurl (no memory to start it,
// a receiver that refused its share of another's fetch): `message` for the
// log, the kind's own words for the requester (client_message).
OriginResult failed_fetch(OriginError error, std::string message);

class OriginTransfer;

class OriginClient {
 public:
  explicit OriginClient(OriginOptions options);
  ~OriginClient();
  OriginClient(const OriginClient&) = delete;
  OriginClient& operator=(const OriginClient&) = delete;

  OriginResult fetch(const OriginRequest& request, OriginHandler& handler);

  // Host allow-list check alone (no network), for early 403s. Port 0: on
  // some port (an entry with a port allows that port only).
  bool host_allowed(std::string_view host, int port = 0) const;

 private:
  friend class OriginTransfer;
  friend struct Fetch;  // the hop state machine both drive (client.cpp)
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One fetch driven by the caller's libcurl multi handle (the multi socket
// interface of an event loop), under the same policy as OriginClient::fetch:
// hop by hop, every hop checked. The client lends its options and must
// outlive the transfer; the handler must too.
class OriginTransfer {
 public:
  OriginTransfer(const OriginClient& client, OriginRequest request, OriginHandler& handler);
  ~OriginTransfer();
  OriginTransfer(const OriginTransfer&) = delete;
  OriginTransfer& operator=(const OriginTransfer&) = delete;

  // nullopt: easy_handle() is ready to be added to the caller's multi handle;
  // otherwise the fetch is already over (refused by policy, bad URL).
  std::optional<OriginResult> start();
  void* easy_handle() const;  // a CURL*
  // The handle finished (CURLMSG_DONE with `curl_code`) and was removed from
  // the multi: the result, or nullopt when a redirect's hop is ready to be
  // added again.
  std::optional<OriginResult> hop_done(int curl_code);
  // True once a deadline curl does not enforce has passed (the response
  // head's); the caller removes the handle and calls abandoned().
  bool expired(std::chrono::steady_clock::time_point now);
  // The handle was taken out of the multi before curl finished.
  OriginResult abandoned(OriginError error, std::string why);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Call once per process before any thread starts (curl_global_init is not
// thread-safe). RAII: cleans up when it goes out of scope.
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal();
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

}  // namespace dashpiff
