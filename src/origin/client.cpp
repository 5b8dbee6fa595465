#include "origin/client.h"

#include "http/uri.h"
#include "util/strings.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <new>
#include <optional>
#include <stdexcept>

namespace dashpiff {
namespace {

using Clock = std::chrono::steady_clock;

// Bytes of a redirect's body read (and dropped) to keep its connection alive;
// past this the transfer is cut and the redirect followed on a new connection.
constexpr std::uint64_t kMaxRedirectBody = 64 * 1024;
// What one response head may hold. An origin's head is read line by line
// and kept: without a cap, endless header lines, a huge one, or a storm of
// 1xx interim heads (RFC 9110 section 15.2) would grow the worker or hold it.
constexpr std::size_t kMaxHeadBytes = 64 * 1024;
constexpr std::size_t kMaxHeaderFields = 200;
constexpr int kMaxInterimHeads = 10;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Host names compare case-insensitively and without a trailing root dot; IP
// literals compare in their canonical text form so "::0:1" matches "::1".
std::string normalise_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (auto ip = IpAddress::parse(host)) return ip->str();
  return ascii_lower(host);
}

bool is_ip_literal(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return true;
  return IpAddress::parse(host).has_value();
}

bool host_matches(const std::string& pattern, const std::string& host) {
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    const std::string_view suffix(pattern.data() + 1, pattern.size() - 1);  // ".example.com"
    return host.size() > suffix.size() &&
           host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  return pattern == host;
}

bool is_redirect_status(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlHandle = std::unique_ptr<CURLU, CurlUrlDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::optional<std::string> url_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, flags) != CURLUE_OK || value == nullptr) return std::nullopt;
  std::string out(value);
  curl_free(value);
  return out;
}

// The parts of a URL that decide where a request goes and what it may carry.
struct Target {
  std::string scheme;
  std::string host;  // as curl will look it up (brackets kept for IPv6)
  std::string port;
  std::string where() const { return host + ":" + port; }
  int port_number() const {
    const auto split = split_host_port("x:" + port);
    return split ? split->port : -1;  // -1 matches no allow-origin port
  }
  bool same_origin(const Target& o) const {
    return scheme == o.scheme && normalise_host(host) == normalise_host(o.host) && port == o.port;
  }
};

std::optional<Target> target_of(CURLU* u) {
  Target t;
  auto scheme = url_part(u, CURLUPART_SCHEME);
  if (!scheme) return std::nullopt;
  t.scheme = ascii_lower(*scheme);
  if (t.scheme == "http" || t.scheme == "https") {
    auto host = url_part(u, CURLUPART_HOST);
    auto port = url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
    if (!host || host->empty() || !port) return std::nullopt;
    t.host = *host;
    t.port = *port;
  }
  return t;
}

