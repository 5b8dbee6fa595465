#include "mpd/on_demand.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <utility>

#include "http/byte_span.h"
#include "mpd/dom.h"
#include "mpd/segment_index.h"
#include "mpd/urls.h"

namespace dashpiff::mpd {

using namespace xercesc;

namespace {

// By local name whatever the namespace, as players read them (and as the
// rewriter walks, rewriter.cpp is_dash).
DOMElement* child_named(const DOMElement* parent, std::u16string_view name) {
  for (DOMElement* c = first_child_element(parent); c; c = next_sibling_element(c))
    if (has_local_name(c, name)) return c;
  return nullptr;
}

DOMElement* parent_element(const DOMElement* e) {
  DOMNode* p = e ? e->getParentNode() : nullptr;
  return p && p->getNodeType() == DOMNode::ELEMENT_NODE ? static_cast<DOMElement*>(p) : nullptr;
}

// The SegmentBase elements a Representation inherits from (§5.3.9.1: the
// nearest level's attributes win), Representation first, then AdaptationSet,
// then Period.
struct Chain {
  std::vector<DOMElement*> bases;
  bool other_addressing = false;  // a SegmentList or SegmentTemplate at one of the levels
};

Chain chain_of(DOMElement* rep) {
  Chain c;
  DOMElement* level = rep;
  for (int i = 0; i < 3 && level; ++i, level = parent_element(level)) {
    if (child_named(level, u"SegmentList") || child_named(level, u"SegmentTemplate"))
      c.other_addressing = true;
    if (DOMElement* sb = child_named(level, u"SegmentBase")) c.bases.push_back(sb);
  }
  return c;
}

// The SegmentBase a Representation sees once the levels are merged.
struct Merged {
  std::vector<std::pair<std::u16string, std::u16string>> attributes;  // unprefixed, nearest level's value
  DOMElement* initialization = nullptr;
  DOMElement* representation_index = nullptr;

  const std::u16string* find(std::u16string_view name) const {
    for (const auto& [k, v] : attributes)
      if (k == name) return &v;
    return nullptr;
  }
  std::string text(std::u16string_view name) const {
    const auto* v = find(name);
    return v ? std::string(trim_ws(to_utf8(v->c_str()))) : std::string();
  }
};

Merged merge(const Chain& chain) {
  Merged m;
  for (DOMElement* sb : chain.bases) {
    DOMNamedNodeMap* attrs = sb->getAttributes();
    for (XMLSize_t i = 0; attrs && i < attrs->getLength(); ++i) {
      const DOMNode* a = attrs->item(i);
      if (a->getNamespaceURI()) continue;  // xmlns and foreign attributes are not SegmentBase's
      const XMLCh* local = a->getLocalName() ? a->getLocalName() : a->getNodeName();
      if (!m.find(local)) m.attributes.emplace_back(local, a->getNodeValue());
    }
    if (!m.initialization) m.initialization = child_named(sb, u"Initialization");
    if (!m.representation_index) m.representation_index = child_named(sb, u"RepresentationIndex");
  }
  return m;
}

std::optional<std::uint64_t> unsigned_value(const std::string& s) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(s);
}

// v * to / from, when that is a whole number that fits.
std::optional<std::uint64_t> rescale(std::uint64_t v, std::uint64_t from, std::uint64_t to) {
  if (from == to || v == 0) return v;
  const unsigned __int128 x = static_cast<unsigned __int128>(v) * to;
  if (x % from != 0 || x / from > kMaxBytePosition) return std::nullopt;
  return static_cast<std::uint64_t>(x / from);
}

// The whitespace before `e` when it starts a line ("\n\t\t\t"), else "\n".
std::u16string indent_of(const DOMElement* e) {
  const DOMNode* before = e->getPreviousSibling();
  if (before && before->getNodeType() == DOMNode::TEXT_NODE) {
    const std::u16string text(before->getNodeValue());
    const auto nl = text.rfind(u'\n');
    if (nl != std::u16string::npos && text.find_first_not_of(u" \t\r\n") == std::u16string::npos)
      return text.substr(nl);
  }
  return u"\n";
}

class Expander {
 public:
  Expander(const MpdRewriteOptions& options, const XMLCh* ns, std::string_view carried)
      : options_(options), ns_(ns), carried_(carried), budget_(options.max_subsegments) {}

