// Classifies IP addresses the origin client is about to connect to, so that a
// URL handed in by a stranger cannot reach loopback, the VPC, or the EC2
// metadata service (169.254.169.254).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sockaddr;

namespace dashpiff {

enum class AddressClass {
  global,       // public unicast: allowed by default
  loopback,     // 127/8, ::1
  private_net,  // 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7
  link_local,   // 169.254/16 (EC2 metadata), fe80::/10
  multicast,    // 224/4, ff00::/8
  unspecified,  // 0.0.0.0/8, ::
  reserved,     // 240/4, broadcast, documentation and benchmark ranges, ...
};

const char* to_string(AddressClass c);

// 16 bytes, IPv4 held as IPv4-mapped IPv6 (::ffff:a.b.c.d) so one code path
// serves both families.
struct IpAddress {
  std::uint8_t bytes[16] = {};
  static std::optional<IpAddress> parse(std::string_view text);
  static std::optional<IpAddress> from_sockaddr(const sockaddr* sa);
  bool is_v4() const;
  std::string str() const;
};

// IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96) and 6to4 forms are
// classified by the IPv4 address they carry.
AddressClass classify(const IpAddress& addr);

struct Cidr {
  IpAddress network;
  int prefix = 0;  // over the 128-bit form
  static std::optional<Cidr> parse(std::string_view text);  // "127.0.0.0/8", "fc00::/7", "10.1.2.3"
  bool contains(const IpAddress& addr) const;
  std::string str() const;  // "127.0.0.0/8", "fc00::/7"
};

struct AddressPolicy {
  std::vector<Cidr> allowed_networks;  // explicit operator exceptions
  // Only global addresses, plus whatever allowed_networks names when
  // `networks_apply` (the origin client passes false for a host reached
  // through a wildcard allow-origin entry: issue #12 item 8).
  bool permits(const IpAddress& addr, bool networks_apply = true) const;
};

}  // namespace dashpiff
