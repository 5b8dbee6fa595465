#include "mpd/rewriter.h"
#include "util/strings.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include <xercesc/util/PlatformUtils.hpp>
#include <xercesc/util/XMLException.hpp>

#include "mpd/dom.h"
#include "mpd/on_demand.h"
#include "mpd/prolog.h"
#include "mpd/protection.h"
#include "mpd/urls.h"
#include "http/uri.h"

namespace dashpiff {

using namespace xercesc;
using namespace mpd;

namespace {

constexpr char16_t kXlinkNs[] = u"http://www.w3.org/1999/xlink";
constexpr std::string_view kResolveToZero = "urn:mpeg:dash:resolve-to-zero:2013";
constexpr char16_t kWrapper[] = u"dashpiff-remote-elements";

// Bases at one level multiply with every alternative above; a hostile MPD
// could make that explode, real ones have a handful (3 CDNs x 2 is a lot).
// Beyond the cap the MPD is refused: a BaseURL left out of the bases would
// still be rewritten, and the relative references below would be kept
// without raising its encoded base (fuzz_mpd finding 6b5c3738).
constexpr std::size_t kMaxBases = 16;
constexpr int kNotProxied = -1;

// One possible base at some level, as the origin means it.
struct Base {
  std::string origin;  // absolute URL
  std::string dir;     // its directory path, "/a/b/"
  int anchor;          // the rewritten BaseURL it sits under, or kNotProxied
  // The MPD itself under the BaseURL the rewrite inserts: the player's base
  // there is that BaseURL, the MPD's directory (keep_empty_path).
  bool mpd_itself = false;
  // Below a remote element's unknown parent (rewrite_remote_element): the
  // directory depth of where it is fetched from, else -1.
  int unknown_root = -1;
};

// A BaseURL rewritten to the proxy form (or the one inserted under MPD).
// Relative references kept under it may climb above its own directory;
// `encoded_dir` is raised until every one of them stays inside the encoded
// base, so the player's resolution can never step out of it.
struct Anchor {
  DOMElement* element;  // nullptr: to be inserted under MPD
  CutUrl cut;           // cut.dir is the BaseURL's own directory
  std::string encoded_dir;
};

// Where an RFC 5261 patch operation puts what it carries, from its `sel`
// (an XPath of the MPD; ISO/IEC 23009-1 §5.15.3): the local names of the
// element path, predicates and prefixes dropped.
struct PatchTarget {
  std::vector<std::string> parent;  // the element new children land in
  bool text = false;                // the op replaces the text of parent.back()
};

// The steps of an operation's `sel`: predicates dropped, and element
// steps' prefixes ("p:Period" -> "Period"; "@xlink:href" keeps its own).
std::vector<std::string> sel_steps(const DOMElement* op) {
  const std::string sel = to_utf8(op->getAttribute(u"sel"));
  std::vector<std::string> steps;
  std::string step;
  int depth = 0;
  char quote = 0;
  for (char c : sel) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      if (depth > 0) quote = c;
    } else if (c == '[') {
      ++depth;
    } else if (c == ']') {
      depth = depth > 0 ? depth - 1 : 0;
    } else if (depth == 0 && c == '/') {
      if (!step.empty()) steps.push_back(std::move(step));
      step.clear();
    } else if (depth == 0) {
      step += c;
    }
  }
  if (!step.empty()) steps.push_back(std::move(step));
  for (std::string& st : steps)
    if (const auto colon = st.find(':'); colon != std::string::npos && st.front() != '@') st.erase(0, colon + 1);
  return steps;
}

std::optional<PatchTarget> patch_target(const DOMElement* op) {
  std::vector<std::string> steps = sel_steps(op);
  // An attribute's value (sel ending in @name, or an add of type @name) holds no BaseURL.
  if (steps.empty() || steps.back().front() == '@' || op->getAttribute(u"type")[0] != 0) return std::nullopt;
  PatchTarget t;
  const bool replace = has_local_name(op, u"replace");
  if (steps.back() == "text()") {
    if (!replace || steps.size() < 2) return std::nullopt;
    steps.pop_back();
    t.text = true;
  } else {
    const std::string pos = to_utf8(op->getAttribute(u"pos"));
    if (replace || pos == "before" || pos == "after") steps.pop_back();
  }
  t.parent = std::move(steps);
  return t;
}

// Whether an operation sets an attribute that is an address, or that the
// player puts into one (Representation@id, @bandwidth): sel ending in
// "@name", or an add of type "@name", prefix dropped.
bool sets_an_address(const DOMElement* op) {
  std::vector<std::string> steps = sel_steps(op);
  std::string name = to_utf8(op->getAttribute(u"type"));
  if (name.empty() && !steps.empty() && steps.back().front() == '@') {
    name = steps.back();
    steps.pop_back();
  }
  if (name.empty() || name.front() != '@') return false;
  if (const auto colon = name.find(':'); colon != std::string::npos) name.erase(1, colon);
  static constexpr std::string_view kAddresses[] = {"@media", "@initialization", "@index", "@sourceURL",
                                                    "@bitstreamSwitching", "@href"};
  for (const std::string_view a : kAddresses)
    if (name == a) return true;
  return (name == "@id" || name == "@bandwidth") && !steps.empty() && steps.back() == "Representation";
}

// The scheme of an absolute URL, lower-cased (no full parse: it is asked
// for each of a SegmentList's addresses).
std::string scheme_of(std::string_view absolute_url) {
  const auto colon = absolute_url.find(':');
  return colon == std::string_view::npos ? std::string() : ascii_lower(absolute_url.substr(0, colon));
}

std::string dir_path_of(std::string_view absolute_url) {
  const Uri u = Uri::parse(absolute_url);
  const auto slash = u.path.rfind('/');
  return slash == std::string::npos ? "/" : u.path.substr(0, slash + 1);
}

class Rewriter {
 public:
  explicit Rewriter(const MpdRewriteOptions& options)
      : options_(options),
        document_url_(options.manifest_query.empty() ? options.manifest_url
                                                     : options.manifest_url + "?" + options.manifest_query),
        carried_(options.carry_query ? options.manifest_query : std::string()) {}

  void rewrite_mpd(DOMElement* mpd) {
    ns_ = mpd->getNamespaceURI();
    std::vector<Base> bases = base_urls(mpd, {Base{document_url_, dir_path_of(document_url_), kNotProxied}}, true);
    if (bases.empty()) {
      // Segments are relative to the MPD: say so through the proxy. The
      // inserted BaseURL names the MPD's directory (players concatenating
      // naively expect a trailing '/'); the base the origin means stays the
      // MPD itself, which only references with an empty path can tell apart.
      const std::string dir = directory_of(options_.manifest_url);
      bases = {Base{document_url_, dir_path_of(dir), new_anchor(nullptr, dir), true}};
    }
    // Addresses that fetch no media are left as the origin wrote them:
    // UTCTiming@value (ISO/IEC 23009-1 UTC timing descriptor) is a clock
    // whose answer sets the player's time and names nothing (proxied, the
    // origin round trip would skew the measurement; a relative one already
    // resolves against the proxied BaseURLs, in dash.js TimeSyncController
    // and Shaka); DVB metrics Reporting@reportingUrl (ETSI TS 103 285) and
    // callback events (urn:mpeg:dash:event:callback:2015, ISO/IEC 23009-1
    // §5.10.4.5.2 per the DASH-IF event scheme registry) are requests whose
    // answers the player ignores. ContentSteering is another matter
    // (drop_content_steering).
    for (DOMElement* c = first_child_element(mpd), *next; c; c = next) {
      next = next_sibling_element(c);
      if (has_local_name(c, u"Location") || has_local_name(c, u"PatchLocation")) {
        rewrite_manifest_text(c);
      } else if (has_local_name(c, u"Period")) {
        Contexts unused;
        walk(c, bases, Level::period, unused);
      } else if (has_local_name(c, u"ContentSteering")) {
        remove_element(c);
      } else if (has_local_name(c, u"ServiceDescription")) {
        drop_content_steering(c);
      }
    }
    // After the walk: an inherited SegmentBase must stay in place until every
    // Representation below it has been seen.
    on_demand_ = expand_on_demand(on_demand_targets_, options_, ns_, carried_);
    rewritten_ += on_demand_.urls;
    finish_anchors(mpd);
    if (options_.add_cenc_protection) add_cenc_descriptors(mpd, ns_);
  }

