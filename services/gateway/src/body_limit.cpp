#include "body_limit.hpp"

#include <algorithm>

#include "rate_limit_config.hpp"
#include "routes.hpp"

namespace gateway {

std::size_t BodyLimits::For(std::string_view tier) const {
  if (tier == "enterprise" || tier == kUnlimitedTier) return enterprise;
  if (tier == "pro") return pro;
  if (tier == "free") return free;
  return anonymous;
}

std::size_t BodyLimits::Max() const { return std::max({anonymous, free, pro, enterprise}); }

FilterStatus BodyLimitFilter::OnRequest(RequestContext& ctx) {
  if (ctx.deferred) return FilterStatus::kContinue;  // refused already; the body is never read
  std::size_t cap = limits_.For(ctx.identity.tier);
  if (ctx.route->body_limit) cap = std::min(cap, *ctx.route->body_limit);
  ctx.body_limit = cap;
  ctx.identity.body_limit = cap;  // the service behind reads up to what was admitted here
  if (!ctx.content_length || *ctx.content_length <= cap) return FilterStatus::kContinue;
  return ctx.Refuse(suite::core::ApiError(suite::core::ErrorCode::kPayloadTooLarge, "Request body too large",
                                          {{"limit_bytes", cap}, {"tier", ctx.identity.tier}}),
                    "body_too_large");
}

}  // namespace gateway