bool header_value_ok(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Headers the client itself owns, whatever the caller passed: curl writes Host
// and Content-Length, Accept-Encoding is ours to offer (media must arrive as
// identity bytes), and hop-by-hop headers belong to the client's connection.
bool never_sent(const std::string& name, const Headers& all) {
  return iequals(name, "Host") || iequals(name, "Accept-Encoding") || iequals(name, "Content-Length") ||
         iequals(name, "Expect") || is_hop_by_hop(name, all);
}

bool is_credential(std::string_view name) {
  return iequals(name, "Authorization") || iequals(name, "Cookie") || iequals(name, "Proxy-Authorization");
}

bool is_tls_error(CURLcode c) {
  switch (c) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

long ms(std::chrono::milliseconds d) { return static_cast<long>(d.count()); }

}  // namespace

const char* to_string(OriginError e) {
  switch (e) {
    case OriginError::none: return "none";
    case OriginError::bad_url: return "bad_url";
    case OriginError::scheme_refused: return "scheme_refused";
    case OriginError::host_refused: return "host_refused";
    case OriginError::address_refused: return "address_refused";
    case OriginError::dns: return "dns";
    case OriginError::connect: return "connect";
    case OriginError::timeout: return "timeout";
    case OriginError::tls: return "tls";
    case OriginError::too_many_redirects: return "too_many_redirects";
    case OriginError::too_large: return "too_large";
    case OriginError::aborted: return "aborted";
    case OriginError::protocol: return "protocol";
    case OriginError::invalid_http: return "invalid_http";
    case OriginError::incomplete: return "incomplete";
    case OriginError::internal: return "internal";
  }
  return "unknown";
}

CurlGlobal::CurlGlobal() {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
}

CurlGlobal::~CurlGlobal() { curl_global_cleanup(); }

namespace {

// What the requester is told for each kind of failure (see OriginResult::
// client_message): the kind, never an address or a name it did not send.
const char* client_text(OriginError e) {
  switch (e) {
    case OriginError::none: return "";
    case OriginError::bad_url: return "origin URL is malformed";
    case OriginError::scheme_refused: return "origin URL scheme refused (only http and https)";
    case OriginError::host_refused: return "origin host is not on the allow-origin list";
    case OriginError::address_refused: return "origin address refused: not a public address";
    case OriginError::dns: return "origin host name did not resolve to an allowed address";
    case OriginError::connect: return "could not connect to the origin";
    case OriginError::timeout: return "origin timed out";
    case OriginError::tls: return "TLS with the origin failed";
    case OriginError::too_many_redirects: return "origin redirected too many times";
    case OriginError::too_large: return "origin body exceeds the size limit";
    case OriginError::aborted: return "transfer abandoned";
    case OriginError::protocol: return "origin transfer failed";
    case OriginError::invalid_http: return "origin sent invalid HTTP";
    case OriginError::incomplete: return "origin ended its answer early";
    case OriginError::internal: return "internal error while handling the origin's answer";
  }
  return "origin failed";
}

// State of one hop (one HTTP exchange) of a fetch; the callbacks write here.
struct Hop {
  OriginHandler* handler = nullptr;
  const OriginRequest* request = nullptr;
  const AddressPolicy* policy = nullptr;

  OriginHead head;
  bool head_complete = false;   // the final (non-1xx) head of this hop has ended
  bool head_delivered = false;  // handed to the handler
  std::optional<std::string> redirect;  // Location of a redirect to follow
  std::uint64_t discarded = 0;
  bool redirect_cut = false;
  std::size_t head_bytes = 0;  // of the current head
  int interim_heads = 0;
  std::uint64_t body_bytes = 0;
  CURL* easy = nullptr;  // for the bytes received, to judge a decoded body's ratio
  Clock::time_point deadline;  // the fetch's total deadline, to tell it from the low-speed limit

  // Whether allowed_networks may be reached on this hop: not for a host
  // that only a wildcard allow-origin entry lets through (issue #12 item 8).
  bool networks_apply = true;
  bool connected = false;
  int socket_attempts = 0;
  int socket_refusals = 0;
  std::string refusal;

  OriginError error = OriginError::none;
  OriginError told = OriginError::none;  // see OriginResult::told
  std::string message;
  std::string client_message;

  // `says`: the requester's line when the kind's generic one is too vague.
  void fail(OriginError e, std::string m, std::string says = {}) {
    if (error != OriginError::none) return;
    error = e;
    message = std::move(m);
    client_message = says.empty() ? client_text(e) : std::move(says);
  }

  // Every callback ends here when anything in it throws: nothing may unwind
  // through libcurl's C frames (its state would be left half-updated, and
  // every later transfer on this thread would fail). Issue #12 item 2.
  void fail_internal() noexcept {
    const char* what = current_exception_what();
    try {
      fail(OriginError::internal, std::string("receiver failed: ") + what);
    } catch (...) {
      // No memory even for the message: the kind alone still reaches the caller.
      if (error == OriginError::none) error = OriginError::internal;
    }
  }
};

bool finish_head(Hop& hop) {
  hop.head_complete = true;
  if (is_redirect_status(hop.head.status)) {
    if (const auto* loc = find_header(hop.head.headers, "Location"); loc && !loc->empty()) {
      hop.redirect = *loc;
      return true;
    }
  }
  const auto& req = *hop.request;
  const auto* encoding = find_header(hop.head.headers, "Content-Encoding");
  const bool decoded = req.decode_body && encoding != nullptr;
  const bool bodiless_status = hop.head.status == 204 || hop.head.status == 304;
  if (req.max_body_bytes > 0 && !decoded && !bodiless_status) {
    if (const auto* cl = find_header(hop.head.headers, "Content-Length")) {
      char* end = nullptr;
      errno = 0;
      const unsigned long long length = std::strtoull(cl->c_str(), &end, 10);
      if (end != cl->c_str() && (length > req.max_body_bytes || errno == ERANGE)) {
        hop.fail(OriginError::too_large, "origin body of " + *cl + " bytes exceeds the limit of " +
                                             std::to_string(req.max_body_bytes) + " bytes");
        return false;
      }
    }
  }
  if (decoded) {
    // on_data will see decoded bytes: the encoded form's framing no longer applies.
    remove_header(hop.head.headers, "Content-Encoding");
    remove_header(hop.head.headers, "Content-Length");
  }
  // The URL libcurl sent this hop to, as it made it from the hop's URL handle
  // (the whole URL of curl_url_get): asked of libcurl rather than made again
  // here, which cost about 6,000 instructions a fetch (its printf).
  char* sent_to = nullptr;
  if (curl_easy_getinfo(hop.easy, CURLINFO_EFFECTIVE_URL, &sent_to) == CURLE_OK && sent_to && *sent_to)
    hop.head.effective_url = sent_to;
  else
    hop.head.effective_url = hop.request->url;
  hop.head_delivered = true;
  if (!hop.handler->on_head(hop.head)) {
    hop.fail(OriginError::aborted, "transfer abandoned by the receiver");
    return false;
  }
  return true;
}

size_t on_header_line(Hop& hop, char* buffer, size_t length) {
  if (hop.head_complete) return length;  // trailers
  hop.head_bytes += length;
  if (hop.head_bytes > kMaxHeadBytes || hop.head.headers.size() >= kMaxHeaderFields) {
    hop.fail(OriginError::invalid_http, "origin response head exceeds " + std::to_string(kMaxHeadBytes) +
                                            " bytes or " + std::to_string(kMaxHeaderFields) + " fields");
    return 0;
  }
  const std::string_view line = trim(std::string_view(buffer, length));
  if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
    // A new status line: an earlier 1xx head is forgotten.
    hop.head.headers.clear();
    hop.head.status = 0;
    const auto space = line.find(' ');
    if (space != std::string_view::npos) {
      const auto code = trim(line.substr(space + 1)).substr(0, 3);
      if (code.size() == 3 && std::all_of(code.begin(), code.end(), is_digit))
        hop.head.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    }
    // RFC 9110 §15: a status code is 100-599; libcurl passes any three
    // digits, and a 600 or 999 would reach the requester as that status.
    if (hop.head.status > 599) {
      hop.fail(OriginError::invalid_http, "origin sent status " + std::to_string(hop.head.status) +
                                              ", outside 100-599");
      return 0;
    }
    return length;
  }
  if (line.empty()) {
    if (hop.head.status >= 100 && hop.head.status < 200) {
      if (++hop.interim_heads > kMaxInterimHeads) {
        hop.fail(OriginError::invalid_http,
                 "origin sent more than " + std::to_string(kMaxInterimHeads) + " interim (1xx) heads");
        return 0;
      }
      hop.head_bytes = 0;
      return length;
    }
    return finish_head(hop) ? length : 0;
  }
  if ((buffer[0] == ' ' || buffer[0] == '\t') && !hop.head.headers.empty()) {
    auto& value = hop.head.headers.back().second;  // obsolete line folding
    value += ' ';
    value += line;
    return length;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return length;  // curl already judged the syntax
  const auto name = trim(line.substr(0, colon));
  const auto value = trim(line.substr(colon + 1));
  // RFC 9112 section 6.3: a Content-Length that is not one decimal number, or
  // that differs from an earlier one, leaves the body's end unknown: an
  // unrecoverable error (libcurl would pick one of them).
  if (iequals(name, "Content-Length")) {
    const auto* earlier = find_header(hop.head.headers, "Content-Length");
    if (value.empty() || value.size() > 19 || !std::all_of(value.begin(), value.end(), is_digit) ||
        (earlier && *earlier != value)) {
      hop.fail(OriginError::invalid_http, "origin sent an invalid or conflicting Content-Length");
      return 0;
    }
  }
  hop.head.headers.emplace_back(std::string(name), std::string(value));
  return length;
}

// Decoded bodies are judged by their expansion only past this much: a small
// document may compress far better than a large one can.
constexpr std::uint64_t kRatioFloor = 1u << 20;

size_t on_body(Hop& hop, char* data, size_t length) {
  if (hop.redirect) {
    hop.discarded += length;
    if (hop.discarded > kMaxRedirectBody) {
      hop.redirect_cut = true;
      return 0;
    }
    return length;
  }
  if (!hop.head_delivered) {
    hop.fail(OriginError::invalid_http, "origin sent body bytes before a response head");
    return 0;
  }
  // Backpressure (issue 13): nothing of the chunk is taken while the
  // receiver is full; curl holds it and stops reading the origin until the
  // receiver resumes the transfer.
  if (!hop.handler->accepting()) return CURL_WRITEFUNC_PAUSE;
  const auto cap = hop.request->max_body_bytes;
  if (cap > 0 && hop.body_bytes + length > cap) {
    hop.fail(OriginError::too_large, "origin body exceeds the limit of " + std::to_string(cap) + " bytes");
    return 0;
  }
  hop.body_bytes += length;
  if (hop.request->max_decoded_ratio > 0 && hop.request->decode_body && hop.body_bytes > kRatioFloor) {
    // libcurl counts the bytes received before it decodes them.
    curl_off_t received = 0;
    curl_easy_getinfo(hop.easy, CURLINFO_SIZE_DOWNLOAD_T, &received);
    if (received > 0 && hop.body_bytes / std::uint64_t(received) >= hop.request->max_decoded_ratio) {
      hop.fail(OriginError::too_large, "origin body expands more than " +
                                           std::to_string(hop.request->max_decoded_ratio) +
                                           " times when decoded");
      return 0;
    }
  }
  if (!hop.handler->on_data(std::string_view(data, length))) {
    hop.fail(OriginError::aborted, "transfer abandoned by the receiver");
    return 0;
  }
  return length;
}

// The log's words for a refused address.
std::string refused_address(const Hop& hop, const IpAddress& ip) {
  std::string m = "origin address " + ip.str() + " is " + to_string(classify(ip)) + ", refused";
  if (!hop.networks_apply && hop.policy->permits(ip)) m += " (in allow-network, but the host matched only a wildcard allow-origin entry)";
  return m;
}

// The SSRF guard: called with the address curl is about to connect to, after
// DNS, for the first URL and every redirect alike, so a host name that
// resolves (or re-resolves) to a refused network never gets a socket.
curl_socket_t open_socket(Hop& hop, curlsocktype purpose, curl_sockaddr* address) {
  ++hop.socket_attempts;
  const auto ip = purpose == CURLSOCKTYPE_IPCXN ? IpAddress::from_sockaddr(&address->addr) : std::nullopt;
  if (!ip || !hop.policy->permits(*ip, hop.networks_apply)) {
    ++hop.socket_refusals;
    if (hop.refusal.empty())
      hop.refusal = ip ? refused_address(hop, *ip) : "origin address of an unsupported family, refused";
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

// Runs before each request on a new or reused connection: a second look at the
// peer address, so that no path through curl skips the policy.
int prereq(Hop& hop, const char* primary_ip) {
  const auto ip = IpAddress::parse(primary_ip ? primary_ip : "");
  if (!ip || !hop.policy->permits(*ip, hop.networks_apply)) {
    hop.fail(OriginError::address_refused, ip ? refused_address(hop, *ip) : "origin address unknown, refused");
    return CURL_PREREQFUNC_ABORT;
  }
  hop.connected = true;
  return CURL_PREREQFUNC_OK;
}

// libcurl's entry points: each catches everything (see Hop::fail_internal)
// and reports it with the return value that makes libcurl end the transfer.
size_t header_callback(char* buffer, size_t size, size_t count, void* userdata) noexcept {
  auto& hop = *static_cast<Hop*>(userdata);
  try {
    return on_header_line(hop, buffer, size * count);
  } catch (...) {
    hop.fail_internal();
    return 0;
  }
}

size_t write_callback(char* data, size_t size, size_t count, void* userdata) noexcept {
  auto& hop = *static_cast<Hop*>(userdata);
  try {
    return on_body(hop, data, size * count);
  } catch (...) {
    hop.fail_internal();
    return 0;
  }
}

curl_socket_t open_socket_callback(void* userdata, curlsocktype purpose, curl_sockaddr* address) noexcept {
  auto& hop = *static_cast<Hop*>(userdata);
  try {
    return open_socket(hop, purpose, address);
  } catch (...) {
    hop.fail_internal();
    return CURL_SOCKET_BAD;
  }
}

int prereq_callback(void* userdata, char* primary_ip, char*, int, int) noexcept {
  auto& hop = *static_cast<Hop*>(userdata);
  try {
    return prereq(hop, primary_ip);
  } catch (...) {
    hop.fail_internal();
    return CURL_PREREQFUNC_ABORT;
  }
}


// One easy handle and its error text: the thread's client keeps one, each
// OriginTransfer has its own.
struct EasyHandle {
  CURL* easy = curl_easy_init();
  char error_buffer[CURL_ERROR_SIZE] = {};
  EasyHandle() {
    if (easy == nullptr) throw std::runtime_error("libcurl handle allocation failed");
  }
  ~EasyHandle() { curl_easy_cleanup(easy); }
  EasyHandle(const EasyHandle&) = delete;
  EasyHandle& operator=(const EasyHandle&) = delete;
};

std::string curl_message(const char* error_buffer, CURLcode code) {
  return error_buffer[0] != '\0' ? std::string(trim(error_buffer)) : curl_easy_strerror(code);
}

}  // namespace

struct OriginClient::Impl {
  OriginOptions options;
  struct AllowedOrigin {
    std::string pattern;  // normalised host, or "*." + normalised domain
    int port = 0;         // 0: any port
  };
  std::vector<AllowedOrigin> allowed;  // allow_hosts, normalised
  CURLM* multi = nullptr;
  EasyHandle handle;

  explicit Impl(OriginOptions o) : options(std::move(o)) {
    for (const auto& entry : options.allow_hosts) {
      // The configuration has validated each entry; one that does not split
      // (set by code, not by the settings table) allows nothing.
      const auto split = split_host_port(entry);
      if (!split) continue;
      const std::string_view p = split->host;
      if (p.size() > 2 && p[0] == '*' && p[1] == '.')
        allowed.push_back({"*." + normalise_host(p.substr(2)), split->port});
      else
        allowed.push_back({normalise_host(p), split->port});
    }
    multi = curl_multi_init();
    if (multi == nullptr) throw std::runtime_error("libcurl handle allocation failed");
    // Room for a few origins' connections (manifest host, segment hosts).
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 16L);
  }
  ~Impl() { curl_multi_cleanup(multi); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // An entry with a port allows its host on that port only (issue #12: an
  // allowed VPC network must not open every port of every host in it). Port
  // 0 asks whether the host is allowed on some port.
  bool host_allowed(std::string_view host, int port) const { return host_match(host, port) != Match::none; }

  // How a host is let through: by an entry naming it (or by an empty list),
  // or only by a *.domain entry. Allowed networks are reached only the
  // first way (issue #12 item 8): a wildcard names hosts whose DNS someone
  // else may hold (a tenant of a shared domain), and a name of theirs that
  // resolves into the VPC would otherwise reach it.
  enum class Match { none, wildcard, named };
  Match host_match(std::string_view host, int port) const {
    const auto h = normalise_host(host);
    if (h.empty()) return Match::none;
    if (allowed.empty()) return Match::named;
    Match best = Match::none;
    for (const AllowedOrigin& a : allowed) {
      if (!host_matches(a.pattern, h) || !(a.port == 0 || port == 0 || a.port == port)) continue;
      if (a.pattern.rfind("*.", 0) != 0) return Match::named;
      best = Match::wildcard;
    }
    return best;
  }

  void configure(CURL* easy, char* error_buffer, Hop& hop, CURLU* url, curl_slist* headers,
                 Clock::time_point total_deadline) const {
    curl_easy_reset(easy);  // keeps the connection and DNS caches (they live in the multi handle)
    error_buffer[0] = '\0';
    hop.easy = easy;
    hop.deadline = total_deadline;
    curl_easy_setopt(easy, CURLOPT_CURLU, url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);  // followed here, hop by hop
    curl_easy_setopt(easy, CURLOPT_PROXY, "");           // ignore *_proxy in the environment
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, ms(options.connect_timeout));
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(total_deadline - Clock::now());
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, std::max(1L, ms(remaining)));
    if (options.low_speed_bytes > 0) {
      const long seconds = std::max(1L, static_cast<long>((options.low_speed_time.count() + 999) / 1000));
      const auto per_second = (options.low_speed_bytes + static_cast<std::uint64_t>(seconds) - 1) /
                              static_cast<std::uint64_t>(seconds);
      curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(per_second));
      curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, seconds);
    }
    curl_easy_setopt(easy, CURLOPT_DNS_CACHE_TIMEOUT, 60L);
    // Bigger reads mean fewer write callbacks, FastCGI records and syscalls
    // per segment; libcurl still hands on whatever arrived at once. 512 KiB
    // is libcurl's largest (CURL_MAX_READ_SIZE); against 256 KiB it cut the
    // worker's CPU per 1 MB segment by about a tenth.
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    if (hop.request->decode_body) {
      curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // every coding this libcurl can decode
    } else {
      curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, static_cast<char*>(nullptr));
      curl_easy_setopt(easy, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    }
    if (hop.request->method == "HEAD")
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    else
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket_callback);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, &hop);
    curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, prereq_callback);
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, &hop);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_callback);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &hop);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_callback);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &hop);
  }

  std::string low_speed_rate() const {
    return std::to_string(options.low_speed_bytes) + " bytes in " + std::to_string(options.low_speed_time.count()) +
           " ms";
  }

  void classify_failure(CURL* easy, const char* error_buffer, Hop& hop, const Target& target, CURLcode code) const {
    const std::string where = target.where();
    if (!hop.connected && hop.socket_attempts > 0 && hop.socket_refusals == hop.socket_attempts) {
      if (is_ip_literal(target.host)) {
        hop.fail(OriginError::address_refused, hop.refusal);
      } else {
        // What a name resolves to is the resolver's answer, not the
        // requester's to learn: refused reads as unresolved (OriginResult::told).
        hop.fail(OriginError::address_refused, hop.refusal + " (host " + target.host + ")",
                 client_text(OriginError::dns));
        hop.told = OriginError::dns;
      }
      return;
    }
    long os_errno = 0;
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
    const std::string os_text =
        os_errno != 0 ? std::strerror(static_cast<int>(os_errno)) : curl_message(error_buffer, code);
    switch (code) {
      case CURLE_COULDNT_RESOLVE_HOST:
        hop.fail(OriginError::dns, "origin host " + target.host + " did not resolve");
        return;
      case CURLE_COULDNT_CONNECT:
        hop.fail(OriginError::connect, "connect to origin " + where + " failed: " + os_text);
        return;
      case CURLE_OPERATION_TIMEDOUT:
        // A connect that times out reads like one that is refused: whether a
        // port drops or refuses is nothing the requester learns from us.
        if (!hop.connected)
          hop.fail(OriginError::connect, "connect to origin " + where + " timed out after " +
                                             std::to_string(options.connect_timeout.count()) + " ms");
        else if (Clock::now() + std::chrono::milliseconds(50) < hop.deadline && options.low_speed_bytes > 0)
          // Before the total deadline only the low-speed limit ends a transfer.
          hop.fail(OriginError::timeout,
                   "origin " + where + " sent fewer than " + low_speed_rate() + " (low-speed-limit)",
                   "origin timed out: fewer than " + low_speed_rate());
        else if (!hop.head_complete)
          hop.fail(OriginError::timeout,
                   "no response head from origin " + where + " within " +
                       std::to_string(options.first_byte_timeout.count()) + " ms",
                   "origin timed out: no response head within " +
                       std::to_string(options.first_byte_timeout.count()) + " ms");
        else
          hop.fail(OriginError::timeout,
                   "origin " + where + " did not complete within the total timeout of " +
                       std::to_string(options.total_timeout.count()) + " ms",
                   "origin timed out: not complete within " + std::to_string(options.total_timeout.count()) +
                       " ms");
        return;
      case CURLE_UNSUPPORTED_PROTOCOL:
        // Schemes were checked before curl saw the URL; from a connected
        // origin this is libcurl refusing an HTTP/0.9 answer (no status line).
        hop.fail(OriginError::invalid_http, "origin " + where + " answered without an HTTP status line: " +
                                                curl_message(error_buffer, code));
        return;
      case CURLE_WEIRD_SERVER_REPLY:
      case CURLE_BAD_CONTENT_ENCODING:
      case CURLE_HTTP2:
      case CURLE_HTTP2_STREAM:
        hop.fail(OriginError::invalid_http, "origin " + where + " sent invalid HTTP: " + curl_message(error_buffer, code));
        return;
      case CURLE_PARTIAL_FILE:
        hop.fail(OriginError::incomplete, "origin " + where + " closed the connection before the end of the body (" +
                                              std::to_string(hop.body_bytes) + " bytes received): " +
                                              curl_message(error_buffer, code));
        return;
      case CURLE_GOT_NOTHING:
        hop.fail(OriginError::incomplete, "origin " + where + " closed the connection without an answer");
        return;
      case CURLE_RECV_ERROR:
        // A reset carries the OS error; a chunked body libcurl could not
        // decode (RFC 9112 section 7.1) carries none.
        if (os_errno != 0 && curl_message(error_buffer, code).find("chunk") == std::string::npos)
          hop.fail(OriginError::incomplete, "origin " + where + " connection failed mid-answer: " + os_text);
        else
          hop.fail(OriginError::invalid_http, "origin " + where + " sent invalid HTTP: " + curl_message(error_buffer, code));
        return;
      case CURLE_URL_MALFORMAT:
        hop.fail(OriginError::bad_url, "origin URL is malformed: " + curl_message(error_buffer, code));
        return;
      case CURLE_TOO_MANY_REDIRECTS:
        hop.fail(OriginError::too_many_redirects, "too many redirects from origin " + where);
        return;
      case CURLE_FILESIZE_EXCEEDED:
        hop.fail(OriginError::too_large, "origin body exceeds the size limit");
        return;
      default:
        break;
    }
    if (is_tls_error(code)) {
      hop.fail(OriginError::tls, "TLS with origin " + where + " failed: " + curl_message(error_buffer, code));
      return;
    }
    hop.fail(OriginError::protocol, "origin " + where + ": " + curl_message(error_buffer, code));
  }

  OriginResult fetch(const OriginRequest& request, OriginHandler& handler);
  // Runs the prepared hop of `f` on this client's own multi handle to
  // completion, a deadline, or an error recorded in the hop; curl's result.
  std::optional<CURLcode> run_hop(struct Fetch& f);
};

