#pragma once
/// The `Idempotency-Key` header (as Stripe and the IETF draft define it): the first request
/// with a key runs and its answer is kept for `ttl`; a retry with the same key and the same
/// body gets that answer again (marked `Idempotent-Replayed: true`) and runs nothing, so it
/// publishes no second audit record; the same key with another body is 409, and so is a retry
/// while the first is still being answered. Keys are per caller and route. Answers that refuse
/// the body (422) are not kept: the caller may fix the body and use the key again.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "suite/db/pool.hpp"

namespace processing {

struct StoredAnswer {
  int status = 0;
  std::string body;
};

class Idempotency {
 public:
  explicit Idempotency(suite::db::Pool& pool, std::chrono::hours ttl = std::chrono::hours(24),
                       std::chrono::seconds abandoned_after = std::chrono::seconds(60))
      : pool_(pool), ttl_(ttl), abandoned_after_(abandoned_after) {}

  /// Throws ApiError(kBadRequest) unless `key` is 1-255 visible ASCII characters.
  static void CheckKey(std::string_view key);
  /// Claims the key for this request: nullopt when it is ours to answer (then Finish or
  /// Release); the kept answer for a replay. Throws ApiError(kConflict) for another body, or
  /// while another request with the key is being answered (with Retry-After).
  std::optional<StoredAnswer> Begin(const std::string& owner, const std::string& route, const std::string& key,
                                    std::string_view body);
  void Finish(const std::string& owner, const std::string& route, const std::string& key, const StoredAnswer& answer);
  /// Forgets the claim (the answer is not to be kept).
  void Release(const std::string& owner, const std::string& route, const std::string& key);
  /// Deletes keys past their ttl; returns how many.
  long long Purge();

 private:
  suite::db::Pool& pool_;
  std::chrono::hours ttl_;
  std::chrono::seconds abandoned_after_;
};

}  // namespace processing
