// The SSRF guard's classifier: every refused range in its IPv4 and IPv6
// spellings, the embedded-IPv4 forms, and a few public addresses that must
// stay reachable.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/test/unit_test.hpp>

#include "origin/address_policy.h"

using namespace dashpiff;

namespace {

AddressClass cls(const char* text) {
  const auto a = IpAddress::parse(text);
  BOOST_TEST_REQUIRE(a.has_value(), "parse " << text);
  return classify(*a);
}

void expect(const char* text, AddressClass want) {
  BOOST_TEST_CONTEXT(text) { BOOST_TEST(to_string(cls(text)) == to_string(want)); }
}

AddressPolicy policy_allowing(std::initializer_list<const char*> networks) {
  AddressPolicy p;
  for (auto n : networks) p.allowed_networks.push_back(Cidr::parse(n).value());
  return p;
}

bool permits(const AddressPolicy& p, const char* text) { return p.permits(IpAddress::parse(text).value()); }

}  // namespace

BOOST_AUTO_TEST_SUITE(address_parsing)

BOOST_AUTO_TEST_CASE(parses_dotted_ipv4_as_mapped) {
  const auto a = IpAddress::parse("192.0.2.1").value();
  BOOST_TEST(a.is_v4());
  BOOST_TEST(a.str() == "192.0.2.1");
  const std::uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  BOOST_TEST(std::equal(a.bytes, a.bytes + 16, want));
}

BOOST_AUTO_TEST_CASE(parses_ipv6_full_compressed_and_embedded_forms) {
  BOOST_TEST(IpAddress::parse("2001:0db8:0000:0000:0000:0000:0000:0001")->str() == "2001:db8::1");
  BOOST_TEST(IpAddress::parse("2001:db8::1")->str() == "2001:db8::1");
  BOOST_TEST(IpAddress::parse("::")->str() == "::");
  BOOST_TEST(IpAddress::parse("::1")->str() == "::1");
  BOOST_TEST(IpAddress::parse("64:ff9b::10.0.0.1")->str() == "64:ff9b::a00:1");
  BOOST_TEST(!IpAddress::parse("::1")->is_v4());
  // The mapped form is the IPv4 address itself in this representation.
  BOOST_TEST(IpAddress::parse("::ffff:127.0.0.1")->is_v4());
  BOOST_TEST(IpAddress::parse("::ffff:127.0.0.1")->str() == "127.0.0.1");
  BOOST_TEST(IpAddress::parse("::FFFF:7f00:1")->str() == "127.0.0.1");
}

BOOST_AUTO_TEST_CASE(rejects_junk_and_ambiguous_ipv4_shorthands) {
  for (const char* junk : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "127.1",
                           "0x7f.0.0.1", "2130706433", "017.0.0.1", "1.2.3.-4", "::1::", "1:2:3:4:5:6:7:8:9",
                           "[::1]", "fe80::1%eth0", "g::1", "localhost", "1.2.3.4/8"}) {
    BOOST_TEST_CONTEXT(junk) { BOOST_TEST(!IpAddress::parse(junk).has_value()); }
  }
}