  // Content steering (the MPD's ContentSteering element, DASH-IF CTS 001
  // "Content Steering for DASH", ISO/IEC 23009-1 5th ed.) goes: the player
  // would call the origin's steering server directly, and its answer may
  // clone a pathway onto any host (PATHWAY-CLONES: URI-REPLACEMENT HOST with
  // the proxied path, dash.js ContentSteeringController) or move the next
  // steering request elsewhere (RELOAD-URI): media off the proxy. Without
  // the element a player selects among the BaseURLs as if steering did not
  // exist (it is optional; players without steering ignore it), and
  // BaseURL@serviceLocation, kept on the proxied BaseURLs, still names
  // them. dash.js also takes the element from ServiceDescription
  // (DashManifestModel), Shaka from MPD only.
  static void drop_content_steering(DOMElement* parent) {
    for (DOMElement* c = first_child_element(parent), *next; c; c = next) {
      next = next_sibling_element(c);
      if (has_local_name(c, u"ContentSteering")) remove_element(c);
    }
  }

  // A remote element entity: its relative references resolve against the
  // BaseURLs of the MPD it is inserted into, which the player already has in
  // proxy form, so they stay as written.
  void rewrite_remote_element(DOMElement* e) {
    ns_ = e->getNamespaceURI();
    // Its relative addresses resolve against bases the player has in proxy
    // form, whose encoded part may hold the whole directory (finish_anchors):
    // one that climbs above them is refused (stays_relative). An
    // AdaptationSet's Representation@ids go into its Period's templates,
    // which the entity does not hold: each must fit any template.
    const std::string dir = dir_path_of(options_.manifest_url);
    const std::vector<Base> parent = {
        Base{options_.manifest_url, dir, kNotProxied, false, static_cast<int>(dir_depth(dir))}};
    remote_set_ = has_local_name(e, u"AdaptationSet");
    Contexts unused;
    if (has_local_name(e, u"Period")) {
      walk(e, parent, Level::period, unused);
    } else if (has_local_name(e, u"AdaptationSet")) {
      walk(e, parent, Level::adaptation_set, unused);
    } else if (has_local_name(e, u"SegmentList")) {
      segment_information(e, parent);
    } else if (has_local_name(e, u"EventStream")) {
      rewrite_xlink(e);
    }
    finish_anchors(nullptr);
    if (options_.add_cenc_protection) add_cenc_descriptors(e, ns_);
  }

  // An MPD patch (ISO/IEC 23009-1 §5.15): its add and replace operations
  // (RFC 5261, matched by local name) carry MPD elements that become part of
  // the player's MPD, so their references are rewritten exactly as the MPD's
  // own: Location, PatchLocation and ImportedMPD back through the manifest
  // route, Periods and the other remote-element kinds as remote elements.
  // BaseURLs as the MPD's own: one at the MPD level (an element added under
  // /MPD, one replacing /MPD/BaseURL, or the text of one replaced) becomes
  // an encoded base resolved against the document, as base_urls makes it.
  void rewrite_patch(DOMElement* patch) {
    for (DOMElement* op = first_child_element(patch); op; op = next_sibling_element(op)) {
      if (!has_local_name(op, u"add") && !has_local_name(op, u"replace")) continue;
      if (sets_an_address(op)) refuse_patch("sets an address attribute or a Representation@id or @bandwidth");
      // The proxied MPD carries no ContentSteering (drop_content_steering).
      for (const std::string& step : sel_steps(op))
        if (step == "ContentSteering") refuse_patch("changes ContentSteering");
      const std::optional<PatchTarget> target = patch_target(op);
      if (target && target->text) {
        const std::string& name = target->parent.back();
        if (name == "Location" || name == "PatchLocation" || name == "ImportedMPD") rewrite_manifest_text(op);
        else if (name == "BaseURL") rewrite_patch_base_url(op, target->parent.size() == 2 && target->parent.front() == "MPD");
        continue;
      }
      const bool mpd_level = target && target->parent.size() == 1 && target->parent.front() == "MPD";
      for (DOMElement* e = first_child_element(op); e; e = next_sibling_element(e)) {
        if (has_local_name(e, u"Location") || has_local_name(e, u"PatchLocation") || has_local_name(e, u"ImportedMPD"))
          rewrite_manifest_text(e);
        else if (has_local_name(e, u"BaseURL")) rewrite_patch_base_url(e, mpd_level);
        else if (is_remote_element_root(to_utf8(e->getLocalName()))) rewrite_remote_element(e);
        else if (carries_addresses(e)) refuse_patch("adds a " + to_utf8(e->getLocalName()) + " that holds addresses");
      }
    }
    finish_anchors(nullptr);
  }

  // What a patch puts into the player's MPD that this rewrite cannot give a
  // proxied form without the MPD around it: the addresses of a
  // Representation or a segment element added on its own, an address
  // attribute set, an @id or @bandwidth that templates of the MPD put into
  // addresses (check_substituted_ids), a relative BaseURL that climbs above
  // its parent's. They passed as the origin wrote them (the player went to
  // the origin's host directly). A refused patch is answered 502; the
  // player then reloads the MPD (ISO/IEC 23009-1 §5.15.2).
  [[noreturn]] static void refuse_patch(const std::string& why) {
    throw MpdError(MpdError::Kind::unrewritable, "MPD patch " + why + ", which the proxy cannot rewrite apart from its MPD");
  }

  // Whether `e` (an element a patch adds, not one of those rewritten above)
  // is or holds an element with an address, an xlink:href, or a
  // Representation whose @id or @bandwidth a template could put into one.
  static bool carries_addresses(const DOMElement* e) {
    static constexpr const char16_t* kHolders[] = {u"BaseURL", u"SegmentTemplate", u"SegmentBase", u"SegmentList",
                                                   u"SegmentURL", u"Initialization", u"RepresentationIndex",
                                                   u"BitstreamSwitching", u"Location", u"PatchLocation",
                                                   u"ContentSteering", u"ImportedMPD"};
    for (const char16_t* name : kHolders)
      if (has_local_name(e, name)) return true;
    if (e->hasAttributeNS(kXlinkNs, u"href") || odd_time(e)) return true;
    if (has_local_name(e, u"Representation") &&
        (!plain_id(to_utf8(e->getAttribute(u"id"))) ||
         (e->hasAttribute(u"bandwidth") && !plain_bandwidth(to_utf8(e->getAttribute(u"bandwidth"))))))
      return true;
    for (const DOMElement* c = first_child_element(e); c; c = next_sibling_element(c))
      if (carries_addresses(c)) return true;
    return false;
  }

