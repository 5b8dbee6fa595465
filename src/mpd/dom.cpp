#include "mpd/dom.h"

#include <xercesc/framework/MemBufInputSource.hpp>
#include <xercesc/framework/Wrapper4InputSource.hpp>
#include <xercesc/framework/XMLFormatter.hpp>
#include <xercesc/util/OutOfMemoryException.hpp>
#include <xercesc/util/SecurityManager.hpp>
#include <xercesc/util/XMLException.hpp>
#include <xercesc/util/XMLString.hpp>
#include <xercesc/util/XMLUniDefs.hpp>

#include "mpd/error.h"

namespace dashpiff::mpd {

using namespace xercesc;

std::string to_utf8(const XMLCh* text) {
  std::string out;
  if (!text) return out;
  for (const XMLCh* p = text; *p; ++p) {
    char32_t c = *p;
    if (c >= 0xD800 && c <= 0xDBFF && p[1] >= 0xDC00 && p[1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (p[1] - 0xDC00);
      ++p;
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      c = 0xFFFD;  // unpaired surrogate: the parser never makes one, a DOM edit could
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

std::u16string to_xml(std::string_view utf8) {
  std::u16string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    const auto b = static_cast<unsigned char>(utf8[i]);
    char32_t c = 0xFFFD;
    std::size_t len = 1;
    if (b < 0x80) {
      c = b;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
    }
    if (len > 1) {
      if (i + len > utf8.size()) {
        len = 1;
      } else {
        c = b & (0x7F >> len);
        for (std::size_t k = 1; k < len; ++k) {
          const auto cont = static_cast<unsigned char>(utf8[i + k]);
          if ((cont & 0xC0) != 0x80) {
            c = 0xFFFD;
            len = k;
            break;
          }
          c = (c << 6) | (cont & 0x3F);
        }
      }
    }
    i += len;
    if (c >= 0x10000 && c <= 0x10FFFF) {
      c -= 0x10000;
      out += static_cast<char16_t>(0xD800 + (c >> 10));
      out += static_cast<char16_t>(0xDC00 + (c & 0x3FF));
    } else {
      out += static_cast<char16_t>(c > 0x10FFFF ? 0xFFFD : c);
    }
  }
  return out;
}

namespace {

// Xerces-C would print to stderr without one; the first fatal error is kept
// and parsing stops there.
class FirstErrorHandler final : public DOMErrorHandler {
 public:
  bool handleError(const DOMError& error) override {
    if (error.getSeverity() == DOMError::DOM_SEVERITY_WARNING) return true;
    if (!failed) {
      failed = true;
      message = to_utf8(error.getMessage());
      if (const DOMLocator* where = error.getLocation()) {
        line = where->getLineNumber();
        column = where->getColumnNumber();
      }
    }
    return false;
  }
  bool failed = false;
  std::string message;
  XMLFileLoc line = 0;
  XMLFileLoc column = 0;
};

// Nothing outside the document is ever fetched: no DTD, no external entity,
// no schema. Returning null with default entity resolution disabled makes
// Xerces-C skip the resource instead of opening it.
class RefusingResolver final : public DOMLSResourceResolver {
 public:
  DOMLSInput* resolveResource(const XMLCh*, const XMLCh*, const XMLCh*, const XMLCh*,
                              const XMLCh*) override {
    ++refused;
    return nullptr;
  }
  unsigned refused = 0;
};

struct ParserReleaser {
  void operator()(DOMLSParser* p) const { p->release(); }
};

DOMImplementation* ls_implementation() {
  static const XMLCh ls[] = {chLatin_L, chLatin_S, chNull};
  return DOMImplementationRegistry::getDOMImplementation(ls);
}

[[noreturn]] void fail_parse(const FirstErrorHandler& errors) {
  const bool expansion = errors.message.find("entity expansion") != std::string::npos;
  std::string message = "malformed XML at line " + std::to_string(errors.line) + ", column " +
                        std::to_string(errors.column) + ": " + errors.message;
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';  // one line, for the log and the 502 reason
  throw MpdError(expansion ? MpdError::Kind::entity_limit : MpdError::Kind::malformed, message);
}

unsigned depth_of(const DOMNode* root, unsigned limit) {
  unsigned depth = 0;
  unsigned deepest = 0;
  const DOMNode* n = root;
  while (n) {
    if (const DOMNode* child = n->getFirstChild()) {
      n = child;
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
      continue;
    }
    while (n && n != root && !n->getNextSibling()) {
      n = n->getParentNode();
      --depth;
    }
    if (!n || n == root) break;
    n = n->getNextSibling();
  }
  return deepest;
}

}  // namespace

struct ParsedDocument::Parser {
  FirstErrorHandler errors;
  RefusingResolver resolver;
  SecurityManager security;
  std::unique_ptr<DOMLSParser, ParserReleaser> parser;
};

ParsedDocument::ParsedDocument(std::unique_ptr<Parser> parser, DOMDocument* document)
    : parser_(std::move(parser)), document_(document) {}
ParsedDocument::ParsedDocument(ParsedDocument&&) noexcept = default;
ParsedDocument& ParsedDocument::operator=(ParsedDocument&&) noexcept = default;
ParsedDocument::~ParsedDocument() = default;

ParsedDocument parse_xml(std::string_view xml, const ParseLimits& limits) {
  auto p = std::make_unique<ParsedDocument::Parser>();
  p->security.setEntityExpansionLimit(limits.max_entity_expansions);
  p->parser.reset(ls_implementation()->createLSParser(DOMImplementationLS::MODE_SYNCHRONOUS, nullptr));
  DOMConfiguration* config = p->parser->getDomConfig();
  config->setParameter(XMLUni::fgDOMErrorHandler, static_cast<DOMErrorHandler*>(&p->errors));
  config->setParameter(XMLUni::fgDOMResourceResolver, static_cast<DOMLSResourceResolver*>(&p->resolver));
  config->setParameter(XMLUni::fgXercesSecurityManager, &p->security);
  config->setParameter(XMLUni::fgDOMDisallowDoctype, true);
  config->setParameter(XMLUni::fgXercesLoadExternalDTD, false);
  config->setParameter(XMLUni::fgXercesDisableDefaultEntityResolution, true);
  config->setParameter(XMLUni::fgDOMEntities, false);
  config->setParameter(XMLUni::fgDOMNamespaces, true);
  config->setParameter(XMLUni::fgDOMValidate, false);
  config->setParameter(XMLUni::fgDOMValidateIfSchema, false);
  config->setParameter(XMLUni::fgXercesSchema, false);
  config->setParameter(XMLUni::fgXercesLoadSchema, false);
  config->setParameter(XMLUni::fgDOMComments, true);
  config->setParameter(XMLUni::fgDOMCDATASections, true);
  config->setParameter(XMLUni::fgDOMElementContentWhitespace, true);

  MemBufInputSource source(reinterpret_cast<const XMLByte*>(xml.data()), xml.size(), "origin-mpd", false);
  Wrapper4InputSource input(&source, false);
  DOMDocument* document = nullptr;
  try {
    document = p->parser->parse(&input);
  } catch (const OutOfMemoryException&) {
    throw MpdError(MpdError::Kind::too_large, "out of memory while parsing");
  } catch (const XMLException& e) {
    throw MpdError(MpdError::Kind::malformed, "malformed XML: " + to_utf8(e.getMessage()));
  } catch (const DOMException& e) {
    throw MpdError(MpdError::Kind::malformed, to_utf8(e.getMessage()));
  }
  if (p->errors.failed) fail_parse(p->errors);
  if (!document || !document->getDocumentElement())
    throw MpdError(MpdError::Kind::malformed, "malformed XML: no root element");
  if (p->resolver.refused)
    throw MpdError(MpdError::Kind::entity_limit, "the document asks for an external resource");
  if (depth_of(document, limits.max_depth) > limits.max_depth)
    throw MpdError(MpdError::Kind::malformed, "elements nested deeper than " + std::to_string(limits.max_depth));
  return ParsedDocument(std::move(p), document);
}

namespace {

class StringTarget final : public XMLFormatTarget {
 public:
  explicit StringTarget(std::string& out) : out_(out) {}
  void writeChars(const XMLByte* const bytes, const XMLSize_t count, XMLFormatter* const) override {
    out_.append(reinterpret_cast<const char*>(bytes), count);
  }
  void flush() override {}

 private:
  std::string& out_;
};

struct SerializerReleaser {
  void operator()(DOMLSSerializer* s) const { s->release(); }
};
struct OutputReleaser {
  void operator()(DOMLSOutput* o) const { o->release(); }
};

}  // namespace

std::string serialize_xml(DOMDocument* document, const DOMElement* unwrap) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  DOMImplementation* impl = ls_implementation();
  std::unique_ptr<DOMLSSerializer, SerializerReleaser> serializer(impl->createLSSerializer());
  std::unique_ptr<DOMLSOutput, OutputReleaser> output(impl->createLSOutput());
  DOMConfiguration* config = serializer->getDomConfig();
  // The declaration is written above so that the top-level nodes can each get
  // their own line (Xerces-C runs them together without pretty-printing).
  config->setParameter(XMLUni::fgDOMXMLDeclaration, false);
  config->setParameter(XMLUni::fgDOMWRTFormatPrettyPrint, false);
  StringTarget target(out);
  static const XMLCh utf8[] = {chLatin_U, chLatin_T, chLatin_F, chDash, chDigit_8, chNull};
  output->setEncoding(utf8);
  output->setByteStream(&target);
  for (DOMNode* n = document->getFirstChild(); n; n = n->getNextSibling()) {
    if (n->getNodeType() == DOMNode::DOCUMENT_TYPE_NODE) continue;
    if (out.back() != '\n') out += '\n';
    if (n == unwrap) {
      for (DOMNode* c = n->getFirstChild(); c; c = c->getNextSibling()) serializer->write(c, output.get());
    } else {
      serializer->write(n, output.get());
    }
  }
  if (out.back() != '\n') out += '\n';
  return out;
}

namespace {

bool is_whitespace_text(const DOMNode* n) {
  if (!n || n->getNodeType() != DOMNode::TEXT_NODE) return false;
  for (const XMLCh* p = n->getNodeValue(); p && *p; ++p)
    if (*p != u' ' && *p != u'\t' && *p != u'\n' && *p != u'\r') return false;
  return true;
}

}  // namespace

void insert_indented(DOMElement* parent, DOMNode* node, DOMNode* ref) {
  if (!ref) {
    parent->appendChild(node);
    return;
  }
  DOMNode* indent = ref->getPreviousSibling();
  parent->insertBefore(node, ref);
  if (is_whitespace_text(indent)) parent->insertBefore(indent->cloneNode(false), ref);
}

void remove_element(DOMElement* e) {
  DOMNode* parent = e->getParentNode();
  DOMNode* before = e->getPreviousSibling();
  if (is_whitespace_text(before)) parent->removeChild(before)->release();
  parent->removeChild(e)->release();
}

bool has_local_name(const DOMElement* e, std::u16string_view name) {
  const XMLCh* local = e->getLocalName();
  if (!local) local = e->getTagName();
  return std::u16string_view(local) == name;
}

bool same_namespace(const DOMElement* e, const XMLCh* ns) {
  return XMLString::equals(e->getNamespaceURI(), ns);
}

DOMElement* first_child_element(const DOMNode* parent) {
  for (DOMNode* n = parent->getFirstChild(); n; n = n->getNextSibling())
    if (n->getNodeType() == DOMNode::ELEMENT_NODE) return static_cast<DOMElement*>(n);
  return nullptr;
}

DOMElement* next_sibling_element(const DOMNode* node) {
  for (DOMNode* n = node->getNextSibling(); n; n = n->getNextSibling())
    if (n->getNodeType() == DOMNode::ELEMENT_NODE) return static_cast<DOMElement*>(n);
  return nullptr;
}

}  // namespace dashpiff::mpd
