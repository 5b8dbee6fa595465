#include "mpd_player_model.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>
#include <stdexcept>

#include <xercesc/dom/DOM.hpp>
#include <xercesc/framework/MemBufInputSource.hpp>
#include <xercesc/parsers/XercesDOMParser.hpp>
#include <xercesc/sax/HandlerBase.hpp>
#include <xercesc/util/XMLString.hpp>

#include "http/uri.h"
#include "http/url_codec.h"

namespace dashpiff::test {

using namespace xercesc;

namespace {

constexpr char16_t kXlinkNs[] = u"http://www.w3.org/1999/xlink";
constexpr char16_t kModelNs[] = u"urn:dashpiff:test:player-model";

// One BaseURL alternative and the query of the document it is anchored in.
struct Alt {
  std::string url;
  std::string query;
  bool unfetchable = false;  // some BaseURL on the way is not http(s)
  bool pinned = false;       // some BaseURL on the way is pinned (see pinned_to_one)
};

// How a browser's player reads a reference: the URL Standard's basic URL
// parser (§4.4), as dash.js and Shaka use it, against an http(s) base. The
// model's own small version of the states that matter here, kept apart
// from the rewriter's (mpd/urls.h) so that it can judge it: C0 controls and
// spaces trimmed, tabs and newlines dropped; a path split at '/' and, in a
// special URL, at '\\' too; "%2e" a dot in a dot segment; "http:x" relative
// to an http base, a host to an https one.
struct BrowserRef {
  enum class Kind { other_scheme, absolute, network_path, path_absolute, relative_path };
  Kind kind = Kind::relative_path;
  std::string text;                   // other_scheme: the cleaned reference
  std::string scheme;                 // absolute
  std::string authority;              // absolute, network_path
  std::vector<std::string> segments;  // the path's segments, dots still in
  std::string tail;                   // "?query#fragment" as written
};

bool separates(char c) { return c == '/' || c == '\\'; }

// Authority (when `authority`), path segments and tail of what follows.
void read_rest(BrowserRef& r, const std::string& rest, bool authority) {
  std::size_t at = 0;
  if (authority) {
    while (at < rest.size() && separates(rest[at])) ++at;  // special authority ignore slashes state
    const std::size_t end = std::min(rest.find_first_of("/\\?#", at), rest.size());
    r.authority = rest.substr(at, end - at);
    at = end;
  }
  const std::size_t tail = std::min(rest.find_first_of("?#", at), rest.size());
  std::string path = rest.substr(at, tail - at);
  r.tail = rest.substr(tail);
  if (!path.empty() && separates(path.front())) path.erase(0, 1);  // path start state
  std::string segment;
  for (const char c : path) {
    if (separates(c)) {
      r.segments.push_back(segment);
      segment.clear();
    } else {
      segment += c;
    }
  }
  r.segments.push_back(segment);
}

BrowserRef browser_ref(const std::string& input, const std::string& base_scheme) {
  std::size_t first = 0, last = input.size();
  while (first < last && static_cast<unsigned char>(input[first]) <= 0x20) ++first;
  while (last > first && static_cast<unsigned char>(input[last - 1]) <= 0x20) --last;
  std::string text;
  for (std::size_t i = first; i < last; ++i)
    if (input[i] != '\t' && input[i] != '\n' && input[i] != '\r') text += input[i];
  BrowserRef r;
  std::string rest = text;
  std::size_t colon = 0;
  while (colon < text.size() && (std::isalnum(static_cast<unsigned char>(text[colon])) || text[colon] == '+' ||
                                 text[colon] == '-' || text[colon] == '.'))
    ++colon;
  if (colon > 0 && colon < text.size() && text[colon] == ':' && std::isalpha(static_cast<unsigned char>(text[0]))) {
    std::string scheme = text.substr(0, colon);
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != "http" && scheme != "https") {
      r.kind = BrowserRef::Kind::other_scheme;
      r.text = text;
      return r;
    }
    rest = text.substr(colon + 1);
    if (scheme != base_scheme || rest.rfind("//", 0) == 0) {  // special authority slashes state
      r.kind = BrowserRef::Kind::absolute;
      r.scheme = scheme;
      read_rest(r, rest, true);
      return r;
    }
    // special relative or authority state: on to the relative state
  }
  if (rest.size() >= 2 && separates(rest[0]) && separates(rest[1])) {
    r.kind = BrowserRef::Kind::network_path;
    read_rest(r, rest, true);
  } else if (!rest.empty() && separates(rest[0])) {
    r.kind = BrowserRef::Kind::path_absolute;
    read_rest(r, rest, false);
  } else {
    read_rest(r, rest, false);
  }
  return r;
}

std::string scheme_of(const std::string& url) { return Uri::parse(url).scheme.value_or(""); }

BrowserRef::Kind browser_kind(const std::string& ref, const std::string& base) {
  return browser_ref(ref, scheme_of(base)).kind;
}

// The URL a browser's player asks for `ref` under the absolute http(s)
// `base`; "" when the parser fails.
std::string browser_resolve(const std::string& base, const std::string& ref) {
  const Uri b = Uri::parse(base);
  if (b.scheme != "http" && b.scheme != "https") return resolve_uri(base, ref);  // no player fetches from there
  const BrowserRef r = browser_ref(ref, *b.scheme);
  if (r.kind == BrowserRef::Kind::other_scheme) return resolve_uri(base, r.text);
  std::vector<std::string> path;
  if (r.kind == BrowserRef::Kind::relative_path) {
    const bool no_path = r.segments.size() == 1 && r.segments.front().empty();
    if (no_path) {  // relative state: the base's path, and its query unless one is given
      Uri u = b;
      u.fragment.reset();
      if (r.tail.empty()) return u.str();
      if (r.tail.front() == '?') u.query.reset();
      return u.str() + r.tail;
    }
    // The base's path but its last segment ("shorten").
    std::string p = b.path;
    if (!p.empty() && p.front() == '/') p.erase(0, 1);
    std::string segment;
    for (const char c : p) {
      if (c == '/') {
        path.push_back(segment);
        segment.clear();
      } else {
        segment += c;
      }
    }
  }
  // The path state: dot segments, percent-encoded ones too (URL Standard
  // single- and double-dot URL path segments), never above the root.
  const auto lower = [](std::string t) {
    for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return t;
  };
  for (std::size_t i = 0; i < r.segments.size(); ++i) {
    const std::string s = lower(r.segments[i]);
    const bool last = i + 1 == r.segments.size();
    if (s == ".." || s == ".%2e" || s == "%2e." || s == "%2e%2e") {
      if (!path.empty()) path.pop_back();
      if (last) path.emplace_back();
    } else if (s == "." || s == "%2e") {
      if (last) path.emplace_back();
    } else {
      path.push_back(r.segments[i]);
    }
  }
  std::string out = (r.kind == BrowserRef::Kind::absolute ? r.scheme : b.scheme.value_or("")) + "://";
  out += r.kind == BrowserRef::Kind::absolute || r.kind == BrowserRef::Kind::network_path ? r.authority
                                                                                           : b.authority.value_or("");
  // A special URL with an empty host is no URL (host state, host-missing):
  // the player asks nothing.
  if (Uri::parse(out).host().empty()) return {};
  for (const std::string& segment : path) out += "/" + segment;
  if (path.empty()) out += "/";
  return out + r.tail;
}

bool is_http(const std::string& url) {
  const Uri u = Uri::parse(url);
  return (u.scheme == "http" || u.scheme == "https") && !u.host().empty();
}

// "/p" and "//h/p" take their host (or scheme) from the base.
bool is_host_dependent(const std::string& ref, const std::string& base) {
  const auto kind = browser_kind(ref, base);
  return kind == BrowserRef::Kind::network_path || kind == BrowserRef::Kind::path_absolute;
}

// The http(s) hosts a set of alternatives spans.
template <typename Alts>
std::size_t distinct_hosts(const Alts& alternatives) {
  std::vector<std::string> seen;
  for (const auto& a : alternatives) {
    const Uri u = Uri::parse(a.url);
    if ((u.scheme != "http" && u.scheme != "https") || !u.authority) continue;
    const std::string key = *u.scheme + "://" + *u.authority;
    if (std::find(seen.begin(), seen.end(), key) == seen.end()) seen.push_back(key);
  }
  return seen.size();
}

bool is_relative_path(const std::string& ref, const std::string& base) {
  return browser_kind(ref, base) == BrowserRef::Kind::relative_path;
}

// Whether RFC 3986 §5.2.4 drops a ".." of the relative `ref` at the root of
// `base`'s path: with one more directory on top of that path, the result
// then no longer keeps it in front.
bool climbs_above_root(const std::string& base, const std::string& ref) {
  const std::string top = "/.top";
  Uri deeper = Uri::parse(base);
  deeper.path = top + (deeper.path.empty() ? "/" : deeper.path);
  return Uri::parse(browser_resolve(deeper.str(), ref)).path != top + Uri::parse(browser_resolve(base, ref)).path;
}

// A relative reference that climbs above the root of one of the http(s)
// alternatives it is resolved against and means different URLs under them:
// the rewrite can keep one meaning only (PlayerRequest::alternatives).
template <typename Alts>
bool pinned_to_one(const std::string& ref, const Alts& alternatives) {
  // Only a ".." that is there can be dropped: most references have none,
  // and skipping them saves the long fuzzing campaign a third of the
  // model's time. A player reads ".&#9;." and "%2e." as ".." too.
  const auto has_dots = [](const std::string& s) {
    if (s.find("..") != std::string::npos || s.find("%2") != std::string::npos) return true;
    if (s.find_first_of("\t\n\r") == std::string::npos) return false;
    std::string t;
    for (const char c : s)
      if (c != '\t' && c != '\n' && c != '\r') t += c;
    return t.find("..") != std::string::npos;
  };
  if (!has_dots(ref) && std::none_of(alternatives.begin(), alternatives.end(), [&](const auto& a) { return has_dots(a.url); }))
    return false;
  bool climbs = false;
  std::vector<std::string> meant;
  for (const auto& a : alternatives) {
    if (!is_http(a.url) || !is_relative_path(ref, a.url)) continue;
    climbs = climbs || climbs_above_root(a.url, ref);
    std::string url = browser_resolve(a.url, ref);
    if (std::find(meant.begin(), meant.end(), url) == meant.end()) meant.push_back(std::move(url));
  }
  return climbs && meant.size() > 1;
}

std::string utf8(const XMLCh* s) {
  if (!s) return {};
  char* t = XMLString::transcode(s);  // test data is ASCII
  std::string out(t);
  XMLString::release(&t);
  return out;
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

bool named(const DOMNode* n, std::u16string_view local) {
  return n->getNodeType() == DOMNode::ELEMENT_NODE && n->getLocalName() &&
         std::u16string_view(n->getLocalName()) == local;
}

std::vector<DOMElement*> children(const DOMNode* parent, std::u16string_view local) {
  std::vector<DOMElement*> out;
  for (DOMNode* n = parent->getFirstChild(); n; n = n->getNextSibling())
    if (named(n, local)) out.push_back(static_cast<DOMElement*>(n));
  return out;
}

class ThrowingErrors : public HandlerBase {
 public:
  void fatalError(const SAXParseException& e) override {
    throw std::runtime_error("model parse error line " + std::to_string(e.getLineNumber()) + ": " +
                             utf8(e.getMessage()));
  }
  void error(const SAXParseException& e) override { fatalError(e); }
};

std::unique_ptr<XercesDOMParser> parse(std::string_view text, ThrowingErrors& errors) {
  auto parser = std::make_unique<XercesDOMParser>();
  parser->setDoNamespaces(true);
  parser->setValidationScheme(XercesDOMParser::Val_Never);
  parser->setLoadExternalDTD(false);
  parser->setErrorHandler(&errors);
  MemBufInputSource source(reinterpret_cast<const XMLByte*>(text.data()), text.size(), "model", false);
  parser->parse(source);
  return parser;
}

std::string strip_declaration(std::string_view text) {
  if (text.rfind("<?xml", 0) == 0) text.remove_prefix(text.find("?>") + 2);
  return std::string(text);
}

class Model {
 public:
  Model(std::string document_url, const RemoteFetcher& fetch, std::size_t max_requests)
      : document_url_(std::move(document_url)),
        document_query_(Uri::parse(document_url_).query.value_or("")),
        fetch_(fetch),
        max_requests_(max_requests) {}

  // Every request, or those of the Representations (and Locations) before
  // the one that would pass max_requests: whole ones only, since a
  // Representation's pinned requests get their alternatives at its end.
  std::vector<PlayerRequest> run(DOMDocument* doc) {
    try {
      run_all(doc);
    } catch (const Full&) {
      out_.resize(complete_);
    }
    return std::move(out_);
  }

 private:
  struct Full {};

  void run_all(DOMDocument* doc) {
    DOMElement* mpd = doc->getDocumentElement();
    splice_remote_elements(doc);
    const auto top = bases(mpd, {Alt{document_url_, document_query_}});
    int location = 0;
    for (DOMElement* l : children(mpd, u"Location"))
      add(PlayerRequest::Kind::manifest, "Location#" + std::to_string(location++),
          browser_resolve(document_url_, trim(utf8(l->getTextContent()))), document_query_);
    location = 0;
    for (DOMElement* l : children(mpd, u"PatchLocation"))
      add(PlayerRequest::Kind::manifest, "PatchLocation#" + std::to_string(location++),
          browser_resolve(document_url_, trim(utf8(l->getTextContent()))), document_query_);
    complete_ = out_.size();
    int p = 0;
    for (DOMElement* period : children(mpd, u"Period")) {
      const auto period_bases = bases(period, top);
      int a = 0;
      for (DOMElement* set : children(period, u"AdaptationSet")) {
        const auto set_bases = bases(set, period_bases);
        int r = 0;
        for (DOMElement* rep : children(set, u"Representation")) {
          const std::string key = "P" + std::to_string(p) + ".A" + std::to_string(a) + ".R" + std::to_string(r++);
          representation(key, {period, set, rep}, bases(rep, set_bases));
          complete_ = out_.size();
        }
        ++a;
      }
      ++p;
    }
  }

  void add(PlayerRequest::Kind kind, std::string key, std::string url, std::string document_query,
           bool unchecked = false) {
    if (out_.size() >= max_requests_) throw Full{};
    out_.push_back(PlayerRequest{kind, std::move(key), std::move(url), std::move(document_query), unchecked, {}});
  }

  // Spliced-in remote elements remember the query of the document they came from.
  std::string document_query_of(const DOMNode* n) const {
    for (; n && n->getNodeType() == DOMNode::ELEMENT_NODE; n = n->getParentNode()) {
      const auto* e = static_cast<const DOMElement*>(n);
      if (e->getAttributeNodeNS(kModelNs, u"query")) return utf8(e->getAttributeNS(kModelNs, u"query"));
    }
    return document_query_;
  }

  // One level of remote elements: each xlink:href is requested and, when the
  // fetcher has it, replaced by what came back.
  void splice_remote_elements(DOMDocument* doc) {
    // The elements 23009-1 allows to be remote, where it allows them;
    // players ignore xlink anywhere else.
    std::vector<DOMElement*> linked;
    auto consider = [&](DOMElement* e) {
      if (e->getAttributeNodeNS(kXlinkNs, u"href")) linked.push_back(e);
    };
    for (DOMElement* period : children(doc->getDocumentElement(), u"Period")) {
      consider(period);
      for (DOMElement* stream : children(period, u"EventStream")) consider(stream);
      for (DOMElement* list : children(period, u"SegmentList")) consider(list);
      for (DOMElement* set : children(period, u"AdaptationSet")) {
        consider(set);
        for (DOMElement* list : children(set, u"SegmentList")) consider(list);
        for (DOMElement* rep : children(set, u"Representation"))
          for (DOMElement* list : children(rep, u"SegmentList")) consider(list);
      }
    }
    int n = 0;
    for (DOMElement* e : linked) {
      const std::string href = trim(utf8(e->getAttributeNS(kXlinkNs, u"href")));
      if (href == "urn:mpeg:dash:resolve-to-zero:2013") continue;
      const std::string url = browser_resolve(document_url_, href);
      add(PlayerRequest::Kind::manifest, "xlink#" + std::to_string(n++), url, document_query_of(e));
      if (!fetch_) continue;
      const auto text = fetch_(url);
      if (!text) continue;
      ThrowingErrors errors;
      auto parser = parse("<remote>" + strip_declaration(*text) + "</remote>", errors);
      DOMElement* wrapper = parser->getDocument()->getDocumentElement();
      DOMNode* parent = e->getParentNode();
      // Fetched with its own query or, lacking one, the linking document's
      // (what the proxy passes on under token-mode pass).
      const std::string query = Uri::parse(url).query.value_or(document_query_of(e));
      for (DOMNode* c = wrapper->getFirstChild(); c; c = c->getNextSibling()) {
        if (c->getNodeType() != DOMNode::ELEMENT_NODE) continue;
        auto* imported = static_cast<DOMElement*>(doc->importNode(c, true));
        imported->setAttributeNS(kModelNs, u"m:query", std::u16string(query.begin(), query.end()).c_str());
        parent->insertBefore(imported, e);
      }
      parent->removeChild(e);
      remote_parsers_.push_back(std::move(parser));
    }
  }

  std::vector<Alt> bases(const DOMElement* e, const std::vector<Alt>& parents) {
    const auto base_urls = children(e, u"BaseURL");
    if (base_urls.empty()) return parents;
    std::vector<Alt> out;
    const bool several_hosts = distinct_hosts(parents) > 1;
    std::vector<bool> pinned;
    for (const DOMElement* b : base_urls) pinned.push_back(pinned_to_one(trim(utf8(b->getTextContent())), parents));
    for (const Alt& parent : parents) {
      for (std::size_t i = 0; i < base_urls.size(); ++i) {
        const DOMElement* b = base_urls[i];
        const std::string ref = trim(utf8(b->getTextContent()));
        std::string url = browser_resolve(parent.url, ref);
        const bool unfetchable =
            parent.unfetchable || !is_http(url) || (several_hosts && is_host_dependent(ref, parent.url));
        out.push_back(Alt{std::move(url), is_relative_path(ref, parent.url) ? parent.query : document_query_of(b), unfetchable,
                          parent.pinned || pinned[i]});
      }
    }
    return out;
  }

  void representation(const std::string& key, const std::vector<DOMElement*>& levels,
                      const std::vector<Alt>& alternatives) {
    const DOMElement* rep = levels.back();
    const std::string id = utf8(rep->getAttribute(u"id"));
    const std::string bandwidth = utf8(rep->getAttribute(u"bandwidth"));
    static const char* const level_names[] = {"Period", "AdaptationSet", "Representation"};
    bool addressed = false;
    for (const DOMElement* level : levels)
      addressed |= !children(level, u"SegmentTemplate").empty() || !children(level, u"SegmentList").empty();
    const bool several_hosts = distinct_hosts(alternatives) > 1;
    const std::size_t first = out_.size();
    std::vector<std::size_t> pinned;  // requests in out_ that any alternative's URL answers
    std::map<std::string, bool> pinned_refs;
    const auto pinned_ref = [&](const std::string& v) {
      const auto [it, fresh] = pinned_refs.try_emplace(v, false);
      if (fresh) it->second = pinned_to_one(v, alternatives);
      return it->second;
    };
    for (std::size_t alt = 0; alt < alternatives.size(); ++alt) {
      const std::string& base = alternatives[alt].url;
      const std::string& base_query = alternatives[alt].query;
      const bool unfetchable = alternatives[alt].unfetchable || id.empty() || id.front() == '/' || id.front() == '\\' ||
                               bandwidth.empty() || bandwidth.find_first_not_of("0123456789") != std::string::npos;
      const std::string suffix = "#" + std::to_string(alt);
      auto request = [&](const std::string& where, const DOMElement* holder, const XMLCh* value) {
        const std::string v = trim(substitute_template(utf8(value), id, bandwidth));
        add(PlayerRequest::Kind::media, key + "." + where + suffix, browser_resolve(base, v),
            is_relative_path(v, base) ? base_query : document_query_of(holder),
            unfetchable || (several_hosts && is_host_dependent(v, base)));
        if (alternatives[alt].pinned || pinned_ref(v)) pinned.push_back(out_.size() - 1);
      };
      if (!addressed) {
        add(PlayerRequest::Kind::media, key + ".BaseURL" + suffix, base, base_query, unfetchable);
        if (alternatives[alt].pinned) pinned.push_back(out_.size() - 1);
      }
      for (std::size_t l = 0; l < levels.size(); ++l) {
        for (const std::u16string_view type : {u"SegmentTemplate", u"SegmentList", u"SegmentBase"}) {
          for (const DOMElement* s : children(levels[l], type)) {
            const std::string where = std::string(level_names[l]) + "." + utf8(s->getLocalName());
            for (const char16_t* attr : {u"media", u"initialization", u"index", u"bitstreamSwitching"})
              if (type == u"SegmentTemplate" && s->getAttributeNode(attr)) request(where + "@" + utf8(attr), s, s->getAttribute(attr));
            for (const char16_t* child : {u"Initialization", u"RepresentationIndex", u"BitstreamSwitching"})
              for (const DOMElement* c : children(s, child))
                if (c->getAttributeNode(u"sourceURL")) request(where + "." + utf8(child), c, c->getAttribute(u"sourceURL"));
            int n = 0;
            for (const DOMElement* u : children(s, u"SegmentURL")) {
              const std::string at = where + ".SegmentURL" + std::to_string(n++);
              if (u->getAttributeNode(u"media")) request(at + "@media", u, u->getAttribute(u"media"));
              else {
                add(PlayerRequest::Kind::media, key + "." + at + "@base" + suffix, base, base_query, unfetchable);
                if (alternatives[alt].pinned) pinned.push_back(out_.size() - 1);
              }
              if (u->getAttributeNode(u"index")) request(at + "@index", u, u->getAttribute(u"index"));
            }
          }
        }
      }
    }
    offer_alternatives(first, pinned);
  }

  // Each pinned request of one Representation (out_ from `first`) may reach
  // what its address means under any of the alternatives: the requests with
  // the same key but for the "#alternative" suffix.
  void offer_alternatives(std::size_t first, const std::vector<std::size_t>& pinned) {
    if (pinned.empty()) return;
    const auto stem = [&](std::size_t i) { return out_[i].key.substr(0, out_[i].key.rfind('#')); };
    std::map<std::string, std::shared_ptr<std::vector<std::pair<std::string, std::string>>>> meanings;
    for (std::size_t i = first; i < out_.size(); ++i) {
      if (!is_http(out_[i].url)) continue;
      auto& list = meanings[stem(i)];
      if (!list) list = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
      list->emplace_back(out_[i].url, out_[i].document_query);
    }
    for (std::size_t i : pinned) out_[i].alternatives = meanings[stem(i)];
  }

  std::string document_url_;
  std::string document_query_;
  const RemoteFetcher& fetch_;
  std::size_t max_requests_;
  std::size_t complete_ = 0;
  std::vector<PlayerRequest> out_;
  std::vector<std::unique_ptr<XercesDOMParser>> remote_parsers_;
};

}  // namespace

std::vector<PlayerRequest> player_requests(std::string_view mpd, const std::string& document_url,
                                           const RemoteFetcher& fetch, std::size_t max_requests) {
  ThrowingErrors errors;
  auto parser = parse(mpd, errors);
  Model model(document_url, fetch, max_requests);
  return model.run(parser->getDocument());
}

std::optional<std::string> origin_request_for(std::string_view proxy_url, std::string_view proxy_origin) {
  if (proxy_url.rfind(proxy_origin, 0) != 0) return std::nullopt;
  const Uri u = Uri::parse(proxy_url);
  const std::string& path = u.path;
  if (path.rfind("/mpd/", 0) == 0) {
    const auto decoded = decode_url(std::string_view(path).substr(5));
    if (!decoded) return std::nullopt;
    return u.query ? *decoded + "?" + *u.query : *decoded;
  }
  if (path.rfind("/media/", 0) != 0) return std::nullopt;
  const auto slash = path.find('/', 7);
  if (slash == std::string::npos) return std::nullopt;
  const auto decoded = decode_url(std::string_view(path).substr(7, slash - 7));
  if (!decoded) return std::nullopt;
  // What the router does: the base's query (the carried token) first, then
  // the request's own.
  Uri base = Uri::parse(*decoded);
  std::string query = base.query.value_or("");
  base.query.reset();
  if (u.query) query += (query.empty() ? "" : "&") + *u.query;
  // The rest is a path, never a scheme: a first segment like "a:b" must not
  // read as one (RFC 3986 §4.2), hence the "./".
  std::string url = resolve_uri(base.str(), "./" + path.substr(slash + 1));
  if (!query.empty()) url += "?" + query;
  return url;
}

namespace {

// `digits` (a decimal number of any length) in base 8 or 16, lower-case.
std::string in_base(std::string_view digits, unsigned base) {
  std::string number(digits);
  std::string out;
  while (number.find_first_not_of('0') != std::string::npos) {
    std::string quotient;
    unsigned remainder = 0;
    for (const char c : number) {
      remainder = remainder * 10 + static_cast<unsigned>(c - '0');
      if (!quotient.empty() || remainder / base != 0) quotient += static_cast<char>('0' + remainder / base);
      remainder %= base;
    }
    out.insert(out.begin(), "0123456789abcdef"[remainder]);
    number = quotient.empty() ? "0" : quotient;
  }
  return out.empty() ? "0" : out;
}

// JavaScript's toUpperCase, for the ASCII the model's samples hold.
std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

}  // namespace

std::string substitute_template(std::string_view text, std::string_view representation_id,
                                std::string_view bandwidth) {
  // Shaka (MpdUtils fillUriTemplate) and dash.js (processUriTemplate of
  // common-media-library, since 5.2) replace every match of
  // \$(RepresentationID|Number|SubNumber|Bandwidth|Time)?(%0[0-9]+[diouxX])?\$
  // from left to right: a '$' that starts none is text and pairs with
  // nothing ("$a$Number$" is "$a7"). 23009-1 §5.3.9.4.4 names only the
  // "%0<width>d" format tag; both also take the other integer conversions
  // of IEEE 1003.1: 'i' and 'u' as 'd', 'o' octal, 'x' and 'X' hexadecimal
  // in lower and upper case, zero-padded to the width.
  static constexpr std::string_view kNames[] = {"RepresentationID", "Number", "SubNumber", "Bandwidth", "Time"};
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$') {
      out += text[i++];
      continue;
    }
    if (text.substr(i + 1, 1) == "$") {
      out += '$';
      i += 2;
      continue;
    }
    std::size_t at = i + 1;
    std::string_view name;
    for (const std::string_view n : kNames)
      if (text.substr(at, n.size()) == n) name = n;
    at += name.size();
    char conversion = 'd';
    std::size_t width = 0;
    if (text.substr(at, 2) == "%0") {
      std::size_t end = at + 2;
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
        width = std::min<std::size_t>(width * 10 + static_cast<std::size_t>(text[end] - '0'), 64);
        ++end;
      }
      if (end > at + 2 && end < text.size() && std::string_view("diuoxX").find(text[end]) != std::string_view::npos) {
        conversion = text[end];
        at = end + 1;
      }
    }
    // No name ("$%05d$"): Shaka leaves it as it is.
    if (name.empty() || text.substr(at, 1) != "$") {
      out += text[i++];
      continue;
    }
    std::string value;
    if (name == "RepresentationID") value = std::string(representation_id);
    else if (name == "Bandwidth") value = std::string(bandwidth);
    else if (name == "Number") value = "7";
    else if (name == "Time") value = "90000";
    else value = "1";  // SubNumber
    if (name == "RepresentationID") {
      // Shaka drops the width of a string and keeps its conversion (an 'X'
      // upper-cases it); dash.js pads it too. Unpadded, an id keeps what it
      // makes of the address ("https://x", "../x"), the stricter judge.
      if (conversion == 'X') value = upper(value);
    } else {
      const bool number = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos;
      if (number && conversion == 'o') value = in_base(value, 8);
      if (number && (conversion == 'x' || conversion == 'X')) value = in_base(value, 16);
      if (conversion == 'X') value = upper(value);
      if (value.size() < width) value.insert(0, width - value.size(), '0');
    }
    out += value;
    i = at + 1;
  }
  return out;
}

