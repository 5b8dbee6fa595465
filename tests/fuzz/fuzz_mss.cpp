// libFuzzer target for the Smooth module: the fragment rewrite (the
// origin's bytes) and, when the input starts with '<', the manifest parse,
// MPD writer and init synthesis. No crash, no sanitizer report; a converted
// fragment's top-level boxes add up.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <xercesc/util/PlatformUtils.hpp>
#include "bmff/box.h"
#include "mss/fragment.h"
#include "mss/init_segment.h"
#include "mss/manifest.h"
#include "mss/mpd_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool init = (xercesc::XMLPlatformUtils::Initialize(), true);
  (void)init;
  using namespace dashpiff;
  if (size && data[0] == '<') {
    try {
      const auto m = mss::parse_manifest(std::string_view(reinterpret_cast<const char*>(data), size), 10000);
      mss::MpdOptions o;
      o.manifest_url = "http://o.example/a.ism/Manifest";
      mss::write_mpd(m, o);
      for (const auto& s : m.streams)
        for (const auto& q : s.quality_levels) mss::synthesise_init(m, s, q);
    } catch (const mss::MssError&) {
    }
    return 0;
  }
  try {
    const auto out = mss::convert_fragment(data, size);
    std::vector<bmff::Box> top;
    std::string error;
    if (!bmff::walk_boxes(out.data.data(), 0, out.data.size(), top, error)) std::abort();
  } catch (const mss::MssError&) {
  }
  return 0;
}