  unsigned rewritten() const { return rewritten_; }
  bool names_the_proxy() const { return names_the_proxy_; }
  const OnDemandOutcome& on_demand() const { return on_demand_; }

 private:
  enum class Level { period, adaptation_set, representation };

  // Players match MPD elements by local name whatever their namespace
  // (dash.js and Shaka read a Period that re-declares the default namespace,
  // as a stitched ad Period may, or a prefixed BaseURL), so every element a
  // player could read as DASH is rewritten: one left alone would send the
  // player straight to the origin, past the proxy. ns_ is only the namespace
  // of the elements this rewriter creates.
  static bool is_dash(const DOMElement* e, std::u16string_view name) { return has_local_name(e, name); }

  static void add_base(std::vector<Base>& bases, Base base) {
    for (const Base& b : bases)
      if (b.anchor == base.anchor && b.origin == base.origin) return;
    if (bases.size() >= kMaxBases)
      throw MpdError(MpdError::Kind::unrewritable,
                     "more than " + std::to_string(kMaxBases) +
                         " BaseURL alternatives at one level (its BaseURLs times those above it)");
    bases.push_back(std::move(base));
  }

  // Where the segment addresses of every Representation below a level are
  // resolved: one entry per distinct (anchor, directory), however many
  // Representations share it. Not capped like the bases of one level: each
  // Representation adds at most kMaxBases, and lookups are hashed.
  // `leaves` keeps the same bases by Representation (its BaseURL
  // alternatives), one entry per distinct set: an address above
  // Representation level must mean one thing to each of them.
  // The Representations' @ids and @bandwidths, with their bases and
  // whether plain_id and plain_bandwidth hold (check_substituted_ids).
  struct IdUse {
    std::string id;
    std::string bandwidth;
    std::vector<Base> bases;
    bool plain;            // plain_id(id)
    bool plain_bandwidth;  // plain_bandwidth(bandwidth)
    bool remote = false;   // those of a remote AdaptationSet: not known here
  };
  using IdUses = std::vector<IdUse>;

  struct Contexts {
    std::vector<Base> list;
    std::unordered_set<std::string> seen;
    std::vector<std::vector<Base>> leaves;
    std::unordered_set<std::string> seen_leaves;
    IdUses ids;

    void add_leaf(const std::vector<Base>& bases) {
      std::string key;
      for (const Base& b : bases) key += std::to_string(b.anchor) + ' ' + b.origin + '\n';
      if (!seen_leaves.insert(std::move(key)).second) return;
      leaves.push_back(bases);
      for (const Base& b : bases)
        if (seen.insert(std::to_string(b.anchor) + ' ' + b.dir).second) list.push_back(b);
    }
  };

  // kNotProxied for URLs the proxy cannot fetch (other schemes): left as they are.
  int new_anchor(DOMElement* element, const std::string& absolute) {
    auto cut = cut_url(absolute, false);
    if (!cut) return kNotProxied;
    std::string encoded_dir = cut->dir;
    anchors_.push_back(Anchor{element, std::move(*cut), std::move(encoded_dir)});
    return static_cast<int>(anchors_.size() - 1);
  }

  // Whether the relative `ref` may stay as written under every base in
  // `contexts`: not when it climbs above the origin's root somewhere (RFC 3986
  // clamps there, the proxy form could not).
  bool stays_relative(std::string_view ref, const std::vector<Base>& contexts) const {
    if (!keep_empty_path(ref, contexts)) return false;
    const std::size_t climb = climb_of(ref);
    for (const Base& c : contexts) {
      if (c.anchor != kNotProxied && climb > dir_depth(c.dir)) return false;
      if (c.unknown_root >= 0 && static_cast<long>(climb) > static_cast<long>(dir_depth(c.dir)) - c.unknown_root)
        throw MpdError(MpdError::Kind::unrewritable,
                       "a relative address of a remote element climbs above the base of the MPD it goes into,"
                       " which the proxied form cannot follow");
    }
    return true;
  }

  // stays_relative(), and then raises the anchors `ref` climbs above.
  bool keep_relative(std::string_view ref, const std::vector<Base>& contexts) {
    if (!stays_relative(ref, contexts)) return false;
    const std::size_t climb = climb_of(ref);
    for (const Base& c : contexts) {
      if (c.anchor == kNotProxied) continue;
      Anchor& a = anchors_[static_cast<std::size_t>(c.anchor)];
      a.encoded_dir = common_dir(a.encoded_dir, ancestor_dir(c.dir, climb));
    }
    return true;
  }

  // What a reference that depends on its base's host (path-absolute, or one
  // made absolute because it climbs too far) is resolved against when there
  // are several: the first the proxy fetches from; the others can only be
  // followed through the same rewritten address. For alternatives of one
  // Representation that keeps the media right: ISO/IEC 23009-1 §5.6.5 has
  // identical Segments at every alternative and lets a client use the first;
  // what is lost is only the fallback to the others.
  static const Base& primary(const std::vector<Base>& bases) {
    for (const Base& b : bases)
      if (b.anchor != kNotProxied) return b;
    return bases.front();
  }

  // "", "?q", "#f" mean the base itself: the MPD, where the inserted
  // BaseURL says its directory. Those get an encoded base of their own. A
  // relative BaseURL kept below the inserted one is no such place: the
  // player's base there ends with that reference as the origin's does
  // (fuzz_mpd finding 31758f17: an empty BaseURL under one was pinned to
  // another alternative's meaning).
  static bool keep_empty_path(std::string_view ref, const std::vector<Base>& contexts) {
    if (!ref.empty() && ref.front() != '?' && ref.front() != '#') return true;
    for (const Base& c : contexts)
      if (c.mpd_itself) return false;
    return true;
  }

  // The bases the BaseURL children of `e` give the level below; empty when
  // there are none (the parents' then apply). At the MPD level every BaseURL becomes an anchor,
  // since the player resolves them against the proxy's /mpd/ URL.
  std::vector<Base> base_urls(DOMElement* e, const std::vector<Base>& parents, bool document_level) {
    std::vector<Base> out;
    for (DOMElement* b = first_child_element(e); b; b = next_sibling_element(b)) {
      if (!is_dash(b, u"BaseURL")) continue;
      const std::string text = to_utf8(b->getTextContent());
      const std::string_view ref = trim_ws(text);
      const auto form = document_level ? std::nullopt : relative_form(ref, one_scheme(parents));
      if (form && keep_relative(*form, parents)) {
        if (*form != ref) b->setTextContent(to_xml(*form).c_str());
        for (const Base& p : parents) {
          std::string origin = resolve_as_browser(p.origin, *form);
          std::string dir = dir_path_of(origin);
          add_base(out, Base{std::move(origin), std::move(dir), p.anchor, false, p.unknown_root});
        }
        continue;
      }
      check_scheme_reading(ref, parents);
      add_base(out, anchor_base_url(b, ref, parents));
    }
    return out;
  }