// One fetch as a state machine over hops (redirects are followed here, hop by
// hop, so that every hop passes the policy): driven by OriginClient::fetch on
// its thread, or by an event loop through OriginTransfer.
struct Fetch {
  Fetch(const OriginClient::Impl& impl, const OriginRequest& request, OriginHandler& handler, EasyHandle& handle)
      : impl(impl), request(request), handler(handler), easy(handle.easy), error_buffer(handle.error_buffer) {}

  const OriginClient::Impl& impl;
  const OriginRequest& request;
  OriginHandler& handler;
  CURL* easy;
  char* error_buffer;

  const Clock::time_point start = Clock::now();
  const Clock::time_point total_deadline =
      start + (request.time_limit.count() > 0 ? std::min(request.time_limit, impl.options.total_timeout)
                                              : impl.options.total_timeout);
  Clock::time_point head_deadline;
  UrlHandle url;
  Headers outgoing;
  std::optional<Target> first;
  Target target;
  int redirects = 0;
  Slist header_list;         // the hop's, alive while curl uses it
  std::unique_ptr<Hop> hop;  // curl holds its address
  OriginResult result;

  OriginResult finish(OriginError e, std::string message, std::string says = {}) {
    result.error = e;
    result.message = std::move(message);
    result.client_message = says.empty() ? client_text(e) : std::move(says);
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
  }

