#pragma once
/// Seed 001's trusted hosts: the Host header must name one of TRUSTED_HOSTS, else 400 (a forged
/// Host would otherwise reach links, redirects and caches built from it). Entries are exact names
/// or addresses, "*.example.com" for any subdomain, or "*" for any host (the default).
#include <string>
#include <string_view>
#include <vector>

#include "context.hpp"

namespace gateway {

class TrustedHosts {
 public:
  TrustedHosts() = default;  ///< any host
  /// From "localhost,127.0.0.1,*.example.com"; `error` names a bad entry.
  static TrustedHosts Parse(std::string_view list, std::string& error);
  /// `host` is the Host header: a name or address, with an optional port ([v6]:port too).
  bool Allows(std::string_view host) const;
  bool any() const { return any_; }

 private:
  bool any_ = true;
  std::vector<std::string> exact_, suffixes_;  ///< suffixes keep their leading dot
};

/// 400 for a Host that is not trusted (nothing at all when any host is).
class TrustedHostFilter final : public SyncFilter {
 public:
  explicit TrustedHostFilter(TrustedHosts hosts) : hosts_(std::move(hosts)) {}
  FilterStatus OnRequest(RequestContext& ctx) override;

 private:
  const TrustedHosts hosts_;
};

}  // namespace gateway
