// Small string helpers shared by every module. ASCII only on purpose: HTTP
// header names, URL schemes and hosts, MPD attribute values compared
// case-insensitively are all ASCII by their grammars (RFC 9110 §5.1,
// RFC 3986 §3.1/§3.2.2), and a locale must never change what they mean.
#pragma once

#include <string>
#include <string_view>

namespace dashpiff {

// `s` with A-Z folded to a-z; every other byte unchanged.
std::string ascii_lower(std::string_view s);

// Text safe inside XML/HTML character data and quoted attribute values:
// & < > " ' as entity or character references (XML 1.0 §2.4, §4.1).
std::string escape_markup(std::string_view s);

// RFC 9110 §5.6.2 token (a header field name): 1*tchar.
bool is_http_token(std::string_view s);

// What the exception being handled says, for a log line: "out of memory" for
// std::bad_alloc, what() for a std::exception, "unknown exception" else. Only
// inside a catch block; never throws (the callers sit at C boundaries).
const char* current_exception_what() noexcept;

}  // namespace dashpiff