  // Checks the request; nullopt when the first hop is ready to run.
  std::optional<OriginResult> begin() {
    if (request.method != "GET" && request.method != "HEAD")
      return finish(OriginError::protocol, "method " + request.method + " is not fetched from origin");
    url.reset(curl_url());
    if (!url) return finish(OriginError::protocol, "libcurl URL handle allocation failed");
    if (curl_url_set(url.get(), CURLUPART_URL, request.url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
      return finish(OriginError::bad_url, "origin URL is malformed");
    for (const auto& [name, value] : request.headers)
      if (is_http_token(name) && header_value_ok(value) && !never_sent(name, request.headers))
        outgoing.emplace_back(name, value);
    return next_hop();
  }

  // Policy checks on the current URL, then the easy handle is configured for
  // it; nullopt when the hop is ready to run.
  std::optional<OriginResult> next_hop() {
    const auto t = target_of(url.get());
    // A redirect's Location is the origin's, not the requester's URL: one
    // that is no usable URL is invalid HTTP (RFC 9110 §10.2.2), a 502.
    if (!t)
      return redirects ? finish(OriginError::invalid_http, "origin redirected to a URL without a usable scheme or host")
                       : finish(OriginError::bad_url, "origin URL has no usable scheme or host");
    target = *t;
    if (target.scheme != "http" && target.scheme != "https")
      return finish(OriginError::scheme_refused,
                    std::string(redirects ? "redirect to" : "origin URL") + " scheme '" + target.scheme +
                        "' refused (only http and https)");
    const auto match = impl.host_match(target.host, target.port_number());
    if (match == OriginClient::Impl::Match::none)
      return finish(OriginError::host_refused,
                    std::string(redirects ? "redirect to " : "origin ") + "host " + normalise_host(target.host) +
                        " (port " + target.port + ") is not in the allow-origin list");
    if (!first) first = target;
    // Like browsers and curl itself: credentials stay with the origin they were meant for.
    // (The first hop is its own origin: no comparison, whose host normalising cost a
    // tenth of a revalidated manifest's Fetch::begin.)
    if (redirects > 0 && !first->same_origin(target))
      outgoing.erase(std::remove_if(outgoing.begin(), outgoing.end(),
                                    [](const auto& h) { return is_credential(h.first); }),
                     outgoing.end());

    Slist list;
    for (const auto& [name, value] : outgoing) {
      // "Name;" is curl's spelling of a header sent with an empty value.
      const std::string line = value.empty() ? name + ";" : name + ": " + value;
      curl_slist* appended = curl_slist_append(list.get(), line.c_str());
      if (appended == nullptr) return finish(OriginError::protocol, "out of memory building request headers");
      list.release();
      list.reset(appended);
    }
    header_list = std::move(list);

    hop = std::make_unique<Hop>();
    hop->handler = &handler;
    hop->request = &request;
    hop->policy = &impl.options.address_policy;
    hop->networks_apply = match == OriginClient::Impl::Match::named;
    head_deadline = Clock::now() + impl.options.first_byte_timeout;
    impl.configure(easy, error_buffer, *hop, url.get(), header_list.get(), total_deadline);
    return std::nullopt;
  }

  // The deadlines curl does not enforce itself for this hop (its response
  // head's; the total one too, for a paused transfer): true, with the hop
  // failed, once one has passed.
  bool expired(Clock::time_point now) {
    if (!hop->head_complete && now >= head_deadline) {
      hop->fail(OriginError::timeout, "no response head from origin " + target.where() + " within " +
                                          std::to_string(impl.options.first_byte_timeout.count()) + " ms");
      return true;
    }
    if (now >= total_deadline) {
      hop->fail(OriginError::timeout, "origin " + target.where() + " did not complete within the total timeout of " +
                                          std::to_string(impl.options.total_timeout.count()) + " ms");
      return true;
    }
    return false;
  }

  // The hop's handle has left the multi, with curl's result or (nullopt)
  // taken out early. The fetch's result, or nullopt when a redirect's hop is
  // ready to run.
  std::optional<OriginResult> hop_done(std::optional<CURLcode> code) {
    Hop& h = *hop;
    if (h.error == OriginError::none) {
      if (!code) {
        h.fail(OriginError::protocol, "origin " + target.where() + ": transfer ended without a result");
      } else if (*code == CURLE_OK || (h.redirect && h.redirect_cut)) {
        if (!h.head_delivered && !h.redirect)
          h.fail(OriginError::incomplete, "origin " + target.where() + " sent no response head");
      } else {
        impl.classify_failure(easy, error_buffer, h, target, *code);
      }
    }
    result.head_delivered = h.head_delivered;
    result.body_bytes = h.body_bytes;
    result.told = h.told;
    if (h.error != OriginError::none) return finish(h.error, h.message, h.client_message);
    if (!h.redirect) return finish(OriginError::none, "");
    if (redirects >= impl.options.max_redirects)
      return finish(OriginError::too_many_redirects, "origin " + target.where() + " redirected more than " +
                                                         std::to_string(impl.options.max_redirects) + " times");
    // Setting a relative reference on the current URL resolves it (RFC 3986).
    if (curl_url_set(url.get(), CURLUPART_URL, h.redirect->c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
      return finish(OriginError::invalid_http, "origin " + target.where() + " redirected to a malformed URL: " +
                                                   h.redirect->substr(0, 200));
    ++redirects;
    return next_hop();
  }
};

std::optional<CURLcode> OriginClient::Impl::run_hop(Fetch& f) {
  Hop& hop = *f.hop;
  if (curl_multi_add_handle(multi, f.easy) != CURLM_OK) {
    hop.fail(OriginError::protocol, "curl_multi_add_handle failed");
    return std::nullopt;
  }
  std::optional<CURLcode> code;
  for (;;) {
    int running = 0;
    const CURLMcode mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK) {
      hop.fail(OriginError::protocol, std::string("libcurl: ") + curl_multi_strerror(mc));
      break;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued))
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == f.easy) code = msg->data.result;
    if (code || running == 0) break;
    const auto now = Clock::now();
    if (f.expired(now)) break;
    const auto next = hop.head_complete ? f.total_deadline : std::min(f.head_deadline, f.total_deadline);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    // Whatever the handler collected goes out before we sleep, so
    // batching never delays a byte past the next wait for the origin.
    if (hop.head_delivered && hop.handler) {
      try {
        hop.handler->on_wait();
      } catch (...) {
        hop.fail_internal();
        break;
      }
    }
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(std::clamp<long long>(wait, 1, 1000)), nullptr);
  }
  curl_multi_remove_handle(multi, f.easy);  // an unfinished transfer's connection is closed here
  return code;
}

