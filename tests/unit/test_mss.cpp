// Smooth Streaming in, DASH out: the client manifest, the MPD written for it,
// synthesised init segments and converted fragments, on the ffmpeg-made
// fixtures (tests/data/streams/smooth-*) and on hand-made hostile input.
#define BOOST_TEST_MODULE mss
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <xercesc/util/PlatformUtils.hpp>

#include "bmff/box.h"
#include "bmff/fields.h"
#include "bmff_builder.h"
#include "bmff_test_support.h"
#include "mpd/dom.h"
#include "mss/codec.h"
#include "mss/fragment.h"
#include "mss/init_segment.h"
#include "mss/manifest.h"
#include "mss/mpd_writer.h"
#include "piff/segment_patcher.h"

using namespace dashpiff;
using namespace dashpiff::mss;

namespace {

struct XercesFixture {
  XercesFixture() { xercesc::XMLPlatformUtils::Initialize(); }
  ~XercesFixture() { xercesc::XMLPlatformUtils::Terminate(); }
};
BOOST_TEST_GLOBAL_FIXTURE(XercesFixture);

std::string data_path(const std::string& rel) {
  const char* dir = std::getenv("DASHPIFF_TEST_DATA");
  return std::string(dir ? dir : "tests/data") + "/" + rel;
}

std::string read_file(const std::string& rel) {
  std::ifstream in(data_path(rel), std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " + data_path(rel));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Bytes read_bytes(const std::string& rel) {
  const std::string s = read_file(rel);
  return Bytes(s.begin(), s.end());
}

const std::string kKid = "00112233445566778899aabbccddeeff";

std::string hex(const std::uint8_t* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += d[p[i] >> 4];
    out += d[p[i] & 15];
  }
  return out;
}

// Offset of the first box of type `t` anywhere in `b` found by walking every
// container the engine knows (the test's own walk, through bmff's parser).
const bmff::Node* find_node(const bmff::Node& n, bmff::FourCC t) {
  if (n.box.header.type == t) return &n;
  for (const auto& c : n.children)
    if (const auto* f = find_node(c, t)) return f;
  return nullptr;
}

// Top-level boxes, each parsed as a tree whose offsets are made absolute.
void shift(bmff::Node& n, std::size_t by) {
  n.box.offset += by;
  for (auto& c : n.children) shift(c, by);
}
std::vector<bmff::Node> parse_top(const Bytes& b) {
  std::vector<bmff::Box> top;
  std::string error;
  BOOST_REQUIRE_MESSAGE(bmff::walk_boxes(b.data(), 0, b.size(), top, error), error);
  std::vector<bmff::Node> out;
  for (const auto& box : top) {
    auto n = bmff::parse_tree(b.data() + box.offset, box.size, error);
    BOOST_REQUIRE_MESSAGE(n, error);
    shift(*n, box.offset);
    out.push_back(*n);
  }
  return out;
}

std::string manifest_with(const std::string& stream_body, const std::string& root_attrs = "MajorVersion=\"2\"") {
  return "<?xml version=\"1.0\"?><SmoothStreamingMedia " + root_attrs +
         "><StreamIndex Type=\"video\" Url=\"QualityLevels({bitrate})/Fragments(video={start time})\">"
         "<QualityLevel Bitrate=\"1000\" FourCC=\"H264\" MaxWidth=\"16\" MaxHeight=\"16\" "
         "CodecPrivateData=\"00000001674d400b0000000168ef\"/>" +
         stream_body + "</StreamIndex></SmoothStreamingMedia>";
}

MssError::Kind error_kind(const std::string& xml) {
  try {
    parse_manifest(xml, 1000);
  } catch (const MssError& e) {
    return e.kind();
  }
  BOOST_FAIL("manifest was accepted: " + xml);
  return MssError::Kind::malformed;
}

}  // namespace

