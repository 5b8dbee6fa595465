// Rewrites a DASH MPD so that every media, manifest and remote-element URL the
// player will request comes back through the proxy. Xerces-C DOM; knows
// nothing of HTTP or FastCGI.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "http/byte_span.h"
#include "mpd/error.h"
#include "mpd/prescan.h"

namespace dashpiff {

struct MpdRewriteOptions {
  std::string manifest_url;    // absolute origin URL of the MPD, without query
  std::string manifest_query;  // origin query string (without '?'), may be empty
  bool carry_query = true;     // token-mode=pass: the query rides inside every encoded base
  std::string media_prefix = "/media/";  // followed by enc(base) + "/"
  std::string mpd_prefix = "/mpd/";      // followed by enc(url)
  // "scheme://host[:port]" the player reaches the proxy at: an xlink:href is
  // written absolute with it, since dash.js (XlinkController) fetches a
  // remote element only from an absolute http(s) href (any other it joins
  // to the element's BaseURL object: "undefined/mpd/..."). Empty: the
  // path-absolute /mpd/ form, which Shaka resolves and dash.js cannot.
  std::string public_base;
  bool add_cenc_protection = false;      // piff-mode=convert: add the mp4protection descriptor
  std::size_t max_bytes = 16u << 20;
  std::size_t max_entity_expansions = 10000;
  XmlLimits limits;  // the document's shape, checked before Xerces-C sees it

  // On-demand Representations (SegmentBase + sidx, README "On-demand DASH"):
  // given a way to read an index range of a file (exactly those bytes, or
  // nullopt with the reason), each one becomes a SegmentList whose
  // Initialization and SegmentURLs name a /media/{first}-{last}/ URL per
  // subsegment, so that every answer is a whole object the proxy can
  // convert. Unset: SegmentBase is rewritten like any other address.
  // `time_left`: the read must end within it (what is left of
  // index_time_budget).
  using IndexFetcher = std::function<std::optional<std::string>(
      const std::string& url, const ByteSpan& range, std::chrono::milliseconds time_left, std::string& error)>;
  IndexFetcher fetch_index;
  std::uint64_t max_index_bytes = 1u << 20;    // a sidx of 65535 references is 786 KB
  // All Representations of the MPD together. Each listed subsegment costs
  // the rewrite about 1.9 KB at its peak (DOM nodes, attribute strings, the
  // serialised copy): 20,000 measured +38 MiB of worker peak, within issue
  // #12's 64 MiB per request; a two-hour film of five Representations cut
  // every 2.5 s fits.
  std::size_t max_subsegments = 20000;
  // Index reads are made one after another while the player waits for the
  // MPD: at most this many per rewrite, and all of them within the budget
  // (each read is given what is left of it, so a stalling origin costs the
  // request the budget, not an origin timeout per Representation); the
  // Representations beyond are kept as they were.
  std::size_t max_index_reads = 64;
  std::chrono::milliseconds index_read_budget{10000};
};

struct MpdRewriteResult {
  std::string xml;
  unsigned urls_rewritten = 0;
  // What the document is, whatever type the origin gave it:
  // application/dash+xml (an MPD), application/dash-patch+xml (an MPD patch);
  // empty for remote elements, which keep the origin's type.
  std::string content_type;
  // On-demand Representations given a SegmentList, and those left as the
  // origin wrote them (their index could not be read or expanded; the first
  // reason says why).
  unsigned on_demand_expanded = 0;
  unsigned on_demand_kept = 0;
  std::string on_demand_reason;
  // An xlink:href was written with MpdRewriteOptions::public_base: the
  // bytes depend on the proxy address the request came by.
  bool names_the_proxy = false;
};

// Recognised by content type (application/dash+xml, application/dash-patch+xml)
// or, for the generic types origins use, by an MPD, Patch or remote element
// root element near the start of the body.
bool looks_like_mpd(std::string_view content_type, std::string_view body_start);

// Throws MpdError. Deterministic: the same input and options give the same bytes.
MpdRewriteResult rewrite_mpd(std::string_view xml, const MpdRewriteOptions& options);

// Once per process, before threads start (Xerces-C's platform init is not
// thread-safe). RAII.
class XercesGlobal {
 public:
  XercesGlobal();
  ~XercesGlobal();
  XercesGlobal(const XercesGlobal&) = delete;
  XercesGlobal& operator=(const XercesGlobal&) = delete;
};

}  // namespace dashpiff
