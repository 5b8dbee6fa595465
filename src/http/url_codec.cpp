#include "http/url_codec.h"

namespace dashpiff {
namespace {

constexpr char kEscape = '!';

// Index in this table is the code digit that follows '!'.
constexpr std::string_view kCoded = ":/#~?";

}  // namespace

std::string encode_url(std::string_view url) {
  std::string out;
  out.reserve(url.size() + url.size() / 4);
  for (char c : url) {
    if (c == kEscape) {
      out += "!!";
      continue;
    }
    const auto code = kCoded.find(c);
    if (code == std::string_view::npos) {
      out += c;
    } else {
      out += kEscape;
      out += static_cast<char>('0' + code);
    }
  }
  return out;
}

std::optional<std::string> decode_url(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c != kEscape) {
      out += c;
      continue;
    }
    if (++i == encoded.size()) return std::nullopt;  // dangling escape
    const char code = encoded[i];
    if (code == kEscape) {
      out += kEscape;
    } else if (code >= '0' && static_cast<std::size_t>(code - '0') < kCoded.size()) {
      out += kCoded[static_cast<std::size_t>(code - '0')];
    } else {
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace dashpiff