BOOST_AUTO_TEST_CASE(recognises_smooth_manifests_utf8_and_utf16) {
  BOOST_TEST(looks_like_smooth("<?xml version=\"1.0\"?>\n<SmoothStreamingMedia MajorVersion=\"2\">"));
  std::string utf16 = "\xFF\xFE";
  for (char c : std::string("<SmoothStreamingMedia MajorVersion=\"2\">")) utf16 += std::string{c, '\0'};
  BOOST_TEST(looks_like_smooth(utf16));
  BOOST_TEST(!looks_like_smooth("<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\">"));
  BOOST_TEST(!looks_like_smooth("<html><body>&lt;SmoothStreamingMedia"));
  BOOST_TEST(!looks_like_smooth("<MPD><!-- <SmoothStreamingMedia --></MPD>"));
}

BOOST_AUTO_TEST_CASE(reads_the_ffmpeg_vod_manifest) {
  const Manifest m = parse_manifest(read_file("streams/smooth-vod/Manifest"));
  BOOST_TEST(!m.is_live);
  BOOST_TEST(m.duration == 60500000u);
  BOOST_REQUIRE(m.streams.size() == 2u);
  const StreamIndex& v = m.streams[0];
  BOOST_TEST((v.type == StreamType::video));
  BOOST_TEST(v.timescale == 10000000u);
  BOOST_REQUIRE(v.quality_levels.size() == 1u);
  BOOST_TEST(v.quality_levels[0].fourcc == "H264");
  BOOST_TEST(v.quality_levels[0].max_width == 160u);
  BOOST_REQUIRE(v.timeline.size() == 3u);
  BOOST_TEST(v.timeline[0].t == 800000u);
  BOOST_TEST(v.timeline[1].t == 20800000u);  // no t: where the previous ended
  BOOST_TEST(v.timeline[2].t == 40800000u);
  BOOST_TEST(v.end() == 60800000u);
  BOOST_TEST((m.streams[1].type == StreamType::audio));
  BOOST_TEST(m.streams[1].quality_levels[0].sampling_rate == 48000u);
  BOOST_TEST(!m.playready);
}

BOOST_AUTO_TEST_CASE(r_counts_fragments_and_t_defaults_to_the_previous_end) {
  const Manifest m = parse_manifest(manifest_with("<c t=\"100\" d=\"10\" r=\"3\"/><c d=\"20\"/>"));
  const auto& tl = m.streams[0].timeline;
  BOOST_REQUIRE(tl.size() == 2u);
  BOOST_TEST(tl[0].repeat == 3u);
  BOOST_TEST(tl[1].t == 130u);
  BOOST_TEST(m.streams[0].end() == 150u);
}

BOOST_AUTO_TEST_CASE(refuses_hostile_timelines_and_numbers) {
  using K = MssError::Kind;
  BOOST_TEST((error_kind(manifest_with("<c t=\"100\" d=\"10\"/><c t=\"50\" d=\"10\"/>")) == K::malformed));
  BOOST_TEST((error_kind(manifest_with("<c d=\"10\" r=\"0\"/>")) == K::malformed));
  BOOST_TEST((error_kind(manifest_with("<c d=\"0\"/>")) == K::malformed));
  BOOST_TEST((error_kind(manifest_with("<c d=\"-5\"/>")) == K::malformed));
  BOOST_TEST((error_kind(manifest_with("<c d=\"10\" r=\"1001\"/>")) == K::malformed));  // over the budget
  BOOST_TEST((error_kind(manifest_with("<c t=\"9223372036854775800\" d=\"10\" r=\"2\"/>")) == K::malformed));
  BOOST_TEST((error_kind(manifest_with("<c d=\"99999999999999999999999\"/>")) == K::malformed));
  BOOST_TEST((error_kind(manifest_with("<c/><c d=\"10\"/>")) == K::malformed));
  BOOST_TEST((error_kind(manifest_with("<c d=\"10\"/>", "MajorVersion=\"1\"")) == K::unsupported));
  BOOST_TEST((error_kind(manifest_with("<c d=\"10\"/>", "MajorVersion=\"2\" TimeScale=\"0\"")) == K::malformed));
  BOOST_TEST((error_kind("<SmoothStreamingMedia MajorVersion=\"2\"><unclosed>") == K::malformed));
  BOOST_TEST((error_kind("<!DOCTYPE x [<!ENTITY a \"b\">]><SmoothStreamingMedia MajorVersion=\"2\"/>") == K::malformed));
  BOOST_TEST((error_kind("<MPD/>") == K::malformed));
}