  // The SegmentList for `rep`, or why there is none.
  std::pair<DOMElement*, std::string> build(DOMElement* rep, const Merged& m, const std::string& file_url) {
    const std::string index_text = m.text(u"indexRange");
    if (index_text.empty()) return fail("no @indexRange");
    const auto index = parse_byte_span(index_text);
    if (!index) return fail("@indexRange '" + index_text.substr(0, 40) + "' is not first-last");
    if (m.representation_index) return fail("the index is in another file (RepresentationIndex)");
    ByteSpan init{};
    if (m.initialization) {
      if (m.initialization->getAttributeNode(u"sourceURL"))
        return fail("the init segment is in another file (Initialization@sourceURL)");
      const std::string range = std::string(trim_ws(to_utf8(m.initialization->getAttribute(u"range"))));
      const auto span = parse_byte_span(range);
      if (!span) return fail("Initialization@range '" + range.substr(0, 40) + "' is not first-last");
      init = *span;
    } else {
      if (index->first == 0) return fail("no Initialization, and the index starts the file");
      init = ByteSpan{0, index->first - 1};
    }
    const auto cut = cut_url(file_url, false);
    if (!cut) return fail("the file URL is not fetchable");
    const bool exact = m.text(u"indexRangeExact") == "true";
    std::string sb_timescale_text = m.text(u"timescale");
    const auto sb_timescale = sb_timescale_text.empty() ? std::optional<std::uint64_t>(1) : unsigned_value(sb_timescale_text);
    if (!sb_timescale || *sb_timescale == 0 || *sb_timescale > 0xffffffffu) return fail("@timescale is not a positive 32-bit number");

    std::string fetch_url = file_url;
    if (!carried_.empty()) fetch_url += (fetch_url.find('?') == std::string::npos ? "?" : "&") + std::string(carried_);
    IndexRead read = fetch_and_read(fetch_url, *index);
    if (!read.index && read.needed && !exact && read.needed <= options_.max_index_bytes &&
        read.needed <= kMaxBytePosition - index->first) {
      // §5.3.9.2: without indexRangeExact the range may stop short of the
      // whole sidx; its header said how long it is.
      read = fetch_and_read(fetch_url, ByteSpan{index->first, index->first + read.needed - 1});
    }
    if (!read.index) return fail(read.error);
    const SegmentIndex& sidx = *read.index;

    // Times of the SegmentBase (presentationTimeOffset, presentationDuration)
    // are in its @timescale; the list's are in the sidx's.
    std::vector<std::pair<std::u16string, std::string>> times;
    for (const char16_t* name : {u"presentationTimeOffset", u"presentationDuration"}) {
      const std::string v = m.text(name);
      if (v.empty()) continue;
      const auto parsed = unsigned_value(v);
      const auto scaled = parsed ? rescale(*parsed, *sb_timescale, sidx.timescale) : std::nullopt;
      if (!scaled) return fail(to_utf8(reinterpret_cast<const XMLCh*>(name)) + " is not expressible in the sidx timescale");
      times.emplace_back(name, std::to_string(*scaled));
    }
    if (sidx.subsegments.size() > budget_) return fail("more subsegments than the MPD may list");
    budget_ -= sidx.subsegments.size();

    DOMDocument* doc = rep->getOwnerDocument();
    const std::u16string in_rep = indent_of(rep) + u"\t";
    const std::u16string in_list = in_rep + u"\t";
    const std::u16string in_timeline = in_list + u"\t";
    DOMElement* list = create(doc, rep, u"SegmentList");
    for (const auto& [k, v] : m.attributes) {
      // Not the list's (indexRange*) or rewritten below (the times).
      if (k == u"indexRange" || k == u"indexRangeExact" || k == u"timescale" || k == u"presentationTimeOffset" ||
          k == u"presentationDuration" || k == u"eptDelta" || k == u"pdDelta")
        continue;
      list->setAttribute(k.c_str(), v.c_str());
    }
    list->setAttribute(u"timescale", to_xml(std::to_string(sidx.timescale)).c_str());
    for (const auto& [k, v] : times) list->setAttribute(k.c_str(), to_xml(v).c_str());

    DOMElement* init_element = create(doc, rep, u"Initialization");
    init_element->setAttribute(u"sourceURL", to_xml(url_of(*cut, init)).c_str());
    append(list, init_element, in_list);
    DOMElement* timeline = create(doc, rep, u"SegmentTimeline");
    // One S per subsegment, never a repeat count: dash.js (5.2) takes a
    // SegmentList's URL by the index of the S element, so with @r every
    // repeat would fetch the first subsegment of the run.
    for (std::size_t i = 0; i < sidx.subsegments.size(); ++i) {
      DOMElement* s = create(doc, rep, u"S");
      if (i == 0) s->setAttribute(u"t", to_xml(std::to_string(sidx.earliest_presentation_time)).c_str());
      s->setAttribute(u"d", to_xml(std::to_string(sidx.subsegments[i].duration)).c_str());
      append(timeline, s, in_timeline);
    }
    timeline->appendChild(doc->createTextNode(in_list.c_str()));
    append(list, timeline, in_list);
    for (const Subsegment& sub : sidx.subsegments) {
      DOMElement* url = create(doc, rep, u"SegmentURL");
      url->setAttribute(u"media", to_xml(url_of(*cut, sub.bytes)).c_str());
      append(list, url, in_list);
    }
    list->appendChild(doc->createTextNode(in_rep.c_str()));
    urls_ += 1 + static_cast<unsigned>(sidx.subsegments.size());
    return {list, std::string()};
  }

