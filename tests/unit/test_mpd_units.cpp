// The rewriter's building blocks: URL arithmetic, the prolog scan, MPD
// recognition, the cenc descriptor, and the player model the other tests lean on.
#include <boost/test/unit_test.hpp>

#include <string>

#include "mpd_player_model.h"
#include "mpd/prolog.h"
#include "mpd/protection.h"
#include "mpd/rewriter.h"
#include "mpd/urls.h"
#include "http/url_codec.h"

using namespace dashpiff;
using namespace dashpiff::mpd;

namespace {

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Microsoft's example: GUID 01020304-0506-0708-090A-AABBCCDDEEFF is stored
// by PlayReady as 04 03 02 01 06 05 08 07 09 0A AA BB CC DD EE FF.
const std::string kPlayReadyKidBytes("\x04\x03\x02\x01\x06\x05\x08\x07\x09\x0A\xAA\xBB\xCC\xDD\xEE\xFF", 16);
const std::string kKidUuid = "01020304-0506-0708-090a-aabbccddeeff";

std::string le16(unsigned v) { return std::string{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)}; }

std::string playready_object(const std::string& wrmheader_ascii) {
  std::string header;
  for (char c : wrmheader_ascii) header += std::string{c, '\0'};
  const std::string record = le16(1) + le16(static_cast<unsigned>(header.size())) + header;
  const unsigned total = static_cast<unsigned>(6 + record.size());
  return le16(total & 0xFFFF) + le16(total >> 16) + le16(1) + record;
}

std::string wrmheader_v40(const std::string& kid_b64) {
  return "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" version=\"4.0.0.0\">"
         "<DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO><KID>" + kid_b64 +
         "</KID><LA_URL>https://license.example/rightsmanager.asmx</LA_URL></DATA></WRMHEADER>";
}

std::string protected_mpd(const std::string& protection, const std::string& extra_ns = "") {
  return "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"" + extra_ns +
         "><Period><AdaptationSet mimeType=\"video/mp4\">\n"
         "      " + protection + "\n"
         "      <Representation id=\"v\" bandwidth=\"1\"/></AdaptationSet></Period></MPD>";
}

MpdRewriteOptions cenc_options() {
  MpdRewriteOptions o;
  o.manifest_url = "http://origin.example/a/b.mpd";
  o.add_cenc_protection = true;
  return o;
}

const std::string kPlayReadyScheme = "urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95";

}  // namespace

BOOST_AUTO_TEST_SUITE(url_arithmetic)

BOOST_AUTO_TEST_CASE(references_are_classified_as_rfc3986_does) {
  BOOST_TEST(static_cast<int>(classify_ref("http://h/p")) == static_cast<int>(RefKind::absolute));
  BOOST_TEST(static_cast<int>(classify_ref("//h/p")) == static_cast<int>(RefKind::network_path));
  BOOST_TEST(static_cast<int>(classify_ref("/p")) == static_cast<int>(RefKind::path_absolute));
  for (const char* rel : {"p", "../p", "", "?q", "#f", "$Number$.m4s", "./a:b"})
    BOOST_TEST(static_cast<int>(classify_ref(rel)) == static_cast<int>(RefKind::relative_path), rel);
  BOOST_TEST(static_cast<int>(classify_ref("a:b/c")) == static_cast<int>(RefKind::absolute));
}

BOOST_AUTO_TEST_CASE(climb_counts_the_highest_point_a_relative_path_reaches) {
  BOOST_TEST(climb_of("seg.m4s") == 0u);
  BOOST_TEST(climb_of("a/b/seg.m4s") == 0u);
  BOOST_TEST(climb_of("../seg.m4s") == 1u);
  BOOST_TEST(climb_of("../../a/seg") == 2u);
  BOOST_TEST(climb_of("a/../../b") == 1u);
  BOOST_TEST(climb_of("../a/../../b") == 2u);
  BOOST_TEST(climb_of("..") == 1u);
  BOOST_TEST(climb_of("./../x") == 1u);
  BOOST_TEST(climb_of("x?../../..") == 0u);  // the query never climbs
  BOOST_TEST(climb_of("") == 0u);
}

BOOST_AUTO_TEST_CASE(directory_helpers) {
  BOOST_TEST(dir_depth("/") == 0u);
  BOOST_TEST(dir_depth("/a/b/") == 2u);
  BOOST_TEST(ancestor_dir("/a/b/c/", 2) == "/a/");
  BOOST_TEST(ancestor_dir("/a/", 1) == "/");
  BOOST_TEST(common_dir("/a/b/c/", "/a/b/x/") == "/a/b/");
  BOOST_TEST(common_dir("/a/bc/", "/a/bd/") == "/a/");
  BOOST_TEST(common_dir("/x/", "/y/") == "/");
}