OriginResult failed_fetch(OriginError error, std::string message) {
  OriginResult result;
  result.error = error;
  result.message = std::move(message);
  result.client_message = client_text(error);
  return result;
}

OriginResult OriginClient::Impl::fetch(const OriginRequest& request, OriginHandler& handler) {
  Fetch f(*this, request, handler, handle);
  auto result = f.begin();
  while (!result) result = f.hop_done(run_hop(f));
  return *result;
}

OriginClient::OriginClient(OriginOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
OriginClient::~OriginClient() = default;

OriginResult OriginClient::fetch(const OriginRequest& request, OriginHandler& handler) {
  return impl_->fetch(request, handler);
}

bool OriginClient::host_allowed(std::string_view host, int port) const { return impl_->host_allowed(host, port); }

struct OriginTransfer::State {
  State(const OriginClient::Impl& impl, OriginRequest r, OriginHandler& handler)
      : request(std::move(r)), fetch(impl, request, handler, handle) {}
  OriginRequest request;
  EasyHandle handle;
  Fetch fetch;
};

OriginTransfer::OriginTransfer(const OriginClient& client, OriginRequest request, OriginHandler& handler)
    : state_(std::make_unique<State>(*client.impl_, std::move(request), handler)) {}
OriginTransfer::~OriginTransfer() = default;

std::optional<OriginResult> OriginTransfer::start() { return state_->fetch.begin(); }
void* OriginTransfer::easy_handle() const { return state_->handle.easy; }
std::optional<OriginResult> OriginTransfer::hop_done(int curl_code) {
  return state_->fetch.hop_done(static_cast<CURLcode>(curl_code));
}
bool OriginTransfer::expired(std::chrono::steady_clock::time_point now) { return state_->fetch.expired(now); }
OriginResult OriginTransfer::abandoned(OriginError error, std::string why) {
  Hop& hop = *state_->fetch.hop;
  hop.fail(error, std::move(why));
  return *state_->fetch.hop_done(std::nullopt);
}

}  // namespace dashpiff
