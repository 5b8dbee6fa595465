// libFuzzer target for the manifest shape pre-scan (issue #12). For every
// input: no crash, no sanitizer report; the verdict and the element count do
// not depend on how the bytes were chunked (fed a byte at a time, every run
// is read unit by unit; whole, runs are skipped to their delimiter); a document the pre-scan accepts
// under small limits is also accepted under larger ones. The first input byte
// picks the chunk size and how small the limits are; the rest is the document.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mpd/prescan.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_mpd_prescan: %s\n", what);
  std::abort();
}

struct Verdict {
  bool ok;
  std::size_t elements;
  std::string refusal;
};

Verdict scan(std::string_view doc, const dashpiff::XmlLimits& limits, std::size_t chunk) {
  dashpiff::XmlPrescan p(limits);
  for (std::size_t at = 0; at < doc.size(); at += chunk)
    if (!p.feed(doc.substr(at, chunk))) return {false, p.elements(), p.refusal()};
  return {true, p.elements(), {}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = 1 + (data[0] & 0x1f);
  const std::string_view doc(reinterpret_cast<const char*>(data + 1), size - 1);
  dashpiff::XmlLimits small;
  const unsigned shrink = 1 + (data[0] >> 5);  // 1..8
  small.max_elements = 40 / shrink;
  small.max_depth = 12 / shrink;
  small.max_attributes = 8 / shrink;
  small.max_attribute_bytes = 64 / shrink;
  small.max_text_bytes = 256 / shrink;
  const Verdict whole = scan(doc, small, doc.size() ? doc.size() : 1);
  for (const std::size_t size : {chunk, std::size_t{1}}) {
    const Verdict chunked = scan(doc, small, size);
    if (whole.ok != chunked.ok || whole.elements != chunked.elements || whole.refusal != chunked.refusal)
      fail("verdict depends on chunking");
  }
  if (whole.ok && !scan(doc, dashpiff::XmlLimits{}, chunk).ok) fail("accepted under small limits, refused under the defaults");
  return 0;
}
