#pragma once
/// Body limits by tier (seed 003: anonymous 2 MB, free 5, pro 25, enterprise 100) and by route
/// (the lower wins). Runs on the head: a declared Content-Length past the cap is refused before
/// one byte of the body is read (and no 100 Continue invites it); a chunked body is read under
/// the cap and refused as it passes it.
#include <cstddef>
#include <string_view>

#include "context.hpp"

namespace gateway {

struct BodyLimits {
  static constexpr std::size_t kMiB = 1024 * 1024;
  std::size_t anonymous = 2 * kMiB, free = 5 * kMiB, pro = 25 * kMiB, enterprise = 100 * kMiB;
  std::size_t For(std::string_view tier) const;
  std::size_t Max() const;
};

class BodyLimitFilter final : public SyncFilter {
 public:
  explicit BodyLimitFilter(BodyLimits limits) : limits_(limits) {}
  FilterStatus OnRequest(RequestContext& ctx) override;

 private:
  const BodyLimits limits_;
};

}  // namespace gateway
