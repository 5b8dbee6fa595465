// Byte ranges named in text: an MPD's @indexRange and Initialization@range
// (ISO/IEC 23009-1 §5.3.9.2) and the range segment of an on-demand
// subsegment's proxy URL, /media/{first}-{last}/{enc(base)}/{path}. The range
// is part of the path so that a cache keys on it (a Range header would not
// be); one strict grammar for both, since the URL carries what the MPD said.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dashpiff {

// Inclusive byte positions in a file.
struct ByteSpan {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t size() const { return last - first + 1; }
};

// Positions stay below 2^63, so that any sum of two fits 64 bits.
constexpr std::uint64_t kMaxBytePosition = ~std::uint64_t{0} >> 1;

// "first-last": one to 19 decimal digits each (no sign, space or other
// character), first <= last, both at most kMaxBytePosition. Nullopt otherwise.
std::optional<ByteSpan> parse_byte_span(std::string_view text);

// "first-last", as parse_byte_span reads it.
std::string byte_span_text(const ByteSpan& span);

// Whether a /media/ path's first segment is meant as a range (only digits and
// '-'; an encoded base never is: it always holds "!0" for its scheme's ':').
// Such a segment that parse_byte_span refuses is a malformed request.
bool looks_like_byte_span(std::string_view segment);

}  // namespace dashpiff