BOOST_AUTO_TEST_CASE(urls_are_cut_before_the_first_template_identifier_and_a_plain_segment_before_the_id) {
  const auto t = cut_url("http://cdn.example:8080/live/$RepresentationID$/seg-$Number$.m4s?t=$Time$", true);
  BOOST_TEST(t->origin == "http://cdn.example:8080");
  BOOST_TEST(t->dir == "/");
  BOOST_TEST(t->rest == "live/$RepresentationID$/seg-$Number$.m4s?t=$Time$");
  const auto n = cut_url("http://cdn.example/live/v1/$Number$.m4s", true);
  BOOST_TEST(n->dir == "/live/v1/");
  BOOST_TEST(n->rest == "$Number$.m4s");
  const auto root = cut_url("http://cdn.example/$RepresentationID$.m4s", true);
  BOOST_TEST(root->dir == "/");
  BOOST_TEST(root->rest == "$RepresentationID$.m4s");
  const auto plain = cut_url("https://h/a/b/file.mp4?x=1#frag", false);
  BOOST_TEST(plain->dir == "/a/b/");
  BOOST_TEST(plain->rest == "file.mp4?x=1");
  const auto bare = cut_url("http://h", false);
  BOOST_TEST(bare->dir == "/");
  BOOST_TEST(bare->rest == "");
  BOOST_TEST(!cut_url("ftp://h/a", false).has_value());
  BOOST_TEST(!cut_url("http:///a", false).has_value());
  BOOST_TEST(!cut_url("urn:mpeg:dash:resolve-to-zero:2013", false).has_value());
}

BOOST_AUTO_TEST_CASE(media_form_carries_the_query_inside_the_encoded_base) {
  BOOST_TEST(media_form("/media/", "http://o", "/dir/", "token=abc", "seg.m4s") ==
             "/media/http!0!1!1o!1dir!1!4token=abc/seg.m4s");
  BOOST_TEST(media_form("/media/", "http://o", "/dir/", "", "") == "/media/http!0!1!1o!1dir!1/");
  // The router's view: decode, split the query off, resolve the rest.
  BOOST_TEST(decode_url("http!0!1!1o!1dir!1!4token=abc").value() == "http://o/dir/?token=abc");
}

