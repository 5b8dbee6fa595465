#include "origin/address_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace dashpiff {
namespace {

// A range given by its leading bytes and prefix length over the 128-bit form.
struct Range {
  std::uint8_t bytes[16];
  int prefix;
  AddressClass cls;
};

constexpr int v4(int prefix) { return 96 + prefix; }

#define V4(a, b, c, d) {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d}

// IPv4 special-purpose ranges (RFC 6890 and the IANA registry). Any address
// not "globally reachable" there is refused; the most specific class wins
// because the table is searched in order.
const Range kV4Ranges[] = {
    {V4(0, 0, 0, 0), v4(8), AddressClass::unspecified},        // "this network"
    {V4(10, 0, 0, 0), v4(8), AddressClass::private_net},
    {V4(100, 64, 0, 0), v4(10), AddressClass::private_net},    // CGNAT shared space
    {V4(127, 0, 0, 0), v4(8), AddressClass::loopback},
    {V4(169, 254, 0, 0), v4(16), AddressClass::link_local},    // EC2/GCP/Azure metadata
    {V4(172, 16, 0, 0), v4(12), AddressClass::private_net},
    {V4(192, 0, 0, 0), v4(24), AddressClass::reserved},        // IETF protocol assignments
    {V4(192, 0, 2, 0), v4(24), AddressClass::reserved},        // TEST-NET-1
    {V4(192, 88, 99, 0), v4(24), AddressClass::reserved},      // deprecated 6to4 relay anycast
    {V4(192, 168, 0, 0), v4(16), AddressClass::private_net},
    {V4(198, 18, 0, 0), v4(15), AddressClass::reserved},       // benchmarking
    {V4(198, 51, 100, 0), v4(24), AddressClass::reserved},     // TEST-NET-2
    {V4(203, 0, 113, 0), v4(24), AddressClass::reserved},      // TEST-NET-3
    {V4(224, 0, 0, 0), v4(4), AddressClass::multicast},
    {V4(240, 0, 0, 0), v4(4), AddressClass::reserved},         // includes 255.255.255.255
};

#undef V4

// IPv6 ranges that are refused outright. The embedded-IPv4 forms are handled
// before this table; anything outside 2000::/3 that is not listed here is
// reserved as well (see classify).
const Range kV6Ranges[] = {
    {{0}, 128, AddressClass::unspecified},                                   // ::
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, AddressClass::loopback},  // ::1
    {{0xfc}, 7, AddressClass::private_net},                                  // unique local
    {{0xfe, 0xc0}, 10, AddressClass::private_net},                           // deprecated site-local
    {{0xfe, 0x80}, 10, AddressClass::link_local},
    {{0xff}, 8, AddressClass::multicast},
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, AddressClass::private_net},  // local-use NAT64 (RFC 8215)
    {{0x01, 0x00, 0, 0, 0, 0, 0, 0}, 64, AddressClass::reserved},            // discard-only
    {{0x20, 0x01, 0x0d, 0xb8}, 32, AddressClass::reserved},                  // documentation
    {{0x20, 0x01, 0x00, 0x00}, 23, AddressClass::reserved},  // IETF protocol assignments, Teredo, ORCHID
    {{0x3f, 0xff}, 20, AddressClass::reserved},                              // documentation (RFC 9637)
    {{0x5f, 0x00}, 16, AddressClass::reserved},                              // SRv6 SIDs
};

bool prefix_matches(const std::uint8_t* a, const std::uint8_t* b, int prefix) {
  const int whole = prefix / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

IpAddress mapped_v4(const std::uint8_t* four) {
  IpAddress a;
  a.bytes[10] = a.bytes[11] = 0xff;
  std::memcpy(a.bytes + 12, four, 4);
  return a;
}

bool all_zero(const std::uint8_t* p, int n) {
  return std::all_of(p, p + n, [](std::uint8_t b) { return b == 0; });
}

AddressClass classify_v4(const IpAddress& a) {
  for (const auto& r : kV4Ranges)
    if (prefix_matches(a.bytes, r.bytes, r.prefix)) return r.cls;
  return AddressClass::global;
}

}  // namespace