  // The BaseURL `b` (or a patch operation holding its text) with reference
  // "https:x" is a relative path under an https base and names host "x"
  // under an http one (URL Standard special relative or authority state):
  // below BaseURL alternatives of both schemes it means another server under
  // each, and the one proxied form anchor_base_url gives it would pin the
  // first's meaning on all (fuzz_mpd finding c85e6825). Refused.
  static void check_scheme_reading(std::string_view ref, const std::vector<Base>& parents) {
    if (ref.find(':') == std::string_view::npos || parents.size() < 2) return;
    const RefKind first = classify_ref(browser_reading(ref, scheme_of(parents.front().origin)));
    for (const Base& p : parents)
      if (classify_ref(browser_reading(ref, scheme_of(p.origin))) != first)
        throw MpdError(MpdError::Kind::unrewritable,
                       "a BaseURL that is relative under one BaseURL alternative and absolute under another");
  }

  // `ref` as an encoded base of its own, resolved against the first parent
  // the proxy fetches from; finish_anchors writes its proxy form.
  Base anchor_base_url(DOMElement* b, std::string_view ref, const std::vector<Base>& parents) {
    const std::string& parent = primary(parents).origin;
    std::string origin = resolve_as_browser(parent, ref);
    std::string dir = dir_path_of(origin);
    const int anchor = new_anchor(b, origin);
    // As for segment addresses: a hostless "//" reference must not take the proxy's scheme.
    if (anchor == kNotProxied && classify_ref(browser_reading(ref, scheme_of(parent))) == RefKind::network_path)
      b->setTextContent(to_xml(origin).c_str());
    return Base{std::move(origin), std::move(dir), anchor};
  }

  // A BaseURL a patch adds or replaces. At the MPD level it is anchored as
  // the MPD's own are; below it, a relative one resolves against the bases
  // the player already holds in proxy form and stays as written, any other
  // is anchored as in base_urls. The document is the patch: it is fetched
  // beside the MPD it patches, as Location and PatchLocation assume.
  void rewrite_patch_base_url(DOMElement* holder, bool mpd_level) {
    const std::string text = to_utf8(holder->getTextContent());
    const std::string_view ref = trim_ws(text);
    if (const auto form = mpd_level ? std::nullopt : relative_form(ref)) {
      // Its parent's encoded base holds the whole directory (finish_anchors)
      // unless the MPD's own addresses raised it, which the patch cannot see.
      if (climb_of(*form) > 0) refuse_patch("sets a BaseURL that climbs above its parent's");
      if (*form != ref) holder->setTextContent(to_xml(*form).c_str());
      return;
    }
    anchor_base_url(holder, ref, {Base{document_url_, dir_path_of(document_url_), kNotProxied}});
  }

  // Period, AdaptationSet or Representation. Adds to `out` the bases of the
  // Representations below (those segment addresses are finally resolved
  // against), or this level's own when there are none.
  void walk(DOMElement* e, const std::vector<Base>& parents, Level level, Contexts& out) {
    rewrite_xlink(e);
    std::vector<Base> bases = base_urls(e, parents, false);
    if (bases.empty()) bases = parents;
    Contexts leaves;
    std::vector<DOMElement*> segment_info;
    for (DOMElement* c = first_child_element(e); c; c = next_sibling_element(c)) {
      if (level == Level::period && has_local_name(c, u"AdaptationSet")) {
        walk(c, bases, Level::adaptation_set, leaves);
        // Its Representations come with the remote entity, whose rewrite
        // holds their @ids to what fits any template (fits_any_template).
        if (c->hasAttributeNS(kXlinkNs, u"href")) leaves.ids.push_back(IdUse{{}, {}, bases, true, true, true});
      } else if (level == Level::adaptation_set && has_local_name(c, u"Representation")) {
        walk(c, bases, Level::representation, leaves);
      } else if (has_local_name(c, u"SegmentTemplate") || has_local_name(c, u"SegmentList") ||
                 has_local_name(c, u"SegmentBase")) {
        segment_info.push_back(c);
      } else if (level == Level::period && has_local_name(c, u"EventStream")) {
        rewrite_xlink(c);
      } else if (level == Level::period && has_local_name(c, u"ImportedMPD")) {
        // A Linked Period (ISO/IEC 23009-1 6th ed. §5.3.2.6): the player
        // fetches the single-Period MPD it names, resolved against the MPD's
        // URL, and takes that MPD's Period and BaseURLs in (Shaka
        // MpdUtils.processLinkedPeriods): through /mpd/ it is rewritten as
        // any MPD, its BaseURLs then name the proxy.
        rewrite_manifest_text(c);
      }
    }
    if (level == Level::representation && options_.fetch_index)
      on_demand_targets_.push_back(OnDemandTarget{e, primary(bases).origin});
    if (level == Level::representation) {
      std::string id = to_utf8(e->getAttribute(u"id"));
      // No @bandwidth at all: dash.js puts "NaN" in place, which adds no structure.
      std::string bandwidth = e->hasAttribute(u"bandwidth") ? to_utf8(e->getAttribute(u"bandwidth")) : "0";
      const bool plain = plain_id(id);
      const bool numeric = plain_bandwidth(bandwidth);
      if (remote_set_ && (!fits_any_template(id) || !numeric))
        throw MpdError(MpdError::Kind::unrewritable,
                       "a remote AdaptationSet's Representation@id or @bandwidth could take a template of the MPD it"
                       " goes into past the proxied form");
      leaves.ids.push_back(IdUse{std::move(id), std::move(bandwidth), bases, plain, numeric});
    }
    if (leaves.leaves.empty()) leaves.add_leaf(bases);
    for (DOMElement* s : segment_info) segment_information(s, leaves);
    for (const std::vector<Base>& leaf : leaves.leaves) out.add_leaf(leaf);
    for (auto& use : leaves.ids) out.ids.push_back(std::move(use));
  }

  // An @id that, put into an address for $RepresentationID$, adds no
  // structure to it: no segment boundary, no scheme, query or fragment, no
  // dot segment (not even with dots around the identifier), and not empty
  // (an address that starts with it would turn path-absolute). Real ids
  // ("v1080", "audio_eng=128000") are plain; the rest are checked one by
  // one, and plain ones too where the template could join them into
  // structure (joins_ids).
  static bool plain_id(std::string_view id) {
    return !id.empty() && id.find_first_of("/\\:?#.% \t\r\n") == std::string_view::npos;
  }

  // An @id that adds no structure to any template it is put into: no
  // segment boundary, scheme, query, fragment, '%' or space, and not dots
  // only (with the template's dots around it, a dot segment). Dots inside
  // ("v1.5") are fine. Unlike plain_id it does not depend on the template,
  // but a template with ':' or '%' joins even these (joins_ids).
  static bool fits_any_template(std::string_view id) {
    return !id.empty() && id.find_first_of("/\\:?#% \t\r\n") == std::string_view::npos &&
           id.find_first_not_of('.') != std::string_view::npos;
  }

  // A @bandwidth players put in place of $Bandwidth$ as a number's digits.
  // dash.js reads an attribute as a number only when it looks like one and
  // puts any other @bandwidth in place as written, as it does an @id
  // ("../x", "https://elsewhere/x"): such a value is checked like an id.
  static bool plain_bandwidth(std::string_view bandwidth) { return digits_only(bandwidth); }

  static bool digits_only(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  }

  // dash.js puts an S element's "tManifest" in place of $Time$ as written
  // when it is no number (it keeps there the start time of a Smooth
  // manifest it converts itself, which may outgrow a double): from an MPD it
  // is an address of the origin's choosing ("https://elsewhere/x"), so an
  // S with a tManifest that is not digits is refused.
  static bool odd_time(const DOMElement* e) {
    return has_local_name(e, u"S") && e->hasAttribute(u"tManifest") &&
           !digits_only(to_utf8(e->getAttribute(u"tManifest")));
  }

