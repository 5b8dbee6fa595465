// Xerces-C DOM plumbing for the MPD rewriter: a hardened parse (no DTD, no
// external entity, bounded expansion, errors collected instead of printed),
// UTF-8 <-> XMLCh conversion, and a deterministic UTF-8 serialisation.
// Every call builds its own parser, so threads share nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <xercesc/dom/DOM.hpp>

namespace dashpiff::mpd {

std::string to_utf8(const XMLCh* text);
std::u16string to_xml(std::string_view utf8);

struct ParseLimits {
  std::size_t max_entity_expansions = 10000;
  unsigned max_depth = 256;  // deeper trees are refused: serialisation recurses per level
};

// Owns the parser and, through it, the document.
class ParsedDocument {
 public:
  ParsedDocument(ParsedDocument&&) noexcept;
  ParsedDocument& operator=(ParsedDocument&&) noexcept;
  ~ParsedDocument();

  xercesc::DOMDocument* document() const { return document_; }

 private:
  friend ParsedDocument parse_xml(std::string_view xml, const ParseLimits& limits);
  struct Parser;
  ParsedDocument(std::unique_ptr<Parser> parser, xercesc::DOMDocument* document);
  std::unique_ptr<Parser> parser_;
  xercesc::DOMDocument* document_ = nullptr;
};

// Throws MpdError (malformed, entity_limit) with a one-line message that
// names the line and column of the first fatal error.
ParsedDocument parse_xml(std::string_view xml, const ParseLimits& limits);

// UTF-8 with an XML declaration; top-level nodes one per line. When
// `unwrap` is given, that element is written as its children alone (a
// remote element entity parsed inside a wrapper).
std::string serialize_xml(xercesc::DOMDocument* document, const xercesc::DOMElement* unwrap = nullptr);

// Inserts `node` before `ref` (appends when null), repeating the indentation
// `ref` had so the output stays as readable as the input.
void insert_indented(xercesc::DOMElement* parent, xercesc::DOMNode* node, xercesc::DOMNode* ref);

// Removes `e` and the indentation before it.
void remove_element(xercesc::DOMElement* e);

// Convenience for the tree walk.
bool has_local_name(const xercesc::DOMElement* e, std::u16string_view name);
bool same_namespace(const xercesc::DOMElement* e, const XMLCh* ns);
xercesc::DOMElement* first_child_element(const xercesc::DOMNode* parent);
xercesc::DOMElement* next_sibling_element(const xercesc::DOMNode* node);

}  // namespace dashpiff::mpd
