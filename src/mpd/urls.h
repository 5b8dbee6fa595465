// URL arithmetic for the MPD rewrite: how a reference written in an MPD relates
// to the base it is resolved against, and the proxy forms the rewrite emits.
// Pure functions over strings; RFC 3986 resolution itself lives in uri.h.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "http/uri.h"

namespace dashpiff::mpd {

enum class RefKind {
  absolute,       // "http://h/p"
  network_path,   // "//h/p"
  path_absolute,  // "/p"
  relative_path,  // "p", "../p", "", "?q"
};

RefKind classify_ref(std::string_view ref);
RefKind classify_ref(const Uri& ref);

// XML Schema anyURI values may carry surrounding whitespace.
std::string_view trim_ws(std::string_view s);


// Whether resolving would change the path ("/./", "/../" and the like).
bool may_have_dot_segments(std::string_view path);
// Whether a segment of `path` is exactly "." or ".." (RFC 3986 §5.2.4
// removes those and nothing else; "..er" is a name).
bool has_dot_segment(std::string_view path);

// `ref` as a browser's player reads it against an http(s) base whose scheme
// is `base_scheme`, written as the RFC 3986 reference that resolve_uri()
// takes to the same URL. The URL Standard's basic URL parser (§4.4), which
// dash.js and Shaka use, reads some references otherwise than RFC 3986: it
// trims leading and trailing C0 controls and spaces and drops every tab and
// newline; in a special URL (http, https) it takes '\' before the query as
// '/' (relative slash, authority, path start and path states); a segment
// "%2e" (any case) is "." and ".%2e", "%2e.", "%2e%2e" are ".." (single- and
// double-dot URL path segments); and "http:x" (no "//") is relative to a
// base of the same scheme (special relative or authority state) while with
// another scheme it names host "x" (special authority slashes state). With
// `base_scheme` "" (not known) a scheme of its own always makes `ref`
// absolute. Other schemes are kept as they are: no player fetches them.
std::string browser_reading(std::string_view ref, std::string_view base_scheme);

// resolve_uri(base, browser_reading(ref, the scheme of the absolute `base`)).
std::string resolve_as_browser(std::string_view base, std::string_view ref);

// The most directory levels a relative path reference climbs above its base
// directory at any point while it is resolved ("../a/../../b" -> 2, "a/b" -> 0).
// Only the path counts; a query or fragment never climbs.
std::size_t climb_of(std::string_view relative_ref);

// The directory levels a relative path reference leaves its base directory
// at once resolved: "a/b/c" -> 2, "../x" -> -1, "a/.." -> 0 (RFC 3986 reading).
long dir_levels_of(std::string_view relative_ref);

// Segments in a directory path: "/" -> 0, "/a/" -> 1, "/a/b/" -> 2.
std::size_t dir_depth(std::string_view dir_path);

// The directory `levels` above `dir_path` ("/a/b/", 1 -> "/a/"). Requires
// levels <= dir_depth(dir_path).
std::string ancestor_dir(std::string_view dir_path, std::size_t levels);

// Longest common directory of two directory paths ("/a/b/", "/a/c/" -> "/a/").
std::string common_dir(std::string_view a, std::string_view b);

// An absolute http(s) URL cut where the proxy form puts the encoded base:
// `origin` is "scheme://authority", `dir` the directory path the encoded base
// ends with, `rest` what follows it (remaining path, then "?query"; the
// fragment is dropped because it never reaches a server). For segment
// templates the cut comes before the first '$' of the path, so that values
// substituted by the player land in the plain part, never inside the encoded
// one, and never first in it. nullopt for URLs the proxy cannot fetch (other
// schemes, no host).
struct CutUrl {
  std::string origin;
  std::string dir;
  std::string rest;
};
std::optional<CutUrl> cut_url(std::string_view absolute_url, bool is_template);

// "{media_prefix}{enc(origin + dir [+ '?' + carried_query])}/{rest}", with
// spaces in `rest` written "%20" (as in manifest_form).
std::string media_form(std::string_view media_prefix, std::string_view origin, std::string_view dir,
                       std::string_view carried_query, std::string_view rest);

// "{mpd_prefix}{enc(url without query)}[?query]": the query stays outside the
// encoded part, verbatim (SPEC §1) but for spaces, written "%20" as a client
// sends them. A URL without a query gets `fallback_query`.
std::string manifest_form(std::string_view mpd_prefix, std::string_view absolute_url,
                          std::string_view fallback_query);

}  // namespace dashpiff::mpd
