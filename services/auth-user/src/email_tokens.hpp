#pragma once
/// Single-use e-mail links (verification, password reset) and the mails that carry them.
/// A token is 32 random bytes, base64url; only its SHA-256 is stored. Issuing a new link of a
/// purpose voids the user's earlier unused ones. Blocking: inside the caller's transaction.
#include <pqxx/pqxx>

#include <chrono>
#include <optional>
#include <string>

#include "mail.hpp"

namespace auth {

enum class EmailPurpose { kVerify, kReset };

struct EmailConfig {
  bool require_verification = true;      ///< login waits for a verified address (seed 004)
  std::string public_base_url = "http://localhost:8000";  ///< where links point (the gateway)
  std::chrono::seconds verify_ttl{24 * 3600};
  std::chrono::seconds reset_ttl{3600};
  /// A user asks for another mail of a purpose at most once per this interval.
  std::chrono::seconds resend_interval{60};
};

class EmailTokens {
 public:
  explicit EmailTokens(EmailConfig config) : config_(std::move(config)) {}
  const EmailConfig& config() const { return config_; }
  /// A new link for `user_id` at `email`; voids earlier unused links of the purpose.
  std::string Issue(pqxx::work& tx, long long user_id, EmailPurpose purpose, const std::string& email) const;
  /// True when a link of the purpose went to the user less than `resend_interval` ago.
  bool RecentlySent(pqxx::work& tx, long long user_id, EmailPurpose purpose) const;
  struct Claim {
    long long user_id = 0;
    std::string email;
  };
  /// Spends a token: the user it names, or nullopt when it is unknown, spent, expired, of
  /// another purpose, or the user's address changed since.
  std::optional<Claim> Consume(pqxx::work& tx, const std::string& token, EmailPurpose purpose) const;
  /// The same check without spending the token.
  std::optional<Claim> Peek(pqxx::work& tx, const std::string& token, EmailPurpose purpose) const;

  Mail VerificationMail(const std::string& to, const std::string& username, const std::string& token) const;
  Mail ResetMail(const std::string& to, const std::string& username, const std::string& token) const;
  /// To the owner of an address someone tried to register again (which the API does not reveal).
  Mail AddressTakenMail(const std::string& to, const std::string& username) const;

 private:
  std::optional<Claim> Find(pqxx::work& tx, const std::string& token, EmailPurpose purpose, bool spend) const;
  EmailConfig config_;
};

}  // namespace auth
