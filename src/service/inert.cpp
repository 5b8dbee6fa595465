#include "service/inert.h"

#include <string>

#include "util/strings.h"

namespace dashpiff {
namespace {

std::string_view trim_space(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The lowercased "type/subtype" of one media type, or empty when it is not
// one (RFC 9110 §8.3.1: token "/" token, then parameters).
std::string essence(std::string_view media_type) {
  const auto type = trim_space(media_type.substr(0, media_type.find(';')));
  const auto slash = type.find('/');
  if (slash == std::string_view::npos || !is_http_token(type.substr(0, slash)) ||
      !is_http_token(type.substr(slash + 1)) || type == "*/*")  // */* is no type to a browser either
    return {};
  return ascii_lower(type);
}

// Calls `each` with every member of a comma-separated header value; a comma
// inside a quoted string (codecs="avc1.64001f, mp4a.40.2") separates nothing
// (Fetch §2.2.2 "get, decode, and split").
template <class Each>
void for_each_member(std::string_view list, const Each& each) {
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= list.size(); ++i) {
    if (i == list.size() || (list[i] == ',' && !quoted)) {
      each(list.substr(start, i - start));
      start = i + 1;
    } else if (list[i] == '"') {
      quoted = !quoted;
    } else if (list[i] == '\\' && quoted) {
      ++i;
    }
  }
}

}  // namespace

bool is_active_type(std::string_view content_type) {
  const std::string type = essence(content_type);
  if (type == "application/dash+xml" || type == "application/dash-patch+xml") return false;
  // The JavaScript MIME type essences of WHATWG MIME Sniffing §4.6, then the
  // other types a browser runs or renders as a document.
  static constexpr std::string_view kActive[] = {
      "application/ecmascript", "application/javascript", "application/x-ecmascript",
      "application/x-javascript", "text/ecmascript", "text/javascript", "text/javascript1.0",
      "text/javascript1.1", "text/javascript1.2", "text/javascript1.3", "text/javascript1.4",
      "text/javascript1.5", "text/jscript", "text/livescript", "text/x-ecmascript", "text/x-javascript",
      "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "text/xsl",
      "application/xslt+xml", "application/xml-dtd", "text/xml-external-parsed-entity",
      "application/xml-external-parsed-entity", "text/vbscript", "application/pdf", "multipart/x-mixed-replace",
      "application/x-shockwave-flash", "text/x-component"};
  for (auto active : kActive)
    if (type == active) return true;
  // Any other XML type renders as an XML document, whose XHTML elements run.
  constexpr std::string_view kXml = "+xml";
  return type.size() > kXml.size() && type.compare(type.size() - kXml.size(), kXml.size(), kXml) == 0;
}

void make_inert(Headers& headers) {
  // A browser reads every Content-Type line, joined, as a list and takes the
  // last type in it that parses (Fetch §3.1.4 "extract a MIME type"), so
  // "video/mp4" then "text/html", or "text/plain, text/html", is HTML there.
  // Each member is judged; a list, an empty or unparseable type is not
  // passed on (a browser might sniff it).
  int lines = 0, members = 0;
  bool active = false, valid = true;
  for (const auto& [name, value] : headers) {
    if (!iequals(name, "Content-Type")) continue;
    ++lines;
    for_each_member(value, [&](std::string_view member) {
      if (trim_space(member).empty()) return;
      ++members;
      active = active || is_active_type(member);
      valid = valid && !essence(member).empty();
    });
  }
  if (active)
    set_header(headers, "Content-Type", "text/plain");
  else if (lines != 1 || members != 1 || !valid)
    set_header(headers, "Content-Type", "application/octet-stream");
  set_header(headers, "Content-Security-Policy", std::string(kProxiedBodyPolicy));
}

}  // namespace dashpiff
