#include "http/message.h"

#include <algorithm>
#include <cctype>

namespace dashpiff {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

const std::string* find_header(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return &v;
  return nullptr;
}

void remove_header(Headers& headers, std::string_view name) {
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [&](const auto& h) { return iequals(h.first, name); }),
                headers.end());
}

void set_header(Headers& headers, std::string name, std::string value) {
  remove_header(headers, name);
  headers.emplace_back(std::move(name), std::move(value));
}

bool is_hop_by_hop(std::string_view name, const Headers& message_headers) {
  static constexpr std::string_view kFixed[] = {"connection", "keep-alive", "te",
                                                "trailer", "transfer-encoding", "upgrade"};
  for (auto h : kFixed)
    if (iequals(name, h)) return true;
  if (name.size() >= 6 && iequals(name.substr(0, 6), "proxy-")) return true;
  for (const auto& [k, v] : message_headers) {
    if (!iequals(k, "connection")) continue;
    std::string_view list = v;
    while (!list.empty()) {
      const auto comma = list.find(',');
      auto token = list.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
      if (iequals(token, name)) return true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return false;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

}  // namespace dashpiff
