#include "http/byte_span.h"

namespace dashpiff {

namespace {

std::optional<std::uint64_t> decimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');  // 19 digits fit 64 bits
  }
  if (v > kMaxBytePosition) return std::nullopt;
  return v;
}

}  // namespace

std::optional<ByteSpan> parse_byte_span(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto first = decimal(text.substr(0, dash));
  const auto last = decimal(text.substr(dash + 1));
  if (!first || !last || *first > *last) return std::nullopt;
  return ByteSpan{*first, *last};
}

std::string byte_span_text(const ByteSpan& span) {
  return std::to_string(span.first) + "-" + std::to_string(span.last);
}

bool looks_like_byte_span(std::string_view segment) {
  return !segment.empty() && segment.find_first_not_of("0123456789-") == std::string_view::npos;
}

}  // namespace dashpiff