const char* to_string(AddressClass c) {
  switch (c) {
    case AddressClass::global: return "global";
    case AddressClass::loopback: return "loopback";
    case AddressClass::private_net: return "private";
    case AddressClass::link_local: return "link-local";
    case AddressClass::multicast: return "multicast";
    case AddressClass::unspecified: return "unspecified";
    case AddressClass::reserved: return "reserved";
  }
  return "unknown";
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton is strict (dotted quad without leading zeros, RFC 4291 text
  // forms), which is what we want for configuration: no "127.1" or hex
  // shorthands that mean different things to different parsers.
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  IpAddress a;
  std::uint8_t four[4];
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), four) != 1) return std::nullopt;
    return mapped_v4(four);
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes) != 1) return std::nullopt;
  return a;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* sa) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);
    return mapped_v4(reinterpret_cast<const std::uint8_t*>(&in.sin_addr.s_addr));
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    IpAddress a;
    std::memcpy(a.bytes, in6.sin6_addr.s6_addr, 16);
    return a;
  }
  return std::nullopt;
}

bool IpAddress::is_v4() const {
  return all_zero(bytes, 10) && bytes[10] == 0xff && bytes[11] == 0xff;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4())
    inet_ntop(AF_INET, bytes + 12, buf, sizeof buf);
  else
    inet_ntop(AF_INET6, bytes, buf, sizeof buf);
  return buf;
}

AddressClass classify(const IpAddress& addr) {
  const std::uint8_t* b = addr.bytes;
  if (addr.is_v4()) return classify_v4(addr);

  // IPv4-compatible ::a.b.c.d (deprecated, but a stack may still route it);
  // :: and ::1 themselves are the IPv6 unspecified and loopback addresses.
  if (all_zero(b, 12) && !(all_zero(b + 12, 3) && b[15] <= 1)) return classify_v4(mapped_v4(b + 12));
  // NAT64 well-known prefix 64:ff9b::/96: the gateway connects to the IPv4 address.
  static const std::uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b};
  if (std::memcmp(b, kNat64, 12) == 0) return classify_v4(mapped_v4(b + 12));
  // 6to4 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD.
  if (b[0] == 0x20 && b[1] == 0x02) return classify_v4(mapped_v4(b + 2));

  for (const auto& r : kV6Ranges)
    if (prefix_matches(b, r.bytes, r.prefix)) return r.cls;
  // Only 2000::/3 is allocated as global unicast; the rest is IETF-reserved.
  if ((b[0] & 0xe0) != 0x20) return AddressClass::reserved;
  return AddressClass::global;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  const auto addr_text = text.substr(0, slash);
  const auto addr = IpAddress::parse(addr_text);
  if (!addr) return std::nullopt;
  const bool v4_text = addr_text.find(':') == std::string_view::npos;
  const int max_prefix = v4_text ? 32 : 128;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max_prefix) return std::nullopt;
  }
  Cidr c;
  c.prefix = v4_text ? 96 + prefix : prefix;
  // Host bits are cleared so that "127.0.0.1/8" means 127.0.0.0/8.
  for (int i = 0; i < 16; ++i) {
    const int bits = std::clamp(c.prefix - i * 8, 0, 8);
    const std::uint8_t mask = bits == 0 ? 0 : static_cast<std::uint8_t>(0xff << (8 - bits));
    c.network.bytes[i] = addr->bytes[i] & mask;
  }
  return c;
}

bool Cidr::contains(const IpAddress& addr) const {
  return prefix_matches(addr.bytes, network.bytes, prefix);
}

std::string Cidr::str() const {
  if (network.is_v4() && prefix >= 96) return network.str() + "/" + std::to_string(prefix - 96);
  return network.str() + "/" + std::to_string(prefix);
}

bool AddressPolicy::permits(const IpAddress& addr, bool networks_apply) const {
  if (classify(addr) == AddressClass::global) return true;
  return networks_apply && std::any_of(allowed_networks.begin(), allowed_networks.end(),
                     [&](const Cidr& c) { return c.contains(addr); });
}

}  // namespace dashpiff
