#include "http/uri.h"
#include "util/strings.h"

#include <algorithm>
#include <cctype>

namespace dashpiff {
namespace {

bool is_scheme_char(char c, bool first) {
  const auto u = static_cast<unsigned char>(c);
  if (std::isalpha(u)) return true;
  return !first && (std::isdigit(u) || c == '+' || c == '-' || c == '.');
}

// RFC 3986 §5.2.3.
std::string merge_paths(const Uri& base, const std::string& ref_path) {
  if (base.authority && base.path.empty()) return "/" + ref_path;
  const auto slash = base.path.rfind('/');
  if (slash == std::string::npos) return ref_path;
  return base.path.substr(0, slash + 1) + ref_path;
}

}  // namespace

Uri Uri::parse(std::string_view ref) {
  Uri u;
  // Appendix B's regular expression, written out as scans.
  std::size_t pos = 0;
  const auto colon = ref.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    bool ok = true;
    for (std::size_t i = 0; i < colon && ok; ++i) ok = is_scheme_char(ref[i], i == 0);
    const auto first_delim = ref.find_first_of("/?#");
    if (ok && (first_delim == std::string_view::npos || first_delim > colon)) {
      u.scheme = ascii_lower(ref.substr(0, colon));
      pos = colon + 1;
    }
  }
  if (ref.substr(pos, 2) == "//") {
    pos += 2;
    const auto end = ref.find_first_of("/?#", pos);
    const auto stop = end == std::string_view::npos ? ref.size() : end;
    u.authority = std::string(ref.substr(pos, stop - pos));
    pos = stop;
  }
  const auto path_end = std::min(ref.find_first_of("?#", pos), ref.size());
  u.path = std::string(ref.substr(pos, path_end - pos));
  pos = path_end;
  if (pos < ref.size() && ref[pos] == '?') {
    const auto end = std::min(ref.find('#', pos), ref.size());
    u.query = std::string(ref.substr(pos + 1, end - pos - 1));
    pos = end;
  }
  if (pos < ref.size() && ref[pos] == '#') u.fragment = std::string(ref.substr(pos + 1));
  return u;
}

std::string Uri::str() const {
  std::string out;
  if (scheme) out += *scheme + ":";
  if (authority) out += "//" + *authority;
  out += path;
  if (query) out += "?" + *query;
  if (fragment) out += "#" + *fragment;
  return out;
}

std::string Uri::host() const {
  if (!authority) return {};
  std::string_view a = *authority;
  if (const auto at = a.rfind('@'); at != std::string_view::npos) a.remove_prefix(at + 1);
  if (!a.empty() && a.front() == '[') {
    const auto close = a.find(']');
    return ascii_lower(a.substr(1, close == std::string_view::npos ? a.size() - 1 : close - 1));
  }
  return ascii_lower(a.substr(0, a.find(':')));
}

bool is_http_url(const Uri& u) { return (u.scheme == "http" || u.scheme == "https") && !u.host().empty(); }

bool is_http_url(std::string_view absolute_url) { return is_http_url(Uri::parse(absolute_url)); }

int Uri::port() const {
  if (authority) {
    std::string_view a = *authority;
    if (const auto at = a.rfind('@'); at != std::string_view::npos) a.remove_prefix(at + 1);
    if (const auto close = a.rfind(']'); close != std::string_view::npos) a.remove_prefix(close + 1);
    if (const auto colon = a.rfind(':'); colon != std::string_view::npos && colon + 1 < a.size()) {
      int port = 0;
      for (char c : a.substr(colon + 1)) {
        if (!std::isdigit(static_cast<unsigned char>(c)) || port > 65535) return -1;
        port = port * 10 + (c - '0');
      }
      return port <= 65535 ? port : -1;
    }
  }
  if (scheme == "http") return 80;
  if (scheme == "https") return 443;
  return -1;
}

std::string remove_dot_segments(std::string_view in) {
  std::string input(in);
  std::string output;
  while (!input.empty()) {
    if (input.rfind("../", 0) == 0) {
      input.erase(0, 3);
    } else if (input.rfind("./", 0) == 0) {
      input.erase(0, 2);
    } else if (input.rfind("/./", 0) == 0) {
      input.erase(0, 2);
    } else if (input == "/.") {
      input = "/";
    } else if (input.rfind("/../", 0) == 0 || input == "/..") {
      input = input.size() == 3 ? "/" : input.substr(3);
      const auto slash = output.rfind('/');
      output.erase(slash == std::string::npos ? 0 : slash);
    } else if (input == "." || input == "..") {
      input.clear();
    } else {
      const auto next = input.find('/', input.front() == '/' ? 1 : 0);
      const auto n = next == std::string::npos ? input.size() : next;
      output += input.substr(0, n);
      input.erase(0, n);
    }
  }
  return output;
}

std::string resolve_uri(std::string_view base_str, std::string_view ref_str) {
  const Uri base = Uri::parse(base_str);
  const Uri ref = Uri::parse(ref_str);
  Uri t;
  if (ref.scheme) {
    t = ref;
    t.path = remove_dot_segments(ref.path);
  } else {
    if (ref.authority) {
      t.authority = ref.authority;
      t.path = remove_dot_segments(ref.path);
      t.query = ref.query;
    } else {
      if (ref.path.empty()) {
        t.path = base.path;
        t.query = ref.query ? ref.query : base.query;
      } else {
        if (ref.path.front() == '/') {
          t.path = remove_dot_segments(ref.path);
        } else {
          t.path = remove_dot_segments(merge_paths(base, ref.path));
        }
        t.query = ref.query;
      }
      t.authority = base.authority;
    }
    t.scheme = base.scheme;
  }
  t.fragment = ref.fragment;
  return t.str();
}

std::string strip_query(std::string_view url) {
  return std::string(url.substr(0, std::min(url.find_first_of("?#"), url.size())));
}

std::string directory_of(std::string_view url) {
  Uri u = Uri::parse(url);
  u.query.reset();
  u.fragment.reset();
  const auto slash = u.path.rfind('/');
  u.path = slash == std::string::npos ? "/" : u.path.substr(0, slash + 1);
  return u.str();
}

std::optional<HostPort> split_host_port(std::string_view text) {
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(0, close + 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else if (const auto colon = text.find(':');
             colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  if (host.empty()) return std::nullopt;
  HostPort out{host, 0};
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    int value = 0;
    for (char ch : port) value = value * 10 + (ch - '0');
    if (value < 1 || value > 65535) return std::nullopt;
    out.port = value;
  }
  return out;
}

}  // namespace dashpiff
