#include "trusted_hosts.hpp"

#include <algorithm>

#include "suite/core/json.hpp"

namespace gateway {

namespace {

using suite::core::TrimSpace;

// The host part of a Host header: "[::1]:8443" -> "[::1]", "example.com:443" -> "example.com".
std::string_view HostPart(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    return close == std::string_view::npos ? std::string_view{} : host.substr(0, close + 1);
  }
  const auto colon = host.find(':');
  return host.substr(0, colon);
}

bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '[' || c == ']' || c == ':';
  });
}

}  // namespace

TrustedHosts TrustedHosts::Parse(std::string_view list, std::string& error) {
  TrustedHosts t;
  t.any_ = false;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto entry = suite::core::AsciiLower(TrimSpace(list.substr(0, comma)));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry == "*") {
      t.any_ = true;
    } else if (entry.rfind("*.", 0) == 0 && ValidName(entry.substr(2))) {
      t.suffixes_.push_back(entry.substr(1));
    } else if (ValidName(entry)) {
      t.exact_.push_back(entry);
    } else {
      error = "not a host name, address or *.domain: " + entry;
      return {};
    }
  }
  if (!t.any_ && t.exact_.empty() && t.suffixes_.empty()) {
    error = "lists no host";
    return {};
  }
  return t;
}

bool TrustedHosts::Allows(std::string_view host) const {
  if (any_) return true;
  const auto name = suite::core::AsciiLower(HostPart(TrimSpace(host)));
  if (name.empty()) return false;
  if (std::find(exact_.begin(), exact_.end(), name) != exact_.end()) return true;
  return std::any_of(suffixes_.begin(), suffixes_.end(), [&](const std::string& suffix) {
    return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  });
}

FilterStatus TrustedHostFilter::OnRequest(RequestContext& ctx) {
  if (hosts_.any() || hosts_.Allows(ctx.req().Header("host"))) return FilterStatus::kContinue;
  return ctx.Refuse(suite::core::ApiError(suite::core::ErrorCode::kBadRequest, "Invalid host header"), "untrusted_host");
}

}  // namespace gateway
