#define BOOST_TEST_MODULE dashpiff core
#include <boost/test/unit_test.hpp>

#include "http/uri.h"
#include "http/url_codec.h"

using namespace dashpiff;

BOOST_AUTO_TEST_SUITE(url_codec)

BOOST_AUTO_TEST_CASE(encodes_spec_example) {
  BOOST_TEST(encode_url("http://cdn.example/a/b.mpd") == "http!0!1!1cdn.example!1a!1b.mpd");
}

BOOST_AUTO_TEST_CASE(escapes_every_coded_character) {
  BOOST_TEST(encode_url("!:/#~?") == "!!!0!1!2!3!4");
}

BOOST_AUTO_TEST_CASE(literal_bang_followed_by_digit_round_trips) {
  // The original's chained replaces decoded "!!0" to "!:"; a single scan must not.
  const std::string url = "http://h/a!0b?x=!1";
  const auto enc = encode_url(url);
  BOOST_TEST(enc == "http!0!1!1h!1a!!0b!4x=!!1");
  BOOST_TEST(decode_url(enc).value() == url);
  BOOST_TEST(decode_url("!!0").value() == "!0");
}

BOOST_AUTO_TEST_CASE(round_trips_awkward_urls) {
  for (std::string url : {"", "!", "!!", "http://h:8080/~user/a b#frag?",
                          "https://x/y?a=1&b=%2F&c=!4", "http://[::1]:80/p"}) {
    BOOST_TEST(decode_url(encode_url(url)).value() == url);
  }
}

BOOST_AUTO_TEST_CASE(dangling_escape_is_malformed) {
  BOOST_TEST(!decode_url("http!0!1!1h!").has_value());
  BOOST_TEST(!decode_url("!").has_value());
}

BOOST_AUTO_TEST_CASE(unknown_code_is_malformed) {
  BOOST_TEST(!decode_url("a!5b").has_value());
  BOOST_TEST(!decode_url("a!xb").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rfc3986)

// RFC 3986 §5.4 examples.
BOOST_AUTO_TEST_CASE(normal_examples) {
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"g:h", "g:h"},           {"g", "http://a/b/c/g"},      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"}, {"/g", "http://a/g"},         {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"}, {"g?y", "http://a/b/c/g?y"}, {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"}, {"g?y#s", "http://a/b/c/g?y#s"}, {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"}, {"", "http://a/b/c/d;p?q"},   {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},   {"..", "http://a/b/"},         {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},  {"../..", "http://a/"},        {"../../", "http://a/"},
      {"../../g", "http://a/g"}};
  for (const auto& [ref, want] : cases) BOOST_TEST(resolve_uri(base, ref) == want, ref);
}

BOOST_AUTO_TEST_CASE(abnormal_examples) {
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"../../../g", "http://a/g"}, {"../../../../g", "http://a/g"}, {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},      {"g.", "http://a/b/c/g."},       {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},  {"..g", "http://a/b/c/..g"},     {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"}, {"g/./h", "http://a/b/c/g/h"},   {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"}, {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"},   {"g?y/../x", "http://a/b/c/g?y/../x"},
      {"g#s/./x", "http://a/b/c/g#s/./x"},   {"g#s/../x", "http://a/b/c/g#s/../x"},
      {"http:g", "http:g"}};
  for (const auto& [ref, want] : cases) BOOST_TEST(resolve_uri(base, ref) == want, ref);
}

BOOST_AUTO_TEST_CASE(host_and_port) {
  BOOST_TEST(Uri::parse("http://user@Example.COM:8080/x").host() == "example.com");
  BOOST_TEST(Uri::parse("http://user@Example.COM:8080/x").port() == 8080);
  BOOST_TEST(Uri::parse("https://h/x").port() == 443);
  BOOST_TEST(Uri::parse("http://[::1]:81/").host() == "::1");
  BOOST_TEST(Uri::parse("http://[::1]:81/").port() == 81);
}

BOOST_AUTO_TEST_CASE(directory_and_strip) {
  BOOST_TEST(directory_of("http://h/a/b.mpd?t=1") == "http://h/a/");
  BOOST_TEST(directory_of("http://h") == "http://h/");
  BOOST_TEST(strip_query("http://h/a/b.mpd?t=1#f") == "http://h/a/b.mpd");
}

BOOST_AUTO_TEST_SUITE_END()