  void check_timeline_times(const DOMElement* s) const {
    for (const DOMElement* t = first_child_element(s); t; t = next_sibling_element(t)) {
      if (!has_local_name(t, u"SegmentTimeline")) continue;
      for (const DOMElement* e = first_child_element(t); e; e = next_sibling_element(e))
        if (odd_time(e))
          throw MpdError(MpdError::Kind::unrewritable,
                         "S@tManifest that is no number: dash.js would put it in place of $Time$ as written");
    }
  }

  // A relative address a player reads as this rewriter does, as far as
  // keeping it as written goes (relative_form). The URL Standard's parser,
  // which browsers' players use, reads some otherwise than RFC 3986
  // (browser_reading): it drops tabs and newlines, takes '\\' for '/' and
  // "%2e" for '.':
  // "ht&#9;tps://elsewhere/x" and "\\elsewhere\x", relative paths to RFC
  // 3986, leave the proxy for another host; ".&#9;./x", "..\x" and
  // "%2e%2e/x" climb, "&#10;?q" names the base itself, ".&#9;/" or "a\b/"
  // is a directory of another depth, which changes where the addresses
  // below it climb to. Such an address is never kept as written: it is
  // written in the browser's reading (relative_form) or made absolute in
  // it. One that reads alike in all of that ("a&#10;b/c.m4s", "a%2Eb/c.m4s",
  // "c.m4s?x=\\") is kept as written: each player then resolves it inside
  // the encoded base its own way, and made absolute against one base it
  // would lose the BaseURL alternatives it resolves under (fuzz_mpd finding
  // 1d226254).
  static bool reads_alike(std::string_view ref) {
    if (ref.find_first_of("\t\r\n\\%:") == std::string_view::npos &&
        (ref.empty() || (static_cast<unsigned char>(ref.front()) > 0x20 && static_cast<unsigned char>(ref.back()) > 0x20)))
      return true;  // nothing the readings part on: most addresses, thousands in a SegmentList
    const std::string read = browser_reading(ref, {});
    if (read == ref) return true;
    const auto names_base = [](std::string_view r) { return r.empty() || r.front() == '?' || r.front() == '#'; };
    return classify_ref(read) == RefKind::relative_path && classify_ref(ref) == RefKind::relative_path &&
           climb_of(read) == climb_of(ref) && dir_levels_of(read) == dir_levels_of(ref) &&
           names_base(read) == names_base(ref);
  }

  // What a relative `ref` is written as when it stays relative: itself when
  // a browser reads it alike, else the browser's reading when that is a
  // relative path ("..\\x" as "../x", ".&#9;/" as "./"), which every player
  // reads alike. Either keeps the meaning under each BaseURL alternative,
  // which an absolute form would pin to the first; a non-browser player is
  // then given the browser's meaning, as the proxied forms give it. nullopt
  // for an address that is no relative path to RFC 3986 or to a browser.
  // `scheme`: the one scheme of the bases `ref` resolves under, "" when
  // they differ: "https:w/" is then written "w/" under https bases, and
  // each alternative keeps its meaning (fuzz_mpd finding 26660f7d: it was
  // anchored, pinned to the first alternative).
  static std::optional<std::string> relative_form(std::string_view ref, std::string_view scheme = {}) {
    if (reads_alike(ref)) {
      if (classify_ref(ref) != RefKind::relative_path) return std::nullopt;
      return std::string(ref);
    }
    std::string read = browser_reading(ref, scheme);
    if (classify_ref(read) != RefKind::relative_path) return std::nullopt;
    return read;
  }

  // The scheme every one of `bases` has, or "" when they differ.
  static std::string one_scheme(const std::vector<Base>& bases) {
    std::string scheme = bases.empty() ? std::string() : scheme_of(bases.front().origin);
    for (const Base& b : bases)
      if (scheme_of(b.origin) != scheme) return {};
    return scheme;
  }

  // ISO/IEC 23009-1 §5.3.9.4.4: the player puts Representation@id in place
  // of $RepresentationID$ before it resolves the address, so an id can make
  // a relative template absolute ("https://elsewhere/x"), path-absolute
  // ("/x", or "" in front of "/"), or climb ("../.."), each past the proxy
  // form the template is kept in (fuzz_mpd finding de1dc83a: an id holding
  // a URL sent that Representation's segments straight to another host).
  // `kept`: the template stays relative as written; each such id must then
  // make a relative path that may stay relative under that Representation's
  // own bases, whose encoded bases are raised for any climb it adds.
  // Otherwise `cut->rest` is what follows the encoded part of the proxied
  // form (cut_url keeps a plain segment in front of the identifier), and
  // each id must leave it a relative path that never climbs and that means,
  // after `cut`'s directory, what the origin's address does with the id
  // (resolved against `base`, the one the proxied form was made from). A
  // relative template made absolute (it climbs above an origin root) has no
  // such check: it resolves against each Representation's own base in the
  // origin's MPD, so it is refused with such ids in scope. Refused means the
  // MPD is, as for any address one proxied form cannot give.
  // The same for @bandwidth in place of $Bandwidth$ where it is no number
  // (plain_bandwidth). And $Number$, $Time$, $SubNumber$ and a numeric
  // $Bandwidth$, whose digits (hex ones with a "%0Nx" format tag, as dash.js
  // and Shaka write them) can complete a '%' before them into "%2e", a dot
  // segment to a browser (joins_a_dot), are refused there: their values are
  // not known here.
  void check_substituted_ids(const DOMElement* e, const char16_t* attr, std::string_view ref, RefKind kind,
                             bool kept, const CutUrl* cut, std::string_view base, const IdUses& ids) {
    const std::string_view resolved_part = kept || kind == RefKind::relative_path ? ref : std::string_view(cut->rest);
    const auto refuse = [&](const std::string& why) {
      throw MpdError(MpdError::Kind::unrewritable,
                     to_utf8(e->getLocalName() ? e->getLocalName() : e->getTagName()) + "@" + to_utf8(attr) + why);
    };
    if (joins_a_dot(resolved_part))
      refuse(" puts a number after a '%' that it can make a \"%2e\" dot segment: no address the proxied form can follow");
    const bool by_id = ref.find("$RepresentationID") != std::string_view::npos;
    const bool by_bandwidth = ref.find("$Bandwidth") != std::string_view::npos;
    if (ids.empty() || (!by_id && !by_bandwidth)) return;
    const bool joins = joins_ids(resolved_part);
    for (const auto& [id, bandwidth, bases, plain, numeric, remote] : ids) {
      if (remote && joins)
        refuse(" joins the Representation@ids of a remote AdaptationSet, which are not known here, into structure");
      if (remote || (!joins && (plain || !by_id) && (numeric || !by_bandwidth))) continue;
      if (kept) {
        const std::string substituted = substitute_ids(ref, id, bandwidth);
        if (reads_alike(substituted) && classify_ref(substituted) == RefKind::relative_path &&
            !joins_a_dot(substituted) && keep_relative(substituted, bases))
          continue;
      } else if (kind != RefKind::relative_path) {
        const std::string substituted = substitute_ids(cut->rest, id, bandwidth);
        if (reads_alike(substituted) && classify_ref(substituted) == RefKind::relative_path &&
            !joins_a_dot(substituted) && climb_of(substituted) == 0 &&
            same_url(cut->origin + cut->dir + substituted, resolve_as_browser(base, substitute_ids(ref, id, bandwidth))))
          continue;
      }
      refuse(" with a Representation@id or @bandwidth in place of $RepresentationID$ or $Bandwidth$ is no address"
             " under that Representation's BaseURL that the proxied form can follow");
    }
  }

