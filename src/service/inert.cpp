#include "service/inert.h"

#include <string>

#include "util/strings.h"

namespace dashpiff {

bool is_active_type(std::string_view content_type) {
  // The media type is what comes before any parameter (RFC 9110 §8.3.1).
  std::string type = ascii_lower(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.erase(0, 1);
  if (type == "application/dash+xml" || type == "application/dash-patch+xml") return false;
  static constexpr std::string_view kActive[] = {
      "text/html",          "application/xhtml+xml",   "image/svg+xml",       "text/xml",
      "application/xml",    "text/xsl",                "application/xslt+xml", "text/javascript",
      "application/javascript", "application/x-javascript", "text/ecmascript", "application/ecmascript",
      "text/jscript",       "text/vbscript",           "application/pdf",     "multipart/x-mixed-replace",
      "application/x-shockwave-flash", "text/x-component"};
  for (auto active : kActive)
    if (type == active) return true;
  // Any other XML type renders as an XML document, whose XHTML elements run.
  constexpr std::string_view kXml = "+xml";
  return type.size() > kXml.size() && type.compare(type.size() - kXml.size(), kXml.size(), kXml) == 0;
}

void make_inert(Headers& headers) {
  const std::string* type = find_header(headers, "Content-Type");
  if (type == nullptr)
    set_header(headers, "Content-Type", "application/octet-stream");
  else if (is_active_type(*type))
    set_header(headers, "Content-Type", "text/plain");
  set_header(headers, "Content-Security-Policy", std::string(kProxiedBodyPolicy));
}

}  // namespace dashpiff