BOOST_AUTO_TEST_CASE(reads_both_socket_address_families) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  inet_pton(AF_INET, "169.254.169.254", &in.sin_addr);
  const auto a = IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&in));
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST(a->str() == "169.254.169.254");
  BOOST_TEST(to_string(classify(*a)) == "link-local");

  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr);
  const auto b = IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&in6));
  BOOST_TEST_REQUIRE(b.has_value());
  BOOST_TEST(b->str() == "10.1.2.3");
  BOOST_TEST(to_string(classify(*b)) == "private");

  sockaddr unknown{};
  unknown.sa_family = AF_UNIX;
  BOOST_TEST(!IpAddress::from_sockaddr(&unknown).has_value());
  BOOST_TEST(!IpAddress::from_sockaddr(nullptr).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(address_classes)

BOOST_AUTO_TEST_CASE(ipv4_refused_ranges_at_both_edges) {
  struct Case {
    const char* first;
    const char* last;
    AddressClass cls;
  };
  const Case cases[] = {
      {"0.0.0.0", "0.255.255.255", AddressClass::unspecified},
      {"10.0.0.0", "10.255.255.255", AddressClass::private_net},
      {"100.64.0.0", "100.127.255.255", AddressClass::private_net},
      {"127.0.0.0", "127.255.255.255", AddressClass::loopback},
      {"169.254.0.0", "169.254.255.255", AddressClass::link_local},
      {"172.16.0.0", "172.31.255.255", AddressClass::private_net},
      {"192.0.0.0", "192.0.0.255", AddressClass::reserved},
      {"192.0.2.0", "192.0.2.255", AddressClass::reserved},
      {"192.88.99.0", "192.88.99.255", AddressClass::reserved},
      {"192.168.0.0", "192.168.255.255", AddressClass::private_net},
      {"198.18.0.0", "198.19.255.255", AddressClass::reserved},
      {"198.51.100.0", "198.51.100.255", AddressClass::reserved},
      {"203.0.113.0", "203.0.113.255", AddressClass::reserved},
      {"224.0.0.0", "239.255.255.255", AddressClass::multicast},
      {"240.0.0.0", "255.255.255.254", AddressClass::reserved},
      {"255.255.255.255", "255.255.255.255", AddressClass::reserved},
  };
  for (const auto& c : cases) {
    expect(c.first, c.cls);
    expect(c.last, c.cls);
  }
  expect("169.254.169.254", AddressClass::link_local);  // EC2 instance metadata
}

BOOST_AUTO_TEST_CASE(ipv4_neighbours_of_refused_ranges_are_global) {
  for (const char* g : {"1.0.0.0", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
                        "126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255",
                        "172.32.0.0", "192.0.1.0", "192.0.3.0", "192.167.255.255", "192.169.0.0",
                        "198.17.255.255", "198.20.0.0", "203.0.112.255", "223.255.255.255", "8.8.8.8",
                        "93.184.216.34", "52.94.236.248"}) {
    expect(g, AddressClass::global);
  }
}

BOOST_AUTO_TEST_CASE(ipv4_mapped_ipv6_is_classified_by_its_ipv4_address) {
  expect("::ffff:127.0.0.1", AddressClass::loopback);
  expect("::ffff:169.254.169.254", AddressClass::link_local);
  expect("::ffff:a9fe:a9fe", AddressClass::link_local);
  expect("::ffff:10.0.0.1", AddressClass::private_net);
  expect("::ffff:172.16.5.4", AddressClass::private_net);
  expect("::ffff:192.168.1.1", AddressClass::private_net);
  expect("::ffff:100.64.0.1", AddressClass::private_net);
  expect("::ffff:0.0.0.0", AddressClass::unspecified);
  expect("::ffff:224.0.0.1", AddressClass::multicast);
  expect("::ffff:255.255.255.255", AddressClass::reserved);
  expect("::ffff:8.8.8.8", AddressClass::global);
}

BOOST_AUTO_TEST_CASE(ipv4_compatible_ipv6_is_classified_by_its_ipv4_address) {
  expect("::127.0.0.1", AddressClass::loopback);
  expect("::169.254.169.254", AddressClass::link_local);
  expect("::10.0.0.1", AddressClass::private_net);
  expect("::192.168.0.1", AddressClass::private_net);
  expect("::8.8.8.8", AddressClass::global);
  // The two trivial members are IPv6's own unspecified and loopback addresses.
  expect("::", AddressClass::unspecified);
  expect("::1", AddressClass::loopback);
}

BOOST_AUTO_TEST_CASE(nat64_is_classified_by_its_ipv4_address) {
  expect("64:ff9b::127.0.0.1", AddressClass::loopback);
  expect("64:ff9b::169.254.169.254", AddressClass::link_local);
  expect("64:ff9b::10.1.1.1", AddressClass::private_net);
  expect("64:ff9b::8.8.8.8", AddressClass::global);
  expect("64:ff9b:1::1", AddressClass::private_net);  // local-use NAT64 prefix
}

BOOST_AUTO_TEST_CASE(six_to_four_is_classified_by_its_ipv4_address) {
  expect("2002:7f00:1::1", AddressClass::loopback);
  expect("2002:a9fe:a9fe::", AddressClass::link_local);
  expect("2002:c0a8:0101::5", AddressClass::private_net);
  expect("2002:0a00:0001:1::1", AddressClass::private_net);
  expect("2002:808:808::1", AddressClass::global);
}

BOOST_AUTO_TEST_CASE(ipv6_refused_ranges_at_both_edges) {
  expect("::", AddressClass::unspecified);
  expect("::1", AddressClass::loopback);
  expect("fc00::", AddressClass::private_net);
  expect("fc00::1", AddressClass::private_net);
  expect("fd12:3456:789a::1", AddressClass::private_net);
  expect("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::private_net);
  expect("fe80::", AddressClass::link_local);
  expect("fe80::1", AddressClass::link_local);
  expect("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::link_local);
  expect("fec0::1", AddressClass::private_net);  // deprecated site-local
  expect("ff00::", AddressClass::multicast);
  expect("ff02::1", AddressClass::multicast);
  expect("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::multicast);
  expect("2001:db8::", AddressClass::reserved);
  expect("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::reserved);
  expect("3fff::1", AddressClass::reserved);
  expect("100::1", AddressClass::reserved);
  expect("2001::1", AddressClass::reserved);  // Teredo
  expect("2001:10::1", AddressClass::reserved);
  expect("5f00::1", AddressClass::reserved);
  // Outside 2000::/3 nothing is allocated as global unicast.
  expect("4000::1", AddressClass::reserved);
  expect("::ffff:0:127.0.0.1", AddressClass::reserved);
  expect("1::1", AddressClass::reserved);
}

BOOST_AUTO_TEST_CASE(ipv6_global_unicast_is_global) {
  for (const char* g : {"2001:4860:4860::8888", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
                        "2001:200::1", "2001:db7:ffff::1", "2001:db9::1", "3ffe::1", "2400:cb00::1"}) {
    expect(g, AddressClass::global);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cidr_and_policy)

BOOST_AUTO_TEST_CASE(cidr_parses_and_matches_ipv4_networks) {
  const auto c = Cidr::parse("127.0.0.0/8").value();
  BOOST_TEST(c.prefix == 104);
  BOOST_TEST(c.str() == "127.0.0.0/8");
  BOOST_TEST(c.contains(*IpAddress::parse("127.0.0.1")));
  BOOST_TEST(c.contains(*IpAddress::parse("127.255.255.255")));
  BOOST_TEST(c.contains(*IpAddress::parse("::ffff:127.1.2.3")));
  BOOST_TEST(!c.contains(*IpAddress::parse("128.0.0.1")));
  BOOST_TEST(!c.contains(*IpAddress::parse("::1")));
}

BOOST_AUTO_TEST_CASE(cidr_without_prefix_is_one_host) {
  const auto c = Cidr::parse("127.0.0.1").value();
  BOOST_TEST(c.str() == "127.0.0.1/32");
  BOOST_TEST(c.contains(*IpAddress::parse("127.0.0.1")));
  BOOST_TEST(!c.contains(*IpAddress::parse("127.0.0.2")));
  BOOST_TEST(Cidr::parse("::1")->str() == "::1/128");
}

BOOST_AUTO_TEST_CASE(cidr_clears_host_bits) {
  BOOST_TEST(Cidr::parse("10.1.2.3/8")->str() == "10.0.0.0/8");
  BOOST_TEST(Cidr::parse("fd12:3456::1/7")->str() == "fc00::/7");
  BOOST_TEST(Cidr::parse("0.0.0.0/0")->contains(*IpAddress::parse("8.8.8.8")));
}

BOOST_AUTO_TEST_CASE(cidr_matches_odd_ipv6_prefixes) {
  const auto c = Cidr::parse("fc00::/7").value();
  BOOST_TEST(c.contains(*IpAddress::parse("fdff::1")));
  BOOST_TEST(!c.contains(*IpAddress::parse("fe00::1")));
  BOOST_TEST(!c.contains(*IpAddress::parse("fbff::1")));
}

BOOST_AUTO_TEST_CASE(cidr_rejects_malformed_text) {
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/8/8", "10.0.0.0/-1",
                          "10.0.0.0/ 8", "10.0.0.0/+8", "10.0.0.0/0008", "10.0.0/8", "host/8"}) {
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST(!Cidr::parse(bad).has_value()); }
  }
}

BOOST_AUTO_TEST_CASE(default_policy_permits_only_global_addresses) {
  const AddressPolicy p;
  BOOST_TEST(permits(p, "8.8.8.8"));
  BOOST_TEST(permits(p, "2001:4860:4860::8888"));
  for (const char* refused : {"127.0.0.1", "169.254.169.254", "10.0.0.1", "172.16.0.1", "192.168.1.1",
                              "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::",
                              "fc00::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
                              "64:ff9b::127.0.0.1", "2002:7f00:1::", "2001:db8::1"}) {
    BOOST_TEST_CONTEXT(refused) { BOOST_TEST(!permits(p, refused)); }
  }
}

BOOST_AUTO_TEST_CASE(allowed_networks_open_exactly_what_they_name) {
  const auto p = policy_allowing({"127.0.0.1/32", "fd00::/8"});
  BOOST_TEST(permits(p, "127.0.0.1"));
  BOOST_TEST(permits(p, "::ffff:127.0.0.1"));
  BOOST_TEST(!permits(p, "127.0.0.2"));
  BOOST_TEST(permits(p, "fd00::5"));
  BOOST_TEST(!permits(p, "fc00::5"));
  BOOST_TEST(!permits(p, "169.254.169.254"));
  BOOST_TEST(!permits(p, "::1"));
  BOOST_TEST(permits(p, "8.8.8.8"));
}

BOOST_AUTO_TEST_SUITE_END()