  // Whether a '%' in the path of `text` (a template) has an identifier of a
  // number one or two characters after it: "%$Number$e" is "%2e" at segment
  // 2, "%2$Number%01x$" at segment 14 (URL Standard single-dot and
  // double-dot URL path segments). $RepresentationID$ is checked by its
  // values (joins_ids); "$$" is a '$'.
  static bool joins_a_dot(std::string_view text) {
    const std::string_view path = text.substr(0, std::min(text.find_first_of("?#"), text.size()));
    if (path.find('%') == std::string_view::npos) return false;
    std::string units;  // one per character the player writes; 'N' for a number
    for (std::size_t i = 0; i < path.size(); ++i) {
      const auto close = path[i] == '$' ? path.find('$', i + 1) : std::string_view::npos;
      if (close == std::string_view::npos || close == i + 1) {
        units += path[i] == '%' ? '%' : '.';
        if (close == i + 1) ++i;
        continue;
      }
      const std::string_view name = path.substr(i + 1, std::min(path.find('%', i + 1), close) - i - 1);
      units += name == "Number" || name == "Time" || name == "SubNumber" || name == "Bandwidth" ? 'N' : '.';
      i = close;
    }
    for (std::size_t k = 0; k < units.size(); ++k)
      if (units[k] == '%' && ((k + 1 < units.size() && units[k + 1] == 'N') || (k + 2 < units.size() && units[k + 2] == 'N')))
        return true;
    return false;
  }

  // Whether two absolute URLs ask a server the same: "h" and "h/" alike
  // (RFC 3986 §6.2.3), fragments never sent. The proxied form of a template
  // is resolved before the player puts an id in: "x/$RepresentationID$/../y"
  // lost its identifier, while id "a/b" makes the origin's "x/a/y".
  static bool same_url(std::string_view a, std::string_view b) {
    const auto request = [](std::string_view url) {
      Uri u = Uri::parse(url);
      if (u.path.empty()) u.path = "/";
      u.fragment.reset();
      return u.str();
    };
    return request(a) == request(b);
  }

  // A player puts identifiers in place before the URL parser drops tabs and
  // newlines (ISO/IEC 23009-1 §5.3.9.4.4; WHATWG URL §4.4): between two '$'
  // they make a text the player leaves as it is, and the browser's reading,
  // which the rewrite writes, an identifier (fuzz_mpd finding b937fd45).
  static bool breaks_an_identifier(std::string_view ref) {
    if (ref.find_first_of("\t\r\n") == std::string_view::npos) return false;
    for (auto open = ref.find('$'); open != std::string_view::npos; open = ref.find('$', open + 1)) {
      const auto close = ref.find('$', open + 1);
      if (close == std::string_view::npos) return false;
      if (ref.substr(open, close - open).find_first_of("\t\r\n") != std::string_view::npos) return true;
      open = close;
    }
    return false;
  }

  // Whether the characters of a template (or of what follows the encoded
  // part of its proxied form) could join a plain id into structure: a ':'
  // makes "ht$RepresentationID$:" the scheme "https:" with id "tps", a '%'
  // makes "%2e%$RepresentationID$" the double-dot segment "%2e%2e" (URL
  // Standard) with id "2e". Without either a plain id adds no structure.
  static bool joins_ids(std::string_view text) {
    return text.substr(0, std::min(text.find_first_of("?#"), text.size())).find_first_of(":%") != std::string_view::npos;
  }

  // Every $RepresentationID…$ (or `name`…$) of `ref` replaced by `id` (one with a format
  // tag too, which players may or may not read as the identifier: taking it
  // as one is the stricter check).
  static std::string substitute_id(std::string_view ref, std::string_view id, std::string_view name = "$RepresentationID") {
    std::string out;
    std::size_t at = 0;
    for (auto found = ref.find(name); found != std::string_view::npos; found = ref.find(name, at)) {
      const auto close = ref.find('$', found + 1);
      if (close == std::string_view::npos) break;
      out.append(ref.substr(at, found - at)).append(id);
      at = close + 1;
    }
    out.append(ref.substr(at));
    return out;
  }

  // $RepresentationID…$ by `id`, then $Bandwidth…$ by `bandwidth` (as
  // written: dash.js's value where it is no number, see plain_bandwidth).
  static std::string substitute_ids(std::string_view ref, std::string_view id, std::string_view bandwidth) {
    return substitute_id(substitute_id(ref, id), bandwidth, "$Bandwidth");
  }

  // SegmentTemplate, SegmentList or SegmentBase with the elements they hold.
  void segment_information(DOMElement* s, const std::vector<Base>& contexts) {
    Contexts one;
    one.add_leaf(contexts);
    segment_information(s, one);
  }

  void segment_information(DOMElement* s, const Contexts& below) {
    const std::vector<Base>& contexts = below.list;
    rewrite_xlink(s);
    ClimbMemo memo{{}, {}, &below.leaves, &below.ids};
    check_timeline_times(s);
    const bool templates = has_local_name(s, u"SegmentTemplate");
    if (templates) {
      for (const char16_t* attr : {u"media", u"initialization", u"index", u"bitstreamSwitching"})
        rewrite_segment_address(s, attr, contexts, memo, true);
    }
    const bool list = has_local_name(s, u"SegmentList");
    for (DOMElement* c = first_child_element(s); c; c = next_sibling_element(c)) {
      if (has_local_name(c, u"Initialization") || has_local_name(c, u"RepresentationIndex") ||
          has_local_name(c, u"BitstreamSwitching")) {
        rewrite_segment_address(c, u"sourceURL", contexts, memo, templates);
      } else if (list && has_local_name(c, u"SegmentURL")) {
        rewrite_segment_address(c, u"media", contexts, memo, false);
        rewrite_segment_address(c, u"index", contexts, memo, false);
      }
    }
  }

  // A SegmentList can name thousands of segments with the same "../" prefix:
  // the answer depends only on how far a reference climbs. `checked`: the
  // shapes (probe_of) check_one_meaning has passed for this element.
  struct ClimbMemo {
    std::vector<std::pair<std::size_t, bool>> seen;
    std::unordered_set<std::string> checked;
    const std::vector<std::vector<Base>>* leaves;  // the Representations the element applies to
    const IdUses* ids;
  };

  bool keep_relative(std::string_view ref, const std::vector<Base>& contexts, ClimbMemo& memo) {
    if (!keep_empty_path(ref, contexts)) return false;
    const std::size_t climb = climb_of(ref);
    if (climb == 0) return true;
    for (const auto& [c, keep] : memo.seen)
      if (c == climb) return keep;
    const bool keep = keep_relative(ref, contexts);
    memo.seen.emplace_back(climb, keep);
    return keep;
  }

