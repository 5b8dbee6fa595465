// The proxy's URL codec (SPEC §2): a whole URL becomes one path segment, with
// '!' as the escape character, because gateways that decode %2F would split a
// percent-encoded URL into several segments.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dashpiff {

std::string encode_url(std::string_view url);

// Single left-to-right scan. A dangling '!' or an unknown code character is
// malformed: nullopt, never a guess.
std::optional<std::string> decode_url(std::string_view encoded);

}  // namespace dashpiff