namespace {

// Spellings a server cannot tell apart: "http://h?q" and "http://h/?q"
// (RFC 3986 §6.2.3), "x?" and "x".
// Two URLs a player asks the same request for: a space goes out as "%20".
std::string same_request(const std::string& url) {
  std::string spaced;
  for (const char c : url) {
    if (c == ' ') spaced += "%20";
    else spaced += c;
  }
  Uri u = Uri::parse(spaced);
  if (u.authority && u.path.empty()) u.path = "/";
  if (u.query && u.query->empty()) u.query.reset();
  return u.str();
}

}  // namespace

std::string proxy_manifest_url(const MpdRewriteOptions& options) {
  std::string url = "http://proxy.test" + options.mpd_prefix + encode_url(options.manifest_url);
  if (!options.manifest_query.empty()) url += "?" + options.manifest_query;
  return url;
}

Verdict compare_with_origin(std::string_view original, std::string_view rewritten, const MpdRewriteOptions& options,
                            const std::map<std::string, std::string>& remote, std::size_t max_requests) {
  const std::string& query = options.manifest_query;
  const std::string origin_document = query.empty() ? options.manifest_url : options.manifest_url + "?" + query;
  const RemoteFetcher from_origin = [&](const std::string& url) -> std::optional<std::string> {
    const auto it = remote.find(strip_query(url));
    if (it == remote.end()) return std::nullopt;
    return it->second;
  };
  const RemoteFetcher through_proxy = [&](const std::string& url) -> std::optional<std::string> {
    const auto origin = origin_request_for(url);
    if (!origin) return std::nullopt;
    const auto it = remote.find(strip_query(*origin));
    if (it == remote.end()) return std::nullopt;
    MpdRewriteOptions o = options;
    o.manifest_url = strip_query(*origin);
    o.manifest_query = Uri::parse(*origin).query.value_or("");
    return rewrite_mpd(it->second, o).xml;
  };
  const auto expected = player_requests(original, origin_document, from_origin, max_requests);
  const auto actual = player_requests(rewritten, proxy_manifest_url(options), through_proxy, max_requests);

  Verdict verdict;
  // What the origin may be asked for a request with PlayerRequest::alternatives, per list.
  std::map<const void*, std::set<std::string>> accepted;
  if (expected.size() != actual.size())
    verdict.problems.push_back("original leads to " + std::to_string(expected.size()) + " requests, rewrite to " +
                               std::to_string(actual.size()));
  for (std::size_t i = 0; i < std::min(expected.size(), actual.size()); ++i) {
    const PlayerRequest& want = expected[i];
    const PlayerRequest& got = actual[i];
    if (want.key != got.key) {
      verdict.problems.push_back("request " + std::to_string(i) + ": key " + want.key + " vs " + got.key);
      continue;
    }
    // See PlayerRequest::unchecked (under a base no player can fetch from,
    // the rewrite's path-absolute addresses would take that base's scheme).
    if (want.unchecked) continue;
    // No URL to a browser (browser_resolve): the player asks nothing of the origin.
    if (want.url.empty()) continue;
    // Addresses the proxy cannot fetch (other schemes, no host) stay as they are.
    const Uri wanted = Uri::parse(want.url);
    if ((wanted.scheme != "http" && wanted.scheme != "https") || wanted.host().empty()) {
      if (got.url != want.url) verdict.problems.push_back(want.key + ": " + want.url + " became " + got.url);
      continue;
    }
    // A representation without any address but the MPD's own URL is no media
    // (the rewrite points it at the MPD's directory instead).
    if (want.url == origin_document) continue;
    // What the proxy must ask the origin for an origin URL the player would request.
    const auto origin_for = [&options](const std::string& url, const std::string& document_query,
                                       PlayerRequest::Kind kind) {
      // Fragments never reach a server.
      Uri without_fragment = Uri::parse(url);
      without_fragment.fragment.reset();
      std::string origin = without_fragment.str();
      const auto own = without_fragment.query;
      const bool carry = options.carry_query && !document_query.empty();
      if (carry && kind == PlayerRequest::Kind::media) {
        origin = strip_query(origin) + "?" + document_query + (own ? "&" + *own : "");
      } else if (carry && !own) {
        origin += "?" + document_query;
      }
      return same_request(origin);
    };
    const std::string origin = origin_for(want.url, want.document_query, want.kind);
    auto reached = origin_request_for(got.url);
    if (reached) reached = same_request(*reached);
    ++verdict.checked;
    const auto any_alternative = [&] {
      if (!want.alternatives) return false;
      const auto [it, fresh] = accepted.try_emplace(want.alternatives.get());
      if (fresh)
        for (const auto& [url, document_query] : *want.alternatives)
          it->second.insert(origin_for(url, document_query, want.kind));
      return it->second.count(*reached) > 0;
    };
    if (!reached) {
      verdict.problems.push_back(want.key + ": " + got.url + " does not go through the proxy");
    } else if (*reached != origin && !any_alternative()) {
      verdict.problems.push_back(want.key + ": " + got.url + " reaches " + *reached + ", expected " + origin);
    }
  }
  return verdict;
}

}  // namespace dashpiff::test