  unsigned urls() const { return urls_; }

 private:
  static std::pair<DOMElement*, std::string> fail(std::string why) { return {nullptr, std::move(why)}; }

  IndexRead fetch_and_read(const std::string& url, const ByteSpan& range) {
    if (reads_ == 0) started_ = std::chrono::steady_clock::now();
    // What is left of the budget bounds this read too (rewriter.h).
    const auto left = options_.index_read_budget - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       std::chrono::steady_clock::now() - started_);
    if (reads_ >= options_.max_index_reads || left.count() <= 0) {
      IndexRead r;
      r.error = "index reads of this MPD at their bound (" + std::to_string(options_.max_index_reads) + " reads, " +
                std::to_string(options_.index_read_budget.count()) + " ms)";
      return r;
    }
    ++reads_;
    if (range.size() > options_.max_index_bytes) {
      IndexRead r;
      r.error = "index range of " + std::to_string(range.size()) + " bytes exceeds " +
                std::to_string(options_.max_index_bytes);
      return r;
    }
    std::string error;
    std::optional<std::string> bytes;
    try {
      bytes = options_.fetch_index(url, range, left, error);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!bytes) {
      IndexRead r;
      r.error = "index not read: " + (error.empty() ? std::string("no answer") : error);
      return r;
    }
    if (bytes->size() != range.size()) {
      IndexRead r;
      r.error = "index read gave " + std::to_string(bytes->size()) + " bytes for a range of " + std::to_string(range.size());
      return r;
    }
    IndexRead r = read_segment_index(reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size(), range.first,
                                     std::min(kMaxSubsegments, budget_));
    if (!r.index && r.error.rfind("sidx", 0) != 0 && r.error.rfind("index", 0) != 0) r.error = "sidx: " + r.error;
    return r;
  }

  std::string url_of(const CutUrl& cut, const ByteSpan& span) const {
    const std::string prefix = options_.media_prefix + byte_span_text(span) + "/";
    return media_form(prefix, cut.origin, cut.dir, carried_, cut.rest);
  }

  DOMElement* create(DOMDocument* doc, const DOMElement* like, const char16_t* local) const {
    const XMLCh* prefix = like->getPrefix();
    const std::u16string name = prefix ? std::u16string(prefix) + u":" + local : std::u16string(local);
    return doc->createElementNS(ns_, name.c_str());
  }

  static void append(DOMElement* parent, DOMElement* child, const std::u16string& indent) {
    parent->appendChild(parent->getOwnerDocument()->createTextNode(indent.c_str()));
    parent->appendChild(child);
  }

  const MpdRewriteOptions& options_;
  const XMLCh* ns_;
  std::string_view carried_;
  std::size_t budget_;
  unsigned urls_ = 0;
  std::size_t reads_ = 0;
  std::chrono::steady_clock::time_point started_;
};