BOOST_AUTO_TEST_CASE(manifest_form_keeps_the_query_outside_verbatim) {
  BOOST_TEST(manifest_form("/mpd/", "http://o/a.mpd?x=%2F&y=!", "t=1") == "/mpd/http!0!1!1o!1a.mpd?x=%2F&y=!");
  BOOST_TEST(manifest_form("/mpd/", "http://o/a.mpd", "t=1") == "/mpd/http!0!1!1o!1a.mpd?t=1");
  BOOST_TEST(manifest_form("/mpd/", "http://o/a.mpd", "") == "/mpd/http!0!1!1o!1a.mpd");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(recognition)

BOOST_AUTO_TEST_CASE(dash_content_type_is_enough) {
  BOOST_TEST(looks_like_mpd("application/dash+xml", ""));
  BOOST_TEST(looks_like_mpd("Application/DASH+XML; charset=utf-8", "garbage"));
}

BOOST_AUTO_TEST_CASE(generic_types_need_an_mpd_root) {
  const std::string body = "\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- generated -->\n<?pi x?>\n"
                           "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\">";
  for (const char* type : {"application/xml", "text/xml; charset=UTF-8", "application/octet-stream",
                           "binary/octet-stream", ""})
    BOOST_TEST(looks_like_mpd(type, body), type);
  BOOST_TEST(looks_like_mpd("application/xml", "<mpd:MPD xmlns:mpd=\"urn:mpeg:dash:schema:mpd:2011\">"));
  BOOST_TEST(looks_like_mpd("text/xml", "<Period xmlns=\"urn:mpeg:dash:schema:mpd:2011\">"));
}

BOOST_AUTO_TEST_CASE(other_documents_are_not_mpds) {
  BOOST_TEST(!looks_like_mpd("application/xml", "<?xml version=\"1.0\"?><rss version=\"2.0\">"));
  BOOST_TEST(!looks_like_mpd("text/xml", "<MPDX>"));
  BOOST_TEST(!looks_like_mpd("text/html", "<MPD>"));
  BOOST_TEST(!looks_like_mpd("video/mp4", "<MPD>"));
  BOOST_TEST(!looks_like_mpd("application/octet-stream", std::string("\0\0\0\x18" "ftypiso6", 12)));
  BOOST_TEST(!looks_like_mpd("", ""));
  BOOST_TEST(!looks_like_mpd("application/xml", "<!-- unterminated"));
}

BOOST_AUTO_TEST_CASE(utf16_bodies_are_recognised) {
  std::string body = "\xFF\xFE";
  for (char c : std::string("<?xml version=\"1.0\" encoding=\"UTF-16\"?><MPD>")) body += std::string{c, '\0'};
  BOOST_TEST(looks_like_mpd("application/xml", body));
}

BOOST_AUTO_TEST_CASE(a_doctype_before_the_root_still_counts_so_that_it_is_refused_loudly) {
  BOOST_TEST(looks_like_mpd("application/xml", "<!DOCTYPE MPD [<!ENTITY a \"]>\">]><MPD>"));
  const auto p = scan_prolog("<!DOCTYPE MPD [<!ENTITY a \"]>\"><!-- ]> -->]>\n<MPD a=\"1\">");
  BOOST_TEST(p.has_doctype);
  BOOST_TEST(p.root_found);
  BOOST_TEST(p.root_name == "MPD");
}

BOOST_AUTO_TEST_CASE(prolog_scan_finds_the_root_offset) {
  const std::string body = "<?xml version=\"1.0\"?>\n<Period id=\"1\"/>";
  const auto p = scan_prolog(body);
  BOOST_TEST(p.root_found);
  BOOST_TEST(p.root_offset == body.find("<Period"));
  BOOST_TEST(std::string(p.local_name()) == "Period");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cenc_descriptor)

BOOST_AUTO_TEST_CASE(playready_kid_bytes_become_a_uuid) {
  BOOST_TEST(uuid_from_playready_kid(kPlayReadyKidBytes).value() == kKidUuid);
  BOOST_TEST(!uuid_from_playready_kid("short").has_value());
  BOOST_TEST(normalize_uuid("01020304-0506-0708-090A-AABBCCDDEEFF").value() == kKidUuid);
  BOOST_TEST(normalize_uuid("0102030405060708090aaabbccddeeff").value() == kKidUuid);
  BOOST_TEST(!normalize_uuid("0102").has_value());
  BOOST_TEST(decode_base64(base64(kPlayReadyKidBytes)).value() == kPlayReadyKidBytes);
  BOOST_TEST(!decode_base64("ab$c").has_value());
  // Whitespace, the URL-safe alphabet and dropped padding are taken too.
  BOOST_TEST(decode_base64(" AQID\n").value() == "\x01\x02\x03");
  BOOST_TEST(decode_base64("AQI").value() == "\x01\x02");
  BOOST_TEST(decode_base64("-_8=").value() == "\xfb\xff");
  BOOST_TEST(!decode_base64("AQ==AQ==").has_value());  // data after padding
  BOOST_TEST(decode_base64("").value().empty());
}

BOOST_AUTO_TEST_CASE(kid_is_read_from_a_playready_object) {
  BOOST_TEST(kid_from_playready_object(playready_object(wrmheader_v40(base64(kPlayReadyKidBytes)))).value() == kKidUuid);
  const std::string v41 = "<WRMHEADER version=\"4.1.0.0\"><DATA><PROTECTINFO><KID ALGID=\"AESCTR\" VALUE=\"" +
                          base64(kPlayReadyKidBytes) + "\"></KID></PROTECTINFO></DATA></WRMHEADER>";
  BOOST_TEST(kid_from_playready_object(playready_object(v41)).value() == kKidUuid);
  const std::string other(16, '\x11');
  const std::string two = "<WRMHEADER version=\"4.2.0.0\"><DATA><PROTECTINFO><KIDS><KID VALUE=\"" +
                          base64(kPlayReadyKidBytes) + "\"/><KID VALUE=\"" + base64(other) +
                          "\"/></KIDS></PROTECTINFO></DATA></WRMHEADER>";
  BOOST_TEST(!kid_from_playready_object(playready_object(two)).has_value());  // which one? no guess
  BOOST_TEST(!kid_from_playready_object("\x01\x02").has_value());
}

BOOST_AUTO_TEST_CASE(descriptor_is_added_from_mspr_pro) {
  const std::string cp = "<ContentProtection schemeIdUri=\"" + kPlayReadyScheme + "\" value=\"MSPR 2.0\"><mspr:pro>" +
                         base64(playready_object(wrmheader_v40(base64(kPlayReadyKidBytes)))) +
                         "</mspr:pro></ContentProtection>";
  const auto out = rewrite_mpd(protected_mpd(cp, " xmlns:mspr=\"urn:microsoft:playready\""), cenc_options()).xml;
  BOOST_TEST(out.find("<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" xmlns:cenc=\"urn:mpeg:cenc:2013\"") !=
             std::string::npos);
  BOOST_TEST(out.find("<ContentProtection cenc:default_KID=\"" + kKidUuid +
                      "\" schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\"/>\n      "
                      "<ContentProtection schemeIdUri=\"" + kPlayReadyScheme) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(descriptor_is_added_from_mspr_kid_or_default_kid) {
  const std::string kid_element = "<ContentProtection schemeIdUri=\"" + kPlayReadyScheme + "\"><mspr:kid>" +
                                  base64(kPlayReadyKidBytes) + "</mspr:kid></ContentProtection>";
  const auto a = rewrite_mpd(protected_mpd(kid_element, " xmlns:mspr=\"urn:microsoft:playready\""), cenc_options()).xml;
  BOOST_TEST(a.find("cenc:default_KID=\"" + kKidUuid + "\" schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\"") !=
             std::string::npos);
  const std::string attribute = "<ContentProtection schemeIdUri=\"URN:UUID:9A04F079-9840-4286-AB92-E65BE0885F95\" "
                                "c:default_KID=\"01020304-0506-0708-090A-AABBCCDDEEFF\"/>";
  const auto b = rewrite_mpd(protected_mpd(attribute, " xmlns:c=\"urn:mpeg:cenc:2013\""), cenc_options()).xml;
  // The prefix already bound to the cenc namespace is reused.
  BOOST_TEST(b.find("<ContentProtection c:default_KID=\"" + kKidUuid + "\" schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\"") !=
             std::string::npos);
  BOOST_TEST(b.find("xmlns:cenc") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(descriptor_is_added_from_a_version_1_pssh) {
  std::string box;
  auto be32 = [](unsigned v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  const std::string kid_uuid_bytes("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\xAA\xBB\xCC\xDD\xEE\xFF", 16);
  const std::string system_id("\x9a\x04\xf0\x79\x98\x40\x42\x86\xab\x92\xe6\x5b\xe0\x88\x5f\x95", 16);
  const std::string payload = std::string("\x01\x00\x00\x00", 4) + system_id + be32(1) + kid_uuid_bytes + be32(0);
  box = be32(static_cast<unsigned>(8 + payload.size())) + "pssh" + payload;
  BOOST_TEST(kid_from_pssh_box(box).value() == kKidUuid);
  const std::string cp = "<ContentProtection schemeIdUri=\"" + kPlayReadyScheme + "\"><cenc:pssh>" + base64(box) +
                         "</cenc:pssh></ContentProtection>";
  const auto out = rewrite_mpd(protected_mpd(cp, " xmlns:cenc=\"urn:mpeg:cenc:2013\""), cenc_options()).xml;
  BOOST_TEST(out.find("cenc:default_KID=\"" + kKidUuid + "\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(nothing_is_added_where_cenc_is_already_signalled_or_no_kid_is_known) {
  const std::string both = "<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\"/>"
                           "<ContentProtection schemeIdUri=\"" + kPlayReadyScheme + "\" cenc:default_KID=\"" + kKidUuid + "\"/>";
  const std::string with_ns = " xmlns:cenc=\"urn:mpeg:cenc:2013\"";
  BOOST_TEST(rewrite_mpd(protected_mpd(both, with_ns), cenc_options()).xml.find("mp4protection") ==
             rewrite_mpd(protected_mpd(both, with_ns), cenc_options()).xml.rfind("mp4protection"));
  const std::string no_kid = "<ContentProtection schemeIdUri=\"" + kPlayReadyScheme + "\"/>";
  BOOST_TEST(rewrite_mpd(protected_mpd(no_kid), cenc_options()).xml.find("mp4protection") == std::string::npos);
  // And only when asked to.
  MpdRewriteOptions off = cenc_options();
  off.add_cenc_protection = false;
  const std::string pr = "<ContentProtection schemeIdUri=\"" + kPlayReadyScheme + "\" cenc:default_KID=\"" + kKidUuid + "\"/>";
  BOOST_TEST(rewrite_mpd(protected_mpd(pr, with_ns), off).xml.find("mp4protection") == std::string::npos);
  BOOST_TEST(rewrite_mpd(protected_mpd(pr, with_ns), cenc_options()).xml.find("mp4protection") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(representation_level_protection_gets_its_own_descriptor) {
  const std::string doc =
      "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" xmlns:cenc=\"urn:mpeg:cenc:2013\"><Period><AdaptationSet>"
      "<Representation id=\"a\" bandwidth=\"1\"><ContentProtection schemeIdUri=\"" + kPlayReadyScheme +
      "\" cenc:default_KID=\"" + kKidUuid + "\"/></Representation>"
      "<Representation id=\"b\" bandwidth=\"2\"/></AdaptationSet></Period></MPD>";
  const auto out = rewrite_mpd(doc, cenc_options()).xml;
  BOOST_TEST(out.find("<Representation bandwidth=\"1\" id=\"a\"><ContentProtection cenc:default_KID=\"" + kKidUuid +
                      "\" schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\"/>") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(player_model)

BOOST_AUTO_TEST_CASE(template_identifiers_are_substituted_like_a_player_does) {
  BOOST_TEST(test::substitute_template("$RepresentationID$/$Number%05d$-$Time$-$Bandwidth$$$.m4s", "v1", "800") ==
             "v1/00007-90000-800$.m4s");
  BOOST_TEST(test::substitute_template("$Unknown$", "v", "1") == "$Unknown$");
}

// dash.js and Shaka read the integer conversions of IEEE 1003.1 in a format
// tag: "%0Nx" lower-case hex, "%0NX" upper-case, "%0No" octal, 'i' and 'u'
// as 'd' (a width is required). Shaka keeps a width-less conversion on
// $RepresentationID$.
BOOST_AUTO_TEST_CASE(format_tags_are_read_as_dash_js_and_shaka_read_them) {
  BOOST_TEST(test::substitute_template("$Time%08x$-$Time%03X$-$Number%03o$-$Time%01o$", "v", "1") ==
             "00015f90-15F90-007-257620");
  BOOST_TEST(test::substitute_template("$Bandwidth%01x$/$Bandwidth%04X$", "v", "6000000000000000000001") ==
             "14542ba12a337c00001/14542BA12A337C00001");
  BOOST_TEST(test::substitute_template("$Number%02i$$Number%02u$$SubNumber%0x$", "v", "1") == "0707$SubNumber%0x$");
  // A '$' that starts no identifier pairs with nothing.
  BOOST_TEST(test::substitute_template("$a$Number$/$a$$Number$/$%05d$Time$", "v", "1") == "$a7/$a$Number$/$%05d90000");
  BOOST_TEST(test::substitute_template("$RepresentationID%05X$/$RepresentationID%05d$", "ab", "1") == "AB/ab");
  for (const char* text : {"$Number%05s$", "$Number%5x$", "$Number%05$", "$Time%0ax$"})
    BOOST_TEST(test::substitute_template(text, "v", "1") == text);
}

BOOST_AUTO_TEST_CASE(router_model_decodes_media_and_manifest_urls) {
  BOOST_TEST(test::origin_request_for("http://proxy.test/media/http!0!1!1o!1d!1!4t=1/a/../s.m4s?r=2").value() ==
             "http://o/d/s.m4s?t=1&r=2");
  BOOST_TEST(test::origin_request_for("http://proxy.test/mpd/http!0!1!1o!1x.mpd?q").value() == "http://o/x.mpd?q");
  BOOST_TEST(!test::origin_request_for("http://origin.example/seg.m4s").has_value());
  BOOST_TEST(!test::origin_request_for("http://proxy.test/media/http!9/x").has_value());
}

BOOST_AUTO_TEST_CASE(the_equivalence_check_catches_a_wrong_rewrite) {
  MpdRewriteOptions o;
  o.manifest_url = "http://origin.example/a/b.mpd";
  const std::string original =
      "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"><BaseURL>http://cdn.example/x/</BaseURL><Period><AdaptationSet>"
      "<SegmentTemplate media=\"$Number$.m4s\"/><Representation id=\"v\" bandwidth=\"1\"/></AdaptationSet></Period></MPD>";
  const std::string good = rewrite_mpd(original, o).xml;
  BOOST_TEST(test::compare_with_origin(original, good, o).problems.empty());
  // A base that drops a directory, and one left pointing at the origin.
  std::string wrong = good;
  wrong.replace(wrong.find("!1x!1"), 5, "!1");
  BOOST_TEST(!test::compare_with_origin(original, wrong, o).problems.empty());
  BOOST_TEST(!test::compare_with_origin(original, original, o).problems.empty());
}

BOOST_AUTO_TEST_SUITE_END()