BOOST_AUTO_TEST_CASE(live_manifest_without_the_last_duration_keeps_the_known_fragments) {
  const Manifest m = parse_manifest(manifest_with("<c t=\"0\" d=\"10\"/><c t=\"10\"/>", "MajorVersion=\"2\" IsLive=\"TRUE\""));
  BOOST_TEST(m.is_live);
  BOOST_TEST(m.streams[0].timeline.size() == 1u);
}

BOOST_AUTO_TEST_CASE(playready_kid_comes_out_in_cenc_byte_order) {
  const Manifest m = parse_manifest(read_file("streams/smooth-vod-piff/Manifest"));
  BOOST_REQUIRE(m.playready);
  BOOST_TEST(hex(m.playready->kid.data(), 16) == kKid);
  BOOST_TEST(m.playready->object.size() > 100u);
}

BOOST_AUTO_TEST_CASE(a_drm_system_other_than_playready_is_refused) {
  const std::string xml =
      "<SmoothStreamingMedia MajorVersion=\"2\"><Protection><ProtectionHeader "
      "SystemID=\"{EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED}\">AAAA</ProtectionHeader></Protection></SmoothStreamingMedia>";
  BOOST_TEST((error_kind(xml) == MssError::Kind::unsupported));
}

BOOST_AUTO_TEST_CASE(avcc_is_built_from_the_annex_b_sps_and_pps) {
  const Manifest m = parse_manifest(read_file("streams/smooth-vod/Manifest"));
  const CodecConfig c = codec_config(m.streams[0], m.streams[0].quality_levels[0]);
  BOOST_TEST(c.codecs == "avc1.4d400b");
  BOOST_TEST(c.width == 160u);
  BOOST_TEST(c.height == 90u);
  const std::string box = hex(c.config_box.data(), c.config_box.size());
  // size, 'avcC', version 1, profile/compat/level, 4-byte lengths, 1 SPS of 25 bytes
  BOOST_TEST(box.substr(8, 8) == "61766343");
  BOOST_TEST(box.substr(16, 12) == "014d400bffe1");
  BOOST_TEST(box.substr(28, 4) == "0017");
  BOOST_TEST(box.substr(32, 10) == "674d400bec");
  BOOST_TEST(box.substr(box.size() - 14) == "01000468efbc80");  // 1 PPS of 4 bytes
}

BOOST_AUTO_TEST_CASE(aac_config_from_codec_private_data_or_derived) {
  const Manifest m = parse_manifest(read_file("streams/smooth-vod/Manifest"));
  QualityLevel level = m.streams[1].quality_levels[0];
  const CodecConfig given = codec_config(m.streams[1], level);
  BOOST_TEST(given.codecs == "mp4a.40.2");
  BOOST_TEST(given.sample_rate == 48000u);
  level.codec_private_data.clear();  // AACL described by SamplingRate/Channels alone
  const CodecConfig derived = codec_config(m.streams[1], level);
  const std::string box = hex(derived.config_box.data(), derived.config_box.size());
  BOOST_TEST(box.find("05021188") != std::string::npos);  // DecoderSpecificInfo: AAC-LC, 48 kHz, mono
  level.fourcc = "WMAP";
  BOOST_CHECK_THROW(codec_config(m.streams[1], level), MssError);
}

BOOST_AUTO_TEST_CASE(hevc_config_reads_the_profile_from_the_sps) {
  // VPS/SPS/PPS of an x265 Main-profile 64x64 stream (level 1), Annex B.
  QualityLevel level;
  level.fourcc = "HVC1";
  level.max_width = 64;
  level.max_height = 64;
  StreamIndex stream;
  stream.type = StreamType::video;
  const std::string cpd =
      "0000000140010c01ffff01600000030090000003000003001e959809"
      "0000000142010101600000030090000003000003001ea020810596566924caf0168080000003008000000c84"
      "000000014401c172b42240";
  for (std::size_t i = 0; i < cpd.size(); i += 2)
    level.codec_private_data.push_back(static_cast<std::uint8_t>(std::stoul(cpd.substr(i, 2), nullptr, 16)));
  const CodecConfig c = codec_config(stream, level);
  BOOST_TEST(c.codecs == "hvc1.1.6.L30.90");
  // version 1, profile byte, compatibility flags, constraint flags, level_idc 30
  BOOST_TEST(hex(c.config_box.data() + 8, 13) == "0101600000009000000000001e");
  BOOST_TEST(hex(c.config_box.data() + 4, 4) == "68766343");
}

