// Looks at the start of an XML document without parsing it: enough to tell an
// MPD (or a remote DASH element) from anything else, and to see a DOCTYPE
// before Xerces-C is ever handed one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dashpiff::mpd {

struct XmlProlog {
  bool root_found = false;    // the root start tag was reached
  bool has_doctype = false;
  bool utf16 = false;         // scanned through a UTF-16 byte order mark or pattern
  std::size_t root_offset = 0;  // byte offset of the root's '<' (UTF-8 input only)
  std::string root_name;      // qualified name as written, or the DOCTYPE's name as a hint
  std::string_view local_name() const;
};

// Skips a byte order mark, the XML declaration, comments, processing
// instructions, whitespace and a DOCTYPE (with its internal subset).
XmlProlog scan_prolog(std::string_view body);

// Root elements the rewriter accepts: MPD, or a remote element entity that a
// player fetches through xlink:href (Period, AdaptationSet, SegmentList, EventStream).
bool is_mpd_root(std::string_view local_name);
bool is_remote_element_root(std::string_view local_name);
// An MPD patch document (ISO/IEC 23009-1 §5.15): root <Patch>.
bool is_patch_root(std::string_view local_name);

}  // namespace dashpiff::mpd
