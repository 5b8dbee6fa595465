// On-demand Representations (SegmentBase + sidx, ISO/IEC 23009-1 §5.3.9.2)
// made addressable per subsegment: the rewrite reads each file's index
// through MpdRewriteOptions::fetch_index and replaces the SegmentBase with a
// SegmentList (Initialization, SegmentTimeline, one SegmentURL per sidx
// reference) whose URLs carry the byte range in the path:
// /media/{first}-{last}/{enc(base)}/{file}. Every answer for such a URL is a
// whole fragment (or init segment) the proxy can convert, where a Range
// request into the origin's file could only get size-preserving changes.
// Internal to the rewriter.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <xercesc/dom/DOM.hpp>

#include "mpd/rewriter.h"

namespace dashpiff::mpd {

struct OnDemandTarget {
  xercesc::DOMElement* representation = nullptr;
  std::string file_url;  // the absolute origin URL its addresses resolve to (without the carried query)
};

struct OnDemandOutcome {
  unsigned expanded = 0;  // Representations given a SegmentList
  unsigned kept = 0;      // on-demand Representations left as they were
  unsigned urls = 0;      // URLs written
  std::string reason;     // why the first kept one was kept
};

// Every Representation the rewrite walked, in document order; those that are
// not on-demand (no SegmentBase, or a SegmentList/SegmentTemplate at some
// level) are left alone and not counted. A Representation whose index cannot
// be fetched, parsed or expressed keeps its SegmentBase as the origin wrote
// it (one inherited from an AdaptationSet or Period is copied into it when
// that one is removed for its expanded siblings).
OnDemandOutcome expand_on_demand(const std::vector<OnDemandTarget>& targets, const MpdRewriteOptions& options,
                                 const XMLCh* ns, std::string_view carried_query);

}  // namespace dashpiff::mpd