BOOST_AUTO_TEST_CASE(init_segment_carries_encv_sinf_tenc_and_playready_pssh) {
  const Manifest m = parse_manifest(read_file("streams/smooth-vod-piff/Manifest"));
  const Bytes init = synthesise_init(m, m.streams[0], m.streams[0].quality_levels[0]);
  const auto top = parse_top(init);
  BOOST_REQUIRE(top.size() == 2u);
  BOOST_TEST(top[0].box.header.type == bmff::fourcc("ftyp"));
  const bmff::Node& moov = top[1];
  BOOST_TEST(moov.box.header.type == bmff::fourcc("moov"));
  const auto* tkhd = find_node(moov, bmff::fourcc("tkhd"));
  BOOST_REQUIRE(tkhd);
  BOOST_TEST(bmff::load_u32(init.data() + tkhd->box.offset + 20) == kTrackId);
  const std::string all = hex(init.data(), init.size());
  // encv sample entry, frma avc1, schm cenc 1.0, tenc protected with 8-byte IVs and the KID
  BOOST_TEST(all.find("656e6376") != std::string::npos);
  BOOST_TEST(all.find("66726d6161766331") != std::string::npos);
  BOOST_TEST(all.find("7363686d0000000063656e6300010000") != std::string::npos);
  BOOST_TEST(all.find("74656e6300000000000001" "08" + kKid) != std::string::npos);
  const auto* pssh = find_node(moov, bmff::fourcc("pssh"));
  BOOST_REQUIRE(pssh);
  const auto p = bmff::read_fields<bmff::Pssh>(init.data(), pssh->box);
  BOOST_REQUIRE(p);
  BOOST_TEST((p->system_id == kPlayReadySystemId));
  BOOST_TEST((p->data == m.playready->object));

  const Bytes clear = synthesise_init(parse_manifest(read_file("streams/smooth-vod/Manifest")), m.streams[1],
                                      m.streams[1].quality_levels[0]);
  const std::string a = hex(clear.data(), clear.size());
  BOOST_TEST(a.find("6d703461") != std::string::npos);  // mp4a, not enca
  BOOST_TEST(a.find("656e6361") == std::string::npos);
  BOOST_TEST(a.find("70737368") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(vod_mpd_maps_every_fragment_and_protection) {
  const Manifest m = parse_manifest(read_file("streams/smooth-vod-piff/Manifest"));
  MpdOptions o;
  o.manifest_url = "http://origin.example/p.ism/Manifest";
  o.manifest_query = "token=a";
  const MpdResult r = write_mpd(m, o);
  BOOST_TEST(r.representations == 2u);
  const std::string& x = r.xml;
  BOOST_TEST(x.find("type=\"static\" mediaPresentationDuration=\"PT6.050S\"") != std::string::npos);
  BOOST_TEST(x.find("<S t=\"800000\" d=\"20000000\"/>") != std::string::npos);
  BOOST_TEST(x.find("<S t=\"40800000\" d=\"20000000\"/>") != std::string::npos);
  BOOST_TEST(x.find("media=\"/media/http!0!1!1origin.example!1p.ism!1Manifest!4token=a/"
                    "QualityLevels(44560)/Fragments(video=$Time$)\"") != std::string::npos);
  BOOST_TEST(x.find("initialization=\"/mss-init/http!0!1!1origin.example!1p.ism!1Manifest!4token=a/0-0.mp4\"") !=
             std::string::npos);
  // One time origin for both streams: the earliest fragment (audio's).
  BOOST_TEST(x.find("presentationTimeOffset=\"586667\"") != std::string::npos);
  BOOST_TEST(x.find("cenc:default_KID=\"00112233-4455-6677-8899-aabbccddeeff\"") != std::string::npos);
  BOOST_TEST(x.find("<mspr:pro>") != std::string::npos);
  // W3C Common PSSH v1 with the KID: size 0x34, 'pssh', version 1, system, 1 KID
  BOOST_TEST(x.find("urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b") != std::string::npos);
  BOOST_TEST(x.find("<cenc:pssh>AAAANHBzc2gBAAAAEHfv7MCyTQKs4zweUuL7SwAAAAEAESIzRFVmd4iZqrvM3e7/AAAAAA==</cenc:pssh>") !=
             std::string::npos);
  BOOST_TEST(x.find("codecs=\"mp4a.40.2\"") != std::string::npos);
  BOOST_CHECK_NO_THROW(mpd::parse_xml(x, mpd::ParseLimits{}));
}

BOOST_AUTO_TEST_CASE(live_mpd_is_dynamic_and_anchored_at_the_newest_fragment) {
  const Manifest m = parse_manifest(read_file("streams/smooth-live-piff/Manifest"));
  BOOST_REQUIRE(m.is_live);
  MpdOptions o;
  o.manifest_url = "http://origin.example/live.isml/Manifest";
  o.now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  const std::string x = write_mpd(m, o).xml;
  BOOST_TEST(x.find("type=\"dynamic\"") != std::string::npos);
  // Newest end 6.08 s (video), earliest start 2.0 s (audio): 4.08 s before now.
  BOOST_TEST(x.find("availabilityStartTime=\"2023-11-14T22:13:15.920Z\"") != std::string::npos);
  BOOST_TEST(x.find("publishTime=\"2023-11-14T22:13:20.000Z\"") != std::string::npos);
  BOOST_TEST(x.find("minimumUpdatePeriod=\"PT2.044S\"") != std::string::npos);
  BOOST_TEST(x.find("presentationTimeOffset=\"20000000\"") != std::string::npos);
  BOOST_TEST(x.find("carry") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(media_template_fills_bitrate_and_escapes_dollars) {
  BOOST_TEST(media_template("QualityLevels({bitrate})/Fragments(video={start time})", 300) ==
             "QualityLevels(300)/Fragments(video=$Time$)");
  BOOST_TEST(media_template("Q({Bitrate})/$x/F(a={start_time})", 7) == "Q(7)/$$x/F(a=$Time$)");
  BOOST_TEST(media_template("QualityLevels({bitrate})/static", 7).empty());
}

BOOST_AUTO_TEST_CASE(streams_nothing_can_convert_are_refused) {
  const std::string xml =
      "<SmoothStreamingMedia MajorVersion=\"2\"><StreamIndex Type=\"video\" Url=\"Q({bitrate})/F(v={start time})\">"
      "<QualityLevel Bitrate=\"1\" FourCC=\"WVC1\" MaxWidth=\"2\" MaxHeight=\"2\"/><c d=\"5\"/></StreamIndex>"
      "<StreamIndex Type=\"text\" Url=\"Q({bitrate})/F(t={start time})\"><QualityLevel Bitrate=\"1\" FourCC=\"TTML\"/>"
      "<c d=\"5\"/></StreamIndex></SmoothStreamingMedia>";
  const Manifest m = parse_manifest(xml);
  try {
    write_mpd(m, MpdOptions{});
    BOOST_FAIL("accepted");
  } catch (const MssError& e) {
    BOOST_TEST((e.kind() == MssError::Kind::unsupported));
    BOOST_TEST(std::string(e.what()).find("WVC1") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(fragment_gets_tfdt_from_tfxd_loses_tfrf_and_points_at_the_same_mdat) {
  const Bytes in = read_bytes("streams/smooth-vod-piff/QualityLevels(44560)/Fragments(video=20800000)");
  const ConvertedFragment out = convert_fragment(in.data(), in.size());
  BOOST_TEST(out.decode_time == 20800000u);
  BOOST_TEST(out.tfxd_replaced == 1u);
  BOOST_TEST(out.tfrf_dropped == 1u);
  const auto top = parse_top(out.data);
  BOOST_REQUIRE(top.size() == 2u);
  const bmff::Node& moof = top[0];
  const auto* traf = moof.child(bmff::fourcc("traf"));
  BOOST_REQUIRE(traf);
  BOOST_TEST(traf->children[0].box.header.type == bmff::fourcc("tfhd"));
  BOOST_TEST(traf->children[1].box.header.type == bmff::fourcc("tfdt"));
  for (const auto& c : traf->children) {
    BOOST_TEST((c.box.header.uuid_kind() != bmff::UuidKind::tfxd));
    BOOST_TEST((c.box.header.uuid_kind() != bmff::UuidKind::tfrf));
  }
  const auto tfhd = bmff::read_fields<bmff::Tfhd>(out.data.data(), traf->children[0].box);
  BOOST_TEST(tfhd->track_id == kTrackId);
  const auto* trun = traf->child(bmff::fourcc("trun"));
  const auto head = bmff::read_fields<bmff::TrunHead>(out.data.data(), trun->box);
  BOOST_TEST(static_cast<std::size_t>(head->data_offset) == top[0].box.size + 8);
  // The mdat is the origin's, byte for byte.
  const Bytes mdat_out(out.data.begin() + static_cast<long>(top[1].box.offset), out.data.end());
  BOOST_TEST((Bytes(in.end() - static_cast<long>(mdat_out.size()), in.end()) == mdat_out));

  // The piff engine then turns the PIFF-only traf into CENC.
  Bytes patched;
  PatchOptions options;
  SegmentPatcher patcher(options, [&](const std::uint8_t* d, std::size_t n) {
    patched.insert(patched.end(), d, d + n);
    return true;
  });
  patcher.feed(out.data.data(), out.data.size());
  patcher.finish();
  BOOST_TEST(patcher.stats().piff_converted == 1u);
  const auto after = parse_top(patched);
  BOOST_TEST(find_node(after[0], bmff::fourcc("senc")) != nullptr);
  BOOST_TEST(find_node(after[0], bmff::fourcc("saio")) != nullptr);
}

BOOST_AUTO_TEST_CASE(broken_fragments_are_refused_whole) {
  const Bytes in = read_bytes("streams/smooth-vod/QualityLevels(32281)/Fragments(audio=586667)");
  BOOST_CHECK_THROW(convert_fragment(in.data(), in.size() - 1), MssError);
  BOOST_CHECK_THROW(convert_fragment(in.data(), 12), MssError);
  const Bytes mdat_only = testbmff::box("mdat", Bytes(10, 1));
  BOOST_CHECK_THROW(convert_fragment(mdat_only.data(), mdat_only.size()), MssError);
  // A traf with neither tfxd nor tfdt has no time.
  Bytes moof = testbmff::box("moof", [] {
    Bytes b = testbmff::box("mfhd", testbmff::full(0, 0, Bytes(4, 0)));
    Bytes tfhd;
    testbmff::put32(tfhd, 1);
    testbmff::put(b, testbmff::box("traf", testbmff::box("tfhd", testbmff::full(0, 0, tfhd))));
    return b;
  }());
  BOOST_CHECK_THROW(convert_fragment(moof.data(), moof.size()), MssError);
}

// A Smooth fragment whose saiz/saio point at the PIFF box's IVs (the packager
// wrote both carriers): dropping tfxd/tfrf moves those IVs within the moof,
// and the saio offset must follow them, or a player decrypts with the wrong
// IVs (the piff engine keeps a saio that is there as it finds it).
BOOST_AUTO_TEST_CASE(a_saio_into_the_moof_follows_the_bytes_it_points_at) {
  testbmff::TrackSpec t;
  t.tfxd = true;
  t.aux_into_piff = true;
  t.samples = testbmff::make_samples(3, 8, true, 5);
  testbmff::FragmentSpec spec;
  spec.tracks.push_back(t);
  const Bytes in = testbmff::make_fragment(spec).bytes;
  const ConvertedFragment out = convert_fragment(in.data(), in.size());
  BOOST_REQUIRE(out.data.size() < in.size());  // tfxd and tfrf are gone
  const auto top = parse_top(out.data);
  const bmff::Node* saio_node = find_node(top[0], bmff::fourcc("saio"));
  BOOST_REQUIRE(saio_node);
  const auto saio = bmff::read_fields<bmff::Saio>(out.data.data(), saio_node->box);
  BOOST_REQUIRE(saio);
  BOOST_REQUIRE_EQUAL(saio->offsets.size(), 1u);
  BOOST_REQUIRE(saio->offsets[0] + t.samples[0].iv.size() <= top[0].box.size);
  const Bytes at(out.data.begin() + static_cast<long>(saio->offsets[0]),
                 out.data.begin() + static_cast<long>(saio->offsets[0] + t.samples[0].iv.size()));
  BOOST_TEST((at == t.samples[0].iv));

  // The piff engine keeps the IVs where that saio points (free+senc in place).
  PatchOptions options;
  options.mode = PiffMode::convert;
  PatchStats stats;
  const Bytes patched = testbmff::patch(out.data, options, SIZE_MAX, &stats);
  BOOST_TEST(stats.piff_converted == 1u);
  BOOST_REQUIRE(patched.size() == out.data.size());
  BOOST_TEST((Bytes(patched.begin() + static_cast<long>(saio->offsets[0]),
                    patched.begin() + static_cast<long>(saio->offsets[0] + t.samples[0].iv.size())) ==
              t.samples[0].iv));
}

// A hostile moof: a saio of 256 Ki offsets and 9,000 boxes beside it (the
// tree holds at most 10,000). Each offset looked for its box by a scan of
// every copied box (2.4e9 steps, over a second of a thread for one 1.1 MiB
// fragment); it is a binary search now.
BOOST_AUTO_TEST_CASE(a_saio_of_many_offsets_beside_many_boxes_costs_no_scan_per_offset) {
  using namespace testbmff;
  constexpr std::uint32_t kOffsets = 256 * 1024;
  constexpr int kBoxes = 9000;
  Bytes mfhd_body = full(0, 0);
  put32(mfhd_body, 1);
  const Bytes mfhd = box("mfhd", mfhd_body);
  Bytes tfhd_body = full(0, 0x020000);  // default-base-is-moof
  put32(tfhd_body, 1);
  Bytes tfdt_body = full(1, 0);
  put64(tfdt_body, 0);
  Bytes saio_body = full(0, 0);
  put32(saio_body, kOffsets);
  for (std::uint32_t i = 0; i < kOffsets; ++i) put32(saio_body, 8 + 12);  // mfhd's sequence number
  Bytes traf_body = box("tfhd", tfhd_body);
  put(traf_body, box("tfdt", tfdt_body));
  put(traf_body, box("saio", saio_body));
  for (int i = 0; i < kBoxes; ++i) put(traf_body, box("free", {}));
  Bytes moof_body = mfhd;
  put(moof_body, box("traf", traf_body));
  Bytes in = box("moof", moof_body);
  put(in, box("mdat", Bytes(16, 0)));

  const auto start = std::chrono::steady_clock::now();
  const ConvertedFragment out = convert_fragment(in.data(), in.size());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(seconds < 0.3, seconds << " s");  // a few ms; over a second with a scan per offset
  const auto top = parse_top(out.data);
  const bmff::Node* saio_node = find_node(top[0], bmff::fourcc("saio"));
  BOOST_REQUIRE(saio_node);
  const auto saio = bmff::read_fields<bmff::Saio>(out.data.data(), saio_node->box);
  BOOST_REQUIRE(saio);
  BOOST_REQUIRE_EQUAL(saio->offsets.size(), kOffsets);
  BOOST_TEST(saio->offsets.front() == 20u);  // the mfhd stays first
  BOOST_TEST(saio->offsets.back() == 20u);
}

BOOST_AUTO_TEST_CASE(sixteen_byte_ivs_without_override_are_refused_not_misdecrypted) {
  testbmff::TrackSpec t;
  t.iv_size = 16;
  t.subsamples = false;
  t.tfxd = true;
  t.samples = testbmff::make_samples(3, 16, false, 5);
  testbmff::FragmentSpec spec;
  spec.tracks.push_back(t);
  const Bytes f = testbmff::make_fragment(spec).bytes;
  try {
    convert_fragment(f.data(), f.size());
    BOOST_FAIL("accepted");
  } catch (const MssError& e) {
    BOOST_TEST((e.kind() == MssError::Kind::unsupported));
  }
  t.iv_size = 8;
  t.samples = testbmff::make_samples(3, 8, false, 5);
  spec.tracks = {t};
  const Bytes ok = testbmff::make_fragment(spec).bytes;
  BOOST_CHECK_NO_THROW(convert_fragment(ok.data(), ok.size()));
}
