#include "suite/security/password.hpp"

#include <sodium.h>

#include <stdexcept>

namespace suite::security {

PasswordHasher::PasswordHasher(PasswordParams params) : params_(params) {
  if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
}

std::string PasswordHasher::Hash(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), params_.ops_limit,
                            params_.mem_limit, crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw std::runtime_error("argon2id hashing failed (out of memory?)");
  return out;
}

bool PasswordHasher::Verify(std::string_view phc, std::string_view password) const {
  if (phc.size() >= crypto_pwhash_STRBYTES) return false;
  std::string z(phc);  // NUL-terminated copy
  return crypto_pwhash_str_verify(z.c_str(), password.data(), password.size()) == 0;
}

bool PasswordHasher::NeedsRehash(std::string_view phc) const {
  std::string z(phc);
  return crypto_pwhash_str_needs_rehash(z.c_str(), params_.ops_limit, params_.mem_limit) != 0;
}

}  // namespace suite::security
