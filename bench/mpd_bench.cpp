// How much the MPD rewrite costs over what Xerces-C needs anyway: a live MPD
// with a long SegmentTimeline (about 1 MB) is parsed and serialised
// unchanged, and rewritten, alternately in the same run. The bar:
// rewriting takes less than 3x the plain parse + serialise.
//
//   bench/mpd_bench [--bytes N] [--rounds N] [--file MPD] [--limit RATIO]
//
// Prints both medians and the ratio; exits 1 when the ratio reaches the limit.
#include <xercesc/dom/DOM.hpp>
#include <xercesc/framework/MemBufFormatTarget.hpp>
#include <xercesc/framework/MemBufInputSource.hpp>
#include <xercesc/framework/Wrapper4InputSource.hpp>
#include <xercesc/util/XMLUniDefs.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "mpd/rewriter.h"

using namespace xercesc;

namespace {

// A dynamic MPD as a live packager writes it: one SegmentTimeline entry per
// segment (durations vary, so no @r), several AdaptationSets.
std::string live_mpd(std::size_t target_bytes) {
  std::string head =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" xmlns:cenc=\"urn:mpeg:cenc:2013\" type=\"dynamic\""
      " availabilityStartTime=\"1970-01-01T00:00:00Z\" publishTime=\"2026-11-27T10:00:00Z\" minimumUpdatePeriod=\"PT2S\""
      " timeShiftBufferDepth=\"PT24H\" maxSegmentDuration=\"PT2S\" minBufferTime=\"PT4S\""
      " profiles=\"urn:mpeg:dash:profile:isoff-live:2011\">\n"
      "  <Location>https://live-origin.example/out/channel/index.mpd</Location>\n"
      "  <Period id=\"1\" start=\"PT0S\">\n";
  const char* const sets[] = {"video", "audio_eng", "audio_deu", "subtitles"};
  const std::size_t per_set = target_bytes / 4;
  std::string body;
  for (const char* set : sets) {
    std::string timeline;
    unsigned long long t = 158765418000ULL;
    for (unsigned i = 0; timeline.size() < per_set; ++i) {
      const unsigned d = 180000 + (i % 3) * 900;
      timeline += "          <S t=\"" + std::to_string(t) + "\" d=\"" + std::to_string(d) + "\"/>\n";
      t += d;
    }
    body += std::string("    <AdaptationSet id=\"") + set + "\" mimeType=\"video/mp4\" segmentAlignment=\"true\">\n"
            "      <ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\""
            " cenc:default_KID=\"6a4a5b5c-1f2e-4d3c-9b8a-7f6e5d4c3b2a\"/>\n"
            "      <SegmentTemplate timescale=\"90000\" initialization=\"" + set + "-$RepresentationID$.dash\""
            " media=\"" + set + "-$RepresentationID$-$Time$.dash\">\n        <SegmentTimeline>\n" + timeline +
            "        </SegmentTimeline>\n      </SegmentTemplate>\n"
            "      <Representation id=\"1\" bandwidth=\"5000000\"/>\n      <Representation id=\"2\" bandwidth=\"2500000\"/>\n"
            "    </AdaptationSet>\n";
  }
  return head + body + "  </Period>\n</MPD>\n";
}

struct ParserReleaser {
  void operator()(DOMLSParser* p) const { p->release(); }
};
struct SerializerReleaser {
  void operator()(DOMLSSerializer* s) const { s->release(); }
};
struct OutputReleaser {
  void operator()(DOMLSOutput* o) const { o->release(); }
};

class Quiet final : public DOMErrorHandler {
 public:
  bool handleError(const DOMError&) override {
    failed = true;
    return false;
  }
  bool failed = false;
};

// What Xerces-C needs to read the document and write it back, nothing else.
std::size_t parse_and_serialise(const std::string& xml) {
  static const XMLCh ls[] = {chLatin_L, chLatin_S, chNull};
  DOMImplementation* impl = DOMImplementationRegistry::getDOMImplementation(ls);
  std::unique_ptr<DOMLSParser, ParserReleaser> parser(impl->createLSParser(DOMImplementationLS::MODE_SYNCHRONOUS, nullptr));
  Quiet quiet;
  parser->getDomConfig()->setParameter(XMLUni::fgDOMErrorHandler, static_cast<DOMErrorHandler*>(&quiet));
  parser->getDomConfig()->setParameter(XMLUni::fgDOMNamespaces, true);
  MemBufInputSource source(reinterpret_cast<const XMLByte*>(xml.data()), xml.size(), "bench", false);
  Wrapper4InputSource input(&source, false);
  DOMDocument* doc = parser->parse(&input);
  if (quiet.failed || !doc) {
    std::fprintf(stderr, "baseline parse failed\n");
    std::exit(2);
  }
  std::unique_ptr<DOMLSSerializer, SerializerReleaser> serializer(impl->createLSSerializer());
  std::unique_ptr<DOMLSOutput, OutputReleaser> output(impl->createLSOutput());
  MemBufFormatTarget target(xml.size() + 1024);
  static const XMLCh utf8[] = {chLatin_U, chLatin_T, chLatin_F, chDash, chDigit_8, chNull};
  output->setEncoding(utf8);
  output->setByteStream(&target);
  serializer->write(doc, output.get());
  return target.getLen();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t bytes = 1u << 20;
  int rounds = 5;
  double limit = 3.0;
  std::string file;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--bytes") bytes = std::strtoul(argv[i + 1], nullptr, 10);
    else if (flag == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--file") file = argv[i + 1];
    else if (flag == "--limit") limit = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--bytes N] [--rounds N] [--file MPD] [--limit RATIO]\n", argv[0]);
      return 2;
    }
  }

  dashpiff::XercesGlobal xerces;
  std::string xml;
  if (file.empty()) {
    xml = live_mpd(bytes);
  } else {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    xml = s.str();
  }
  dashpiff::MpdRewriteOptions options;
  options.manifest_url = "https://live-origin.example/out/channel/index.mpd";
  options.manifest_query = "hdnts=exp=1764241200~acl=/out/channel/*~hmac=0a1b2c";

  using clock = std::chrono::steady_clock;
  std::vector<double> plain;
  std::vector<double> rewrite;
  std::size_t plain_bytes = 0;
  std::size_t rewritten_bytes = 0;
  unsigned urls = 0;
  // Alternate the two so that both see the same machine load.
  for (int r = 0; r <= rounds; ++r) {
    auto start = clock::now();
    plain_bytes = parse_and_serialise(xml);
    const double a = std::chrono::duration<double, std::milli>(clock::now() - start).count();
    start = clock::now();
    const auto result = dashpiff::rewrite_mpd(xml, options);
    const double b = std::chrono::duration<double, std::milli>(clock::now() - start).count();
    rewritten_bytes = result.xml.size();
    urls = result.urls_rewritten;
    if (r == 0) continue;  // warm-up
    plain.push_back(a);
    rewrite.push_back(b);
  }
  const double ratio = median(rewrite) / median(plain);
  std::printf("mpd_bench: input %zu bytes (%s)\n", xml.size(), file.empty() ? "generated live SegmentTimeline MPD" : file.c_str());
  std::printf("  parse + serialise unchanged: median %.2f ms (%zu bytes out)\n", median(plain), plain_bytes);
  std::printf("  rewrite_mpd:                 median %.2f ms (%zu bytes out, %u urls rewritten)\n", median(rewrite),
              rewritten_bytes, urls);
  std::printf("  ratio %.2f (limit %.2f) over %d rounds\n", ratio, limit, rounds);
  return ratio < limit ? 0 : 1;
}