  // A template made absolute holds its base's characters too, and a '$' of
  // the base would pair with the template's own: "$a/seg-$Number$.m4s" has
  // no $Number$ left for the player to fill (fuzz_mpd finding 6ffe25c8).
  // The base's are written "$$", the escaped '$' (ISO/IEC 23009-1
  // §5.3.9.4.4), before the template is resolved against it.
  // Whether a '$' of a template's path pairs with one in another segment.
  // The player pairs them over the whole address before it resolves it
  // (ISO/IEC 23009-1 §5.3.9.4.4); a proxied form is resolved first, and a
  // "../" that removes a segment with an odd count of '$' ("8f$$$") shifts
  // the pairing of every later one: $RepresentationID$ reached the origin as
  // text (fuzz_mpd finding 165436f0). Where every segment pairs its own,
  // removing whole segments changes no pairing; where no segment is a dot
  // segment (in the browser's reading, which the resolution takes), none is
  // removed ("/..er$" is a name: a host's '$' pairing into it, as in the
  // proxied form "!1h_$N!1/..er$", was refused when that form was fed back,
  // fuzz_mpd finding 7242229e).
  static bool pairs_across_segments(std::string_view path) {
    bool open = false;
    for (const char c : path) {
      if (c == '$') open = !open;
      else if (c == '/' && open) return true;
    }
    return false;
  }

  static std::string escape_dollars(std::string_view base) {
    std::string out;
    for (const char c : base) {
      out += c;
      if (c == '$') out += '$';
    }
    return out;
  }

  void rewrite_segment_address(DOMElement* e, const char16_t* attr, const std::vector<Base>& contexts,
                               ClimbMemo& memo, bool is_template) {
    const DOMAttr* node = e->getAttributeNode(attr);
    if (!node) return;
    const std::string value = to_utf8(node->getValue());
    const std::string_view ref = trim_ws(value);
    const std::string& base = primary(contexts).origin;
    if (breaks_an_identifier(ref))
      throw MpdError(MpdError::Kind::unrewritable,
                     to_utf8(e->getLocalName() ? e->getLocalName() : e->getTagName()) + "@" + to_utf8(attr) +
                         " has a tab or newline between two '$': the player reads no identifier there, the"
                         " proxied form (without it, as the URL parser reads it) would");
    // What a browser's player means by it (reads_alike), which the proxied form keeps.
    const std::string read = browser_reading(ref, scheme_of(base));
    const Uri parsed = Uri::parse(read);
    const RefKind kind = classify_ref(parsed);
    // Only an address that is a relative path in the browser's reading may
    // stay one; read as written, it is one to both readings (most addresses,
    // thousands in a SegmentList: no second reading).
    const bool as_read = kind == RefKind::relative_path && read == ref;
    const auto other = kind == RefKind::relative_path && !as_read ? relative_form(ref, one_scheme(contexts)) : std::nullopt;
    const std::string_view form = other ? std::string_view(*other) : std::string_view(read);
    if ((as_read || other) && keep_relative(form, contexts, memo)) {
      if (form != ref) e->setAttribute(attr, to_xml(form).c_str());
      check_substituted_ids(e, attr, form, RefKind::relative_path, true, nullptr, {}, *memo.ids);
      return;
    }
    if (kind != RefKind::absolute) check_one_meaning(e, attr, ref, read, kind, contexts, memo);
    if (is_template && has_dot_segment(parsed.path) && pairs_across_segments(parsed.path))
      throw MpdError(MpdError::Kind::unrewritable,
                     to_utf8(e->getLocalName() ? e->getLocalName() : e->getTagName()) + "@" + to_utf8(attr) +
                         " pairs a '$' with one in another path segment: the proxied form, resolved before the"
                         " player pairs them, would pair them otherwise");
    const auto resolved = [&] { return resolve_uri(is_template ? escape_dollars(base) : base, read); };
    // A SegmentList may hold thousands of absolute URLs: resolve only when it changes something.
    const auto cut = kind == RefKind::absolute && !may_have_dot_segments(parsed.path) ? cut_url(read, true)
                                                                                       : cut_url(resolved(), true);
    if (!cut) {
      // Not fetchable through the proxy (no host, say). A scheme-relative
      // reference would take the proxy's scheme instead of the origin's:
      // spell it out so that it still means what the origin's MPD meant.
      if (kind == RefKind::network_path) e->setAttribute(attr, to_xml(resolved()).c_str());
      return;
    }
    check_substituted_ids(e, attr, ref, kind, false, &*cut, is_template ? escape_dollars(base) : base, *memo.ids);
    e->setAttribute(attr, to_xml(media_form(options_.media_prefix, cut->origin, cut->dir, carried_, cut->rest)).c_str());
    ++rewritten_;
  }

  // A reference that depends on its base and cannot stay relative is made
  // absolute against primary(contexts), and that one address then applies to
  // every Representation below the element that holds it (a SegmentTemplate
  // of an AdaptationSet, say). Where the Representations' own BaseURLs give
  // it different meanings, one of them would be sent another's media. That
  // happens only for a reference that climbs above an origin root under one
  // of them (RFC 3986 §5.2.4 clamps ".." there, which real MPDs do not rely
  // on), or a path-absolute or scheme-relative one above Representations on
  // different origins. Such an MPD is refused rather than given a copy of
  // the address per Representation (ISO/IEC 23009-1 §5.3.9.2 lets a
  // SegmentTemplate or SegmentList of the Representation inherit the rest
  // from above): the copies would cost a SegmentList's every SegmentURL per
  // Representation, and the player model would have to follow each player's
  // inheritance rules to judge them. Alternatives of one Representation may
  // share the first's meaning (§5.6.5, see primary()), but only when that
  // Representation needs it itself; one whose alternatives would all have
  // kept their own meaning must not lose them to another Representation.
  // `read` is `ref` as browser_reading gives it under the pinned base, and
  // `kind` its kind. An "http:x" is relative under an http base only: its
  // meaning under each base is then checked as written.
  void check_one_meaning(const DOMElement* e, const char16_t* attr, std::string_view ref, std::string_view read,
                         RefKind kind, const std::vector<Base>& contexts, ClimbMemo& memo) const {
    const Base& pinned = primary(contexts);
    if (pinned.anchor == kNotProxied || memo.leaves->size() < 2) return;
    const bool by_scheme = classify_ref(browser_reading(ref, {})) != kind;
    const std::string probe = by_scheme ? std::string(ref) : probe_of(read, kind);
    if (!memo.checked.insert(probe).second) return;
    const std::string meant = resolve_as_browser(pinned.origin, probe);
    for (const std::vector<Base>& leaf : *memo.leaves) {
      bool found = false;
      bool others = false;
      for (const Base& b : leaf) {
        if (b.anchor == kNotProxied) continue;
        if (resolve_as_browser(b.origin, probe) == meant) found = true;
        else others = true;
      }
      const bool needs_pinning = kind != RefKind::relative_path || !stays_relative(read, leaf);
      if (others && (!found || !needs_pinning))
        throw MpdError(MpdError::Kind::unrewritable,
                       to_utf8(e->getLocalName() ? e->getLocalName() : e->getTagName()) + "@" + to_utf8(attr) +
                           " above Representation level means different origin URLs for different Representations"
                           " (it climbs above an origin root or depends on the host), which one proxied address cannot give");
    }
  }

  // A reference of the same shape as `ref` whose resolution against a base
  // keeps exactly what decides `ref`'s: for a path-absolute one the scheme
  // and authority, for a scheme-relative one the scheme, for one that
  // climbs N levels the directory N levels up (clamped at the root like
  // `ref`: past its lowest point `ref` only descends from there), for an
  // empty path the base itself (without its query when `ref` has one).
  static std::string probe_of(std::string_view ref, RefKind kind) {
    if (kind == RefKind::path_absolute) return "/";
    if (kind == RefKind::network_path) return "//h/";
    if (ref.empty() || ref.front() == '#') return "";
    if (ref.front() == '?') return "?";
    std::string probe;
    for (std::size_t climb = climb_of(ref); climb > 0; --climb) probe += "../";
    return probe;
  }