// Appends `e` as the last child of `parent`, on a line of its own.
void append_indented(DOMElement* parent, DOMElement* e) {
  DOMNode* last = parent->getLastChild();
  const bool closing_ws = last && last->getNodeType() == DOMNode::TEXT_NODE &&
                          trim_ws(to_utf8(last->getNodeValue())).empty();
  DOMDocument* doc = parent->getOwnerDocument();
  DOMNode* at = closing_ws ? last : nullptr;
  parent->insertBefore(doc->createTextNode((indent_of(parent) + u"\t").c_str()), at);
  parent->insertBefore(e, at);
  if (!closing_ws) parent->appendChild(doc->createTextNode(indent_of(parent).c_str()));
}

// Gives `rep` a SegmentBase of its own that says what `m` says.
void materialise(DOMElement* rep, const Chain& chain, const Merged& m, const XMLCh* ns) {
  DOMElement* own = !chain.bases.empty() && parent_element(chain.bases.front()) == rep ? chain.bases.front() : nullptr;
  if (!own) {
    const XMLCh* prefix = rep->getPrefix();
    const std::u16string name = prefix ? std::u16string(prefix) + u":SegmentBase" : std::u16string(u"SegmentBase");
    own = rep->getOwnerDocument()->createElementNS(ns, name.c_str());
    append_indented(rep, own);
  }
  for (const auto& [k, v] : m.attributes)
    if (!own->getAttributeNode(k.c_str())) own->setAttribute(k.c_str(), v.c_str());
  if (m.initialization && parent_element(m.initialization) != own && !child_named(own, u"Initialization"))
    own->insertBefore(m.initialization->cloneNode(true), own->getFirstChild());
  if (m.representation_index && parent_element(m.representation_index) != own &&
      !child_named(own, u"RepresentationIndex"))
    own->appendChild(m.representation_index->cloneNode(true));
}

}  // namespace

OnDemandOutcome expand_on_demand(const std::vector<OnDemandTarget>& targets, const MpdRewriteOptions& options,
                                 const XMLCh* ns, std::string_view carried_query) {
  OnDemandOutcome out;
  if (!options.fetch_index) return out;
  struct Entry {
    const OnDemandTarget* target;
    Chain chain;
    Merged merged;
    bool expanded = false;
  };
  std::vector<Entry> entries;
  std::set<DOMElement*> blocked;  // inherited SegmentBases also seen by otherwise addressed Representations
  for (const OnDemandTarget& t : targets) {
    Chain chain = chain_of(t.representation);
    if (chain.bases.empty()) continue;
    if (chain.other_addressing) {
      for (DOMElement* sb : chain.bases)
        if (parent_element(sb) != t.representation) blocked.insert(sb);
      continue;
    }
    Merged merged = merge(chain);
    entries.push_back(Entry{&t, std::move(chain), std::move(merged)});
  }

  Expander expander(options, ns, carried_query);
  auto keep = [&](const std::string& why) {
    ++out.kept;
    if (out.reason.empty()) out.reason = why;
  };
  std::set<DOMElement*> lifted;  // inherited SegmentBases an expanded Representation no longer needs
  for (Entry& e : entries) {
    DOMElement* rep = e.target->representation;
    if (std::any_of(e.chain.bases.begin(), e.chain.bases.end(), [&](DOMElement* sb) { return blocked.count(sb); })) {
      keep("its SegmentBase is shared with Representations addressed otherwise");
      continue;
    }
    auto [list, why] = expander.build(rep, e.merged, e.target->file_url);
    if (!list) {
      keep(why);
      continue;
    }
    DOMElement* own = parent_element(e.chain.bases.front()) == rep ? e.chain.bases.front() : nullptr;
    if (own) {
      insert_indented(rep, list, own);
      remove_element(own);
    } else {
      append_indented(rep, list);
    }
    for (DOMElement* sb : e.chain.bases)
      if (sb != own) lifted.insert(sb);
    e.expanded = true;
    ++out.expanded;
  }
  // A player that finds a SegmentBase above a SegmentList may prefer it: an
  // inherited one goes once a Representation below has its list, and the
  // siblings left as they were get a copy of what they inherited.
  for (Entry& e : entries) {
    if (e.expanded) continue;
    if (std::any_of(e.chain.bases.begin(), e.chain.bases.end(), [&](DOMElement* sb) { return lifted.count(sb); }))
      materialise(e.target->representation, e.chain, e.merged, ns);
  }
  for (DOMElement* sb : lifted) remove_element(sb);
  out.urls = expander.urls();
  return out;
}

}  // namespace dashpiff::mpd
