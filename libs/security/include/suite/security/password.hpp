#pragma once
/// argon2id password hashing (libsodium). Hashing takes tens of milliseconds of CPU by
/// design: call it from a worker thread, never from an I/O thread.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace suite::security {

struct PasswordParams {
  std::uint64_t ops_limit = 2;                    ///< argon2 t
  std::size_t mem_limit = 64ull * 1024 * 1024;    ///< bytes (argon2 m)
};

class PasswordHasher {
 public:
  explicit PasswordHasher(PasswordParams params = {});
  /// PHC string: $argon2id$v=19$m=65536,t=2,p=1$...
  std::string Hash(std::string_view password) const;
  bool Verify(std::string_view phc, std::string_view password) const;
  /// True when `phc` was made with other parameters than ours (upgrade on next login).
  bool NeedsRehash(std::string_view phc) const;

 private:
  PasswordParams params_;
};

}  // namespace suite::security