  // Location, PatchLocation, ImportedMPD: the player fetches an MPD (or a patch) from there.
  void rewrite_manifest_text(DOMElement* e) {
    const std::string text = to_utf8(e->getTextContent());
    const std::string absolute = resolve_as_browser(document_url_, trim_ws(text));
    if (!is_http_url(absolute)) return;
    e->setTextContent(to_xml(manifest_form(options_.mpd_prefix, absolute, carried_)).c_str());
    ++rewritten_;
  }

  // Remote elements come back through /mpd/ so that they are rewritten too,
  // by an absolute URL where the proxy's is known (public_base: dash.js
  // fetches no other href).
  void rewrite_xlink(DOMElement* e) {
    DOMAttr* href = e->getAttributeNodeNS(kXlinkNs, u"href");
    if (!href) return;
    const std::string value = to_utf8(href->getValue());
    const std::string_view ref = trim_ws(value);
    if (ref.empty() || ref == kResolveToZero) return;
    const std::string absolute = resolve_as_browser(document_url_, ref);
    if (!is_http_url(absolute)) return;
    href->setValue(to_xml(options_.public_base + manifest_form(options_.mpd_prefix, absolute, carried_)).c_str());
    ++rewritten_;
    names_the_proxy_ = names_the_proxy_ || !options_.public_base.empty();
  }

  void finish_anchors(DOMElement* mpd) {
    for (const Anchor& a : anchors_) {
      const std::string below = a.cut.dir.substr(a.encoded_dir.size()) + a.cut.rest;
      const std::u16string text =
          to_xml(media_form(options_.media_prefix, a.cut.origin, a.encoded_dir, carried_, below));
      if (a.element) {
        a.element->setTextContent(text.c_str());
      } else if (mpd) {
        insert_base_url(mpd, text);
      }
      ++rewritten_;
    }
    anchors_.clear();
  }

  // Schema order: ProgramInformation*, BaseURL*, Location*, ...
  void insert_base_url(DOMElement* mpd, const std::u16string& text) {
    const XMLCh* prefix = mpd->getPrefix();
    const std::u16string name = prefix ? std::u16string(prefix) + u":BaseURL" : u"BaseURL";
    DOMElement* base = mpd->getOwnerDocument()->createElementNS(ns_, name.c_str());
    base->setTextContent(text.c_str());
    DOMElement* before = first_child_element(mpd);
    while (before && is_dash(before, u"ProgramInformation")) before = next_sibling_element(before);
    insert_indented(mpd, base, before);
  }

  const MpdRewriteOptions& options_;
  const std::string document_url_;
  const std::string carried_;
  const XMLCh* ns_ = nullptr;
  std::vector<Anchor> anchors_;
  unsigned rewritten_ = 0;
  bool names_the_proxy_ = false;
  bool remote_set_ = false;  // rewriting a remote AdaptationSet (rewrite_remote_element)
  std::vector<OnDemandTarget> on_demand_targets_;
  OnDemandOutcome on_demand_;
};

}  // namespace

bool looks_like_mpd(std::string_view content_type, std::string_view body_start) {
  const std::string type = ascii_lower(trim_ws(content_type.substr(0, content_type.find(';'))));
  if (type == "application/dash+xml" || type == "video/vnd.mpeg.dash.mpd" || type == "application/dash-patch+xml")
    return true;
  if (!(type.empty() || type == "application/xml" || type == "text/xml" ||
        type == "application/octet-stream" || type == "binary/octet-stream"))
    return false;
  const XmlProlog prolog = scan_prolog(body_start);
  if (!prolog.root_found && !prolog.has_doctype) return false;
  return is_mpd_root(prolog.local_name()) || is_patch_root(prolog.local_name()) ||
         is_remote_element_root(prolog.local_name());
}

MpdRewriteResult rewrite_mpd(std::string_view xml, const MpdRewriteOptions& options) {
  if (xml.size() > options.max_bytes)
    throw MpdError(MpdError::Kind::too_large, "MPD of " + std::to_string(xml.size()) + " bytes exceeds the limit of " +
                                                  std::to_string(options.max_bytes));
  // Shape first, in one linear pass: Xerces-C's time and memory grow with
  // elements and attributes, and a few KB of gzip can declare millions.
  prescan_xml(xml, options.limits);
  const XmlProlog prolog = scan_prolog(xml);
  // MPDs never have one; refusing it outright keeps DTD processing, and with
  // it external entities and entity expansion, out of reach.
  if (prolog.has_doctype)
    throw MpdError(MpdError::Kind::entity_limit,
                   "document has a DOCTYPE (entity declarations and DTDs are not accepted in an MPD)");

  // A remote element entity may hold several top-level elements; it is
  // parsed inside a wrapper that is never written out.
  const bool wrap = prolog.root_found && !prolog.utf16 && is_remote_element_root(prolog.local_name());
  std::string wrapped;
  std::string_view input = xml;
  if (wrap) {
    wrapped.reserve(xml.size() + 64);
    wrapped.append(xml.substr(0, prolog.root_offset));
    wrapped.append("<dashpiff-remote-elements>");
    wrapped.append(xml.substr(prolog.root_offset));
    wrapped.append("</dashpiff-remote-elements>");
    input = wrapped;
  }

  ParseLimits limits;
  limits.max_entity_expansions = options.max_entity_expansions;
  const ParsedDocument parsed = parse_xml(input, limits);
  DOMElement* root = parsed.document()->getDocumentElement();

  Rewriter rewriter(options);
  const DOMElement* wrapper = nullptr;
  std::string content_type;
  if (wrap && has_local_name(root, kWrapper)) {
    wrapper = root;
    for (DOMElement* e = first_child_element(root); e; e = next_sibling_element(e)) rewriter.rewrite_remote_element(e);
  } else if (has_local_name(root, u"MPD")) {
    rewriter.rewrite_mpd(root);
    content_type = "application/dash+xml";
  } else if (has_local_name(root, u"Patch")) {
    rewriter.rewrite_patch(root);
    content_type = "application/dash-patch+xml";
  } else if (is_remote_element_root(to_utf8(root->getLocalName()))) {
    rewriter.rewrite_remote_element(root);
  } else {
    throw MpdError(MpdError::Kind::not_mpd, "root element is <" + to_utf8(root->getTagName()) + ">, not <MPD>");
  }

  MpdRewriteResult result;
  result.xml = serialize_xml(parsed.document(), wrapper);
  result.urls_rewritten = rewriter.rewritten();
  result.names_the_proxy = rewriter.names_the_proxy();
  result.on_demand_expanded = rewriter.on_demand().expanded;
  result.on_demand_kept = rewriter.on_demand().kept;
  result.on_demand_reason = rewriter.on_demand().reason;
  result.content_type = std::move(content_type);
  return result;
}

XercesGlobal::XercesGlobal() {
  try {
    XMLPlatformUtils::Initialize();
  } catch (const XMLException& e) {
    throw std::runtime_error("Xerces-C initialisation failed: " + mpd::to_utf8(e.getMessage()));
  }
}

XercesGlobal::~XercesGlobal() { XMLPlatformUtils::Terminate(); }

}  // namespace dashpiff
