#include "mpd/prescan.h"

#include "mpd/error.h"

#include <algorithm>

namespace dashpiff {

namespace {

bool is_space(char32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

constexpr char kCdata[] = "[CDATA[";

}  // namespace

bool XmlPrescan::refuse(std::string why) {
  if (refusal_.empty()) refusal_ = std::move(why);
  return false;
}

// `units` more of the current name, value or text run.
bool XmlPrescan::grow_run(std::size_t limit, const char* what, const char* option, std::size_t units) {
  run_ += units;
  if (run_ <= limit) return true;
  return refuse(std::string(what) + " longer than " + std::to_string(limit) + " bytes (" + option + ")");
}

void XmlPrescan::open_element() {
  if (++elements_ > limits_.max_elements) {
    refuse("more than " + std::to_string(limits_.max_elements) + " elements (max-manifest-elements)");
    return;
  }
  if (++depth_ > limits_.max_depth) {
    refuse("elements nested deeper than " + std::to_string(limits_.max_depth) + " (max-manifest-depth)");
    return;
  }
  attributes_ = 0;
  run_ = 1;
}

void XmlPrescan::grow_text(std::size_t units) {
  grow_run(limits_.max_text_bytes, "a text run, comment or CDATA section", "max-manifest-text-bytes", units);
}

void XmlPrescan::grow_name(std::size_t units) {
  grow_run(limits_.max_attribute_bytes, "a name or attribute value", "max-manifest-attribute-bytes", units);
}

void XmlPrescan::unit(char32_t c) {
  const auto text = [this] { grow_text(1); };
  const auto name = [this] { grow_name(1); };
  switch (state_) {
    case State::text:
      if (c == '<') {
        state_ = State::lt;
        run_ = 0;
      } else {
        text();
      }
      return;
    case State::lt:
      if (c == '/') {
        state_ = State::end_tag;
      } else if (c == '!') {
        state_ = State::bang;
      } else if (c == '?') {
        state_ = State::pi;
      } else if (is_space(c) || c == '>' || c == '<') {
        state_ = State::text;  // not markup; Xerces will say so
      } else {
        open_element();
        state_ = State::start_name;
      }
      return;
    case State::start_name:
      if (is_space(c)) {
        state_ = State::in_tag;
      } else if (c == '>') {
        state_ = State::text;
        run_ = 0;
      } else if (c == '/') {
        state_ = State::slash_in_tag;
      } else {
        name();
      }
      return;
    case State::in_tag:
      if (is_space(c)) return;
      if (c == '>') {
        state_ = State::text;
        run_ = 0;
      } else if (c == '/') {
        state_ = State::slash_in_tag;
      } else {
        if (++attributes_ > limits_.max_attributes) {
          refuse("more than " + std::to_string(limits_.max_attributes) +
                 " attributes on one element (max-manifest-attributes)");
          return;
        }
        if (++attributes_total_ > limits_.total_attributes()) {
          refuse("more than " + std::to_string(limits_.total_attributes()) +
                 " attributes in the document (4 x max-manifest-elements)");
          return;
        }
        state_ = State::attr_name;
        run_ = 1;
      }
      return;
    case State::attr_name:
      if (c == '=') {
        state_ = State::before_value;
      } else if (is_space(c)) {
        state_ = State::after_attr_name;
      } else if (c == '>' || c == '/') {
        state_ = State::in_tag;  // malformed; the tag still ends
        unit(c);
      } else {
        name();
      }
      return;
    case State::after_attr_name:
      if (c == '=') {
        state_ = State::before_value;
      } else if (!is_space(c)) {
        state_ = State::in_tag;
        unit(c);
      }
      return;
    case State::before_value:
      if (c == '"' || c == '\'') {
        quote_ = c;
        run_ = 0;
        state_ = State::value;
      } else if (!is_space(c)) {
        state_ = State::in_tag;
        unit(c);
      }
      return;
    case State::value:
      if (c == quote_) {
        state_ = State::in_tag;
      } else {
        name();
      }
      return;
    case State::slash_in_tag:
      if (c == '>') {
        if (depth_ > 0) --depth_;  // <x/> closes itself
        state_ = State::text;
        run_ = 0;
      } else {
        state_ = State::in_tag;
        unit(c);
      }
      return;
    case State::end_tag:
      if (c == '>') {
        if (depth_ > 0) --depth_;
        state_ = State::text;
        run_ = 0;
      } else {
        name();
      }
      return;
    case State::bang:
      if (c == '-') {
        state_ = State::bang_dash;
      } else if (c == '[') {
        state_ = State::cdata_open;
        cdata_matched_ = 1;
      } else {
        state_ = State::decl;
        decl_brackets_ = 0;
        unit(c);
      }
      return;
    case State::bang_dash:
      state_ = c == '-' ? State::comment : State::decl;
      return;
    case State::comment:
      if (c == '-') state_ = State::comment_dash;
      else text();
      return;
    case State::comment_dash:
      state_ = c == '-' ? State::comment_dash_dash : State::comment;
      text();
      return;
    case State::comment_dash_dash:
      if (c == '>') {
        state_ = State::text;
        run_ = 0;
      } else {
        if (c != '-') state_ = State::comment;
        text();
      }
      return;
    case State::cdata_open:
      if (c == char32_t(kCdata[cdata_matched_])) {
        if (++cdata_matched_ == sizeof kCdata - 1) {
          state_ = State::cdata;
          run_ = 0;
        }
      } else {
        state_ = State::decl;
        decl_brackets_ = 0;
      }
      return;
    case State::cdata:
      if (c == ']') state_ = State::cdata_br;
      else text();
      return;
    case State::cdata_br:
      state_ = c == ']' ? State::cdata_br_br : State::cdata;
      text();
      return;
    case State::cdata_br_br:
      if (c == '>') {
        state_ = State::text;
        run_ = 0;
      } else {
        if (c != ']') state_ = State::cdata;
        text();
      }
      return;
    case State::decl:  // DOCTYPE and the like, internal subset included
      if (c == '[') {
        ++decl_brackets_;
      } else if (c == ']' && decl_brackets_ > 0) {
        --decl_brackets_;
      } else if (c == '>' && decl_brackets_ == 0) {
        state_ = State::text;
        run_ = 0;
        return;
      }
      text();
      return;
    case State::pi:
      if (c == '?') state_ = State::pi_q;
      else text();
      return;
    case State::pi_q:
      if (c == '>') {
        state_ = State::text;
        run_ = 0;
      } else {
        if (c != '?') state_ = State::pi;
        text();
      }
      return;
  }
}

// Most of a manifest's bytes are runs: text, attribute values, comments.
// The scan runs on the worker's event loop as the bytes arrive (issue #13),
// so a run is skipped to its one delimiter at memchr's speed rather than a
// state switch per byte (a 15 MB manifest of long values held the loop for
// tens of milliseconds per fetch). Counts as unit() would, byte for byte:
// what ends the run, or may, is left to unit(). Returns the bytes skipped.
std::size_t XmlPrescan::skip_run(std::string_view bytes) {
  char delimiter = 0;
  switch (state_) {
    case State::text: delimiter = '<'; break;
    case State::comment: delimiter = '-'; break;
    case State::cdata: delimiter = ']'; break;
    case State::pi: delimiter = '?'; break;
    case State::value: delimiter = static_cast<char>(quote_); break;
    default: return 0;
  }
  const std::size_t length = std::min(bytes.find(delimiter), bytes.size());
  if (length == 0) return 0;
  if (state_ == State::value) grow_name(length);
  else grow_text(length);
  return length;
}

bool XmlPrescan::feed(std::string_view bytes) {
  if (refused()) return false;
  std::size_t i = 0;
  if (encoding_ == Encoding::unknown) {
    // Two bytes decide: a UTF-16 byte order mark or '<' as a UTF-16 unit.
    while (pending_len_ < 2 && i < bytes.size()) pending_[pending_len_++] = static_cast<unsigned char>(bytes[i++]);
    if (pending_len_ < 2) return true;
    const unsigned a = pending_[0], b = pending_[1];
    pending_len_ = 0;
    if ((a == 0xFF && b == 0xFE) || (a == '<' && b == 0)) {
      encoding_ = Encoding::utf16le;
    } else if ((a == 0xFE && b == 0xFF) || (a == 0 && b == '<')) {
      encoding_ = Encoding::utf16be;
    } else {
      encoding_ = Encoding::bytes;
    }
    if (encoding_ == Encoding::bytes) {
      unit(a);
      if (!refused()) unit(b);
    } else if (a == '<' || b == '<') {
      unit('<');
    }
    if (refused()) return false;
  }
  if (encoding_ == Encoding::bytes) {
    while (i < bytes.size()) {
      const std::size_t skipped = skip_run(bytes.substr(i));
      if (skipped == 0) unit(static_cast<unsigned char>(bytes[i]));
      i += skipped == 0 ? 1 : skipped;
      if (!refusal_.empty()) return false;
    }
    return true;
  }
  const bool le = encoding_ == Encoding::utf16le;
  for (; i < bytes.size(); ++i) {
    pending_[pending_len_++] = static_cast<unsigned char>(bytes[i]);
    if (pending_len_ < 2) continue;
    pending_len_ = 0;
    unit(le ? char32_t(pending_[0] | (pending_[1] << 8)) : char32_t((pending_[0] << 8) | pending_[1]));
    if (!refusal_.empty()) return false;
  }
  return true;
}

void prescan_xml(std::string_view xml, const XmlLimits& limits) {
  XmlPrescan scan(limits);
  if (!scan.feed(xml)) throw MpdError(MpdError::Kind::too_large, "manifest refused: " + scan.refusal());
}

}  // namespace dashpiff
