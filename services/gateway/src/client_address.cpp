#include "client_address.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "suite/core/json.hpp"

namespace gateway {

namespace {

using suite::core::TrimSpace;

// An address as 16 bytes (IPv4 mapped into IPv6); nullopt when it is not one.
std::optional<std::array<std::uint8_t, 16>> Bytes(std::string_view text, bool* v4 = nullptr) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  std::array<std::uint8_t, 16> out{};
  in_addr a4;
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &a4, 4);
    if (v4) *v4 = true;
    return out;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(out.data(), &a6, 16);
    if (v4) *v4 = false;
    return out;
  }
  return std::nullopt;
}

}  // namespace

TrustedProxies TrustedProxies::Parse(std::string_view list, std::string& error) {
  TrustedProxies out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = TrimSpace(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (item.empty()) continue;
    const auto slash = item.find('/');
    bool v4 = false;
    const auto bytes = Bytes(item.substr(0, slash), &v4);
    if (!bytes) {
      error = "not an address or CIDR range: " + std::string(item);
      return {};
    }
    int bits = v4 ? 32 : 128;
    if (slash != std::string_view::npos) {
      const auto digits = item.substr(slash + 1);
      int n = 0;
      bool ok = !digits.empty() && digits.size() <= 3;
      for (char c : digits) ok = ok && c >= '0' && c <= '9' && (n = n * 10 + (c - '0')) >= 0;
      if (!ok || n > bits) {
        error = "bad prefix length in " + std::string(item);
        return {};
      }
      bits = n;
    }
    out.ranges_.push_back({*bytes, v4 ? bits + 96 : bits});
  }
  return out;
}

bool TrustedProxies::Contains(std::string_view address) const {
  const auto b = Bytes(address);
  if (!b) return false;
  for (const auto& r : ranges_) {
    int bits = r.prefix;
    bool match = true;
    for (int i = 0; i < 16 && bits > 0 && match; ++i, bits -= 8) {
      const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
      match = ((*b)[i] & mask) == (r.bytes[i] & mask);
    }
    if (match) return true;
  }
  return false;
}

std::string TrustedProxies::Resolve(std::string_view peer, std::string_view xff) const {
  if (xff.empty() || !Contains(peer)) return std::string(peer);
  std::string_view client = peer;
  // Right to left: each hop was added by the one after it; stop at the first we do not trust.
  while (!xff.empty()) {
    const auto comma = xff.rfind(',');
    const auto hop = TrimSpace(comma == std::string_view::npos ? xff : xff.substr(comma + 1));
    xff = comma == std::string_view::npos ? std::string_view{} : xff.substr(0, comma);
    if (!Bytes(hop)) break;  // garbage: believe nothing further left
    client = hop;
    if (!Contains(hop)) break;
  }
  return std::string(client);
}

FilterStatus ClientAddressFilter::OnRequest(RequestContext& ctx) {
  auto& req = ctx.req();
  const auto xff = req.Header("x-forwarded-for");
  if (xff.empty()) return FilterStatus::kContinue;
  auto client = proxies_.Resolve(req.remote_ip, xff);
  if (client != req.remote_ip) {
    req.peer_ip = std::move(req.remote_ip);
    req.remote_ip = std::move(client);
  }
  return FilterStatus::kContinue;
}

}  // namespace gateway
