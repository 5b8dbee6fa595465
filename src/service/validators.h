// Validators and byte ranges per byte layout. One proxy URL can answer with
// the origin's own bytes or with a rewritten layout of them; a cache mixes
// stored answers with new ones by validator and range, so each layout gets a
// validator of its own (RFC 9110 §8.8, §13.1) and ranges are taken from the
// layout that is sent (RFC 9110 §14).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dashpiff {

struct EntityTag {
  bool weak = false;
  std::string opaque;  // between the quotes
  std::string str() const { return (weak ? "W/\"" : "\"") + opaque + "\""; }
};

std::optional<EntityTag> parse_entity_tag(std::string_view text);
// An If-None-Match / If-Match list; "*" comes back as one tag with opaque "*"
// and weak false. Malformed members are skipped.
std::vector<EntityTag> parse_entity_tags(std::string_view list);

// The validator of a rewritten layout: always weak (only the origin's own
// bytes get a strong one), the origin's opaque tag plus ".dashpiff-<layout>",
// so that no two layouts share one and the origin's tag can be recovered.
std::string layout_etag(const EntityTag& origin, std::string_view layout);

// The client's If-None-Match as the origin must see it: tags of `layout`
// mapped back to the origin's (weak comparison, RFC 9110 §13.1.2); every
// other tag dropped, the origin's own and "*" included: whether the client's copy of
// the origin's bytes is what would be sent now is only known once the
// answer is decided, and is checked then. Empty: send none.
std::string origin_if_none_match(std::string_view client_list, std::string_view layout);

// After the origin answered 304 to origin_if_none_match(client_list): the
// client's tag that the origin's current tag confirms, as the client sent
// it. Nullopt when the match was not made by a tag (If-Modified-Since).
std::optional<std::string> confirmed_tag(std::string_view client_list, const EntityTag* origin_current,
                                         std::string_view layout);

// RFC 9110 §14.1.2, one range of a representation of `length` bytes.
struct ByteRange {
  enum class Kind { none, satisfiable, unsatisfiable } kind = Kind::none;
  std::uint64_t first = 0, last = 0;  // inclusive
};
// Kind::none for anything but a single well-formed bytes range (several
// ranges are answered whole: a 200 is always allowed).
ByteRange parse_range(std::string_view header, std::uint64_t length);

// RFC 9110 §5.6.7: an HTTP-date in any of its three forms (IMF-fixdate,
// obsolete RFC 850 and asctime), as seconds since 1970 UTC; nullopt for
// anything else (a list, a bad date).
std::optional<std::int64_t> parse_http_date(std::string_view text);

// RFC 9110 §13.2.2 steps 1 and 2 for an answer of validators `etag` and
// `last_modified`: If-Match (strong comparison, §13.1.1; "*" holds, there is
// a current representation), else If-Unmodified-Since (§13.1.4: ignored
// when not a date or when there is no Last-Modified). The reason, when the
// precondition fails (412).
std::optional<std::string> failed_precondition(std::string_view if_match, std::string_view if_unmodified_since,
                                               const std::optional<std::string>& etag,
                                               const std::string* last_modified);

// RFC 9110 §13.1.5: If-Range holds for a strong tag equal to `current_tag`
// (strong comparison) or a date equal to `last_modified`; a weak tag never.
bool if_range_holds(std::string_view if_range, const std::optional<EntityTag>& current_tag,
                    const std::string* last_modified);

}  // namespace dashpiff
