#pragma once
/// Who the client is when the gateway sits behind a load balancer or an ingress: the address in
/// X-Forwarded-For is believed only when the connection comes from a configured proxy
/// (TRUSTED_PROXIES: addresses and CIDR ranges), and then only up to the first hop that is not
/// one (nginx's real_ip_recursive): a client cannot choose its own address by sending the
/// header, and anonymous clients behind an ingress do not share one rate-limit bucket.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "context.hpp"

namespace gateway {

class TrustedProxies {
 public:
  TrustedProxies() = default;  ///< none: the socket's address is the client
  /// From "10.0.0.0/8, 192.168.1.7, fd00::/8"; `error` names a bad entry.
  static TrustedProxies Parse(std::string_view list, std::string& error);
  bool empty() const { return ranges_.empty(); }
  bool Contains(std::string_view address) const;
  /// The client: `peer` itself unless it is trusted, else the rightmost X-Forwarded-For entry
  /// that is not a trusted proxy (or the leftmost valid one when all are).
  std::string Resolve(std::string_view peer, std::string_view forwarded_for) const;

 private:
  struct Range {
    std::array<std::uint8_t, 16> bytes{};  ///< IPv4 as v4-mapped IPv6
    int prefix = 0;                        ///< bits, on the 128-bit form
  };
  std::vector<Range> ranges_;
};

/// Replaces `remote_ip` with the resolved client, keeping the connection's in `peer_ip`.
class ClientAddressFilter final : public SyncFilter {
 public:
  explicit ClientAddressFilter(TrustedProxies proxies) : proxies_(std::move(proxies)) {}
  FilterStatus OnRequest(RequestContext& ctx) override;

 private:
  const TrustedProxies proxies_;
};

}  // namespace gateway
