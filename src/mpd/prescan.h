// A streaming pre-scan of an XML document's shape, run on the bytes as they
// arrive and before Xerces-C builds anything (issue #12): element count,
// nesting depth, attributes per element and in all, name, attribute and
// text lengths. A manifest over any limit is refused while it is still being
// fetched, in time and memory proportional to the limits, not to what the
// document declares. It is not a parser: it reads only the characters that
// delimit markup and never under-counts what a well-formed document holds
// (a DOCTYPE, and with it entity expansion into markup, is refused later by
// the rewriter; the pre-scan skips one without counting it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dashpiff {

// Defaults: the largest real MPDs in tests/data/mpd have 33 elements,
// nesting 8 deep, 15 attributes on one element, attribute values of 149
// bytes and text runs of 1,120 (a base64 PlayReady header). A 3-hour
// SegmentList of 2-s segments for 8 representations is 43,000 elements.
struct XmlLimits {
  std::size_t max_elements = 50000;          // max-manifest-elements
  std::size_t max_depth = 32;                // max-manifest-depth
  std::size_t max_attributes = 64;           // max-manifest-attributes (on one element)
  std::size_t max_attribute_bytes = 64 * 1024;  // max-manifest-attribute-bytes (a name or a value)
  std::size_t max_text_bytes = 1024 * 1024;  // max-manifest-text-bytes (text, CDATA, comment or PI)
  // All attributes together: a 16 MiB document of 64-attribute elements
  // would otherwise make ~3 million DOM attributes.
  std::size_t total_attributes() const { return 4 * max_elements; }
};

class XmlPrescan {
 public:
  explicit XmlPrescan(const XmlLimits& limits) : limits_(limits) {}

  // False once a limit is crossed (and from then on); refusal() says which.
  bool feed(std::string_view bytes);
  bool refused() const { return !refusal_.empty(); }
  // One line naming the limit and its option, e.g. "more than 50000 elements
  // (max-manifest-elements)".
  const std::string& refusal() const { return refusal_; }
  std::size_t elements() const { return elements_; }

 private:
  enum class State : std::uint8_t {
    text, lt, bang, bang_dash, comment, comment_dash, comment_dash_dash, cdata_open, cdata,
    cdata_br, cdata_br_br, decl, pi, pi_q, start_name, in_tag, attr_name, after_attr_name,
    before_value, value, slash_in_tag, end_tag,
  };
  void unit(char32_t c);
  std::size_t skip_run(std::string_view bytes);
  bool refuse(std::string why);
  bool grow_run(std::size_t limit, const char* what, const char* option, std::size_t units);
  void grow_text(std::size_t units);  // text, comment, CDATA, PI, declaration
  void grow_name(std::size_t units);  // a name or an attribute value
  void open_element();

  XmlLimits limits_;
  std::string refusal_;
  State state_ = State::text;
  // UTF-16 is scanned per code unit once a byte order mark or '<' pattern
  // shows it; UTF-8 and the rest per byte.
  enum class Encoding : std::uint8_t { unknown, bytes, utf16le, utf16be } encoding_ = Encoding::unknown;
  unsigned char pending_[2] = {0, 0};
  std::size_t pending_len_ = 0;
  std::size_t seen_ = 0;
  std::size_t elements_ = 0;
  std::size_t attributes_total_ = 0;
  std::size_t depth_ = 0;
  std::size_t attributes_ = 0;  // on the element being read
  std::size_t run_ = 0;         // length of the current name, value or text run
  char32_t quote_ = 0;
  std::size_t cdata_matched_ = 0;  // of "[CDATA["
  std::size_t decl_brackets_ = 0;  // '[' open inside a DOCTYPE
};

// Scans a whole document; throws MpdError (too_large) naming the limit.
void prescan_xml(std::string_view xml, const XmlLimits& limits);

}  // namespace dashpiff
