#include "token_cache.hpp"

namespace gateway {

std::optional<VerifiedToken> TokenCache::Find(std::string_view token, Clock::time_point now) {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(token);
  if (it == entries_.end()) return std::nullopt;
  if (now >= it->second.until) return std::nullopt;  // expired: verified (and refused) afresh
  ++hits_;
  return it->second.claims;
}

void TokenCache::Put(std::string_view token, VerifiedToken claims, Clock::time_point valid_until,
                     Clock::time_point now) {
  const auto until = std::min(valid_until, now + limits_.ttl);
  if (until <= now || limits_.entries == 0) return;
  std::size_t bytes = token.size() * 2 + 64;  // the key, its copy in the order, the entry
  if (claims.subject) bytes += claims.subject->size();
  for (const auto& r : claims.roles) bytes += r.size() + 32;
  for (const auto& s : claims.scopes) bytes += s.size() + 32;
  bytes += claims.issuer.size() + (claims.tier ? claims.tier->size() : 0);
  if (bytes > limits_.bytes) return;
  std::lock_guard lock(mu_);
  if (const auto it = entries_.find(token); it != entries_.end()) {
    it->second.until = until;
    return;
  }
  std::string key(token);
  while (!order_.empty() && (entries_.size() >= limits_.entries || bytes_ + bytes > limits_.bytes)) EvictOldest();
  order_.push_back(key);
  entries_.emplace(std::move(key), Entry{std::move(claims), until, bytes});
  bytes_ += bytes;
}

void TokenCache::EvictOldest() {
  const auto it = entries_.find(order_.front());
  if (it != entries_.end()) {
    bytes_ -= it->second.bytes;
    entries_.erase(it);
  }
  order_.pop_front();
}

std::size_t TokenCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace gateway
