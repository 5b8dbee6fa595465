// A small model of what a DASH player requests from an MPD, written apart
// from the rewriter so that it can judge it: BaseURL chains resolved level by
// level (RFC 3986, every alternative), template identifiers substituted with
// sample values, remote elements fetched and spliced in. And a model of what
// the proxy's router makes of /media/ and /mpd/ URLs.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mpd/rewriter.h"

namespace dashpiff::test {

struct PlayerRequest {
  enum class Kind { media, manifest };
  Kind kind;
  std::string key;  // where in the MPD it comes from: the same for the original and the rewrite
  std::string url;  // absolute
  // The query of the document (the MPD or a remote element entity) that
  // holds the absolute reference this request hangs from: what token-mode
  // pass is expected to carry along.
  std::string document_query;
  // Nothing is promised for it: resolved under a BaseURL that is not
  // http(s), or for a Representation whose @id (required, non-empty) is
  // empty or starts with '/', which turns "$RepresentationID$/x"
  // path-absolute, or whose @bandwidth (required, unsigned) is not a number,
  // or a host-dependent reference ("/p", "//h/p") under alternatives on
  // several hosts, which the rewrite pins to the first (a known limit).
  bool unchecked = false;
  // Set for a request that hangs from a relative reference which climbs
  // above the origin's root under one of the Representation's alternatives
  // and means different URLs under the others. RFC 3986 §5.2.4 stops ".." at
  // a root, a proxy URL cannot (the player's ".." would leave the encoded
  // base), so the rewrite resolves such a reference against one alternative
  // for all of them. ISO/IEC 23009-1 §5.6.5 allows that: alternative base
  // URLs hold identical Segments and a client may use the first. Reaching
  // what any alternative means is then right: these are those URLs, with the
  // query of the document each hangs from, as `url` and `document_query`
  // (one list shared by the requests of an address under every alternative).
  std::shared_ptr<const std::vector<std::pair<std::string, std::string>>> alternatives;
};

// Returns the text of the remote element entity at an absolute URL, or
// nullopt when there is none (the element then stays as it is).
using RemoteFetcher = std::function<std::optional<std::string>(const std::string& url)>;

// Every request a player could make for the MPD: segment, initialisation and
// index addresses of every Representation under every BaseURL alternative,
// the BaseURL itself where it names the media (SegmentBase), Location,
// PatchLocation and xlink:href targets. With max_requests, those of the
// whole Representations before the one that would pass it.
std::vector<PlayerRequest> player_requests(std::string_view mpd, const std::string& document_url,
                                           const RemoteFetcher& fetch = {},
                                           std::size_t max_requests = static_cast<std::size_t>(-1));

// The origin URL the router requests for a proxy URL
// (http://proxy.test/media/{enc}/{path}?q or http://proxy.test/mpd/{enc}?q),
// or nullopt when the URL does not go through the proxy or does not decode.
std::optional<std::string> origin_request_for(std::string_view proxy_url, std::string_view proxy_origin = "http://proxy.test");

// $RepresentationID$, $Bandwidth$, $Number$ (7), $Time$ (90000), $SubNumber$
// (1), with "%0N" format tags of conversion d, i, u, o, x or X, and $$, as
// Shaka and dash.js find them: left to right, a '$' that starts none is text.
std::string substitute_template(std::string_view text, std::string_view representation_id,
                                std::string_view bandwidth);

// Plays the original MPD against the origin and the rewritten one against the
// proxy, and checks that every request the rewritten MPD leads to reaches the
// origin URL the original meant (with the manifest's query added when
// options.carry_query). `remote` holds remote element entities by origin URL
// (without query); through the proxy they are rewritten with `options` too.
// `max_requests` bounds the requests played on each side (player_requests).
struct Verdict {
  std::size_t checked = 0;
  std::vector<std::string> problems;
};
Verdict compare_with_origin(std::string_view original, std::string_view rewritten, const MpdRewriteOptions& options,
                            const std::map<std::string, std::string>& remote = {},
                            std::size_t max_requests = static_cast<std::size_t>(-1));

// The URL a player uses to fetch the proxied MPD.
std::string proxy_manifest_url(const MpdRewriteOptions& options);

}  // namespace dashpiff::test
