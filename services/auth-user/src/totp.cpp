#include "totp.hpp"

#include <liboath/oath.h>

#include <cstdlib>
#include <stdexcept>

#include "suite/core/error.hpp"
#include "suite/core/ids.hpp"
#include "suite/security/jwt.hpp"

namespace auth {

using suite::core::ApiError;
using suite::core::ErrorCode;

namespace {

constexpr unsigned kStep = 30;
constexpr std::size_t kWindow = 1;
constexpr int kRecoveryCodes = 10;

void Init() {
  static const bool ok = oath_init() == OATH_OK;
  if (!ok) throw std::runtime_error("liboath init failed");
}

std::string Context(long long user_id) { return "totp:" + std::to_string(user_id); }

std::string Base32(const std::string& raw) {
  char* out = nullptr;
  std::size_t len = 0;
  if (oath_base32_encode(raw.data(), raw.size(), &out, &len) != OATH_OK) throw std::runtime_error("base32 failed");
  std::string s(out, len);
  std::free(out);
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string PercentEncode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += static_cast<char>(c);
    else out += {'%', kHex[c >> 4], kHex[c & 15]};
  }
  return out;
}

// A well-formed code: six digits. Anything else fails without reaching liboath.
bool SixDigits(const std::string& code) {
  if (code.size() != 6) return false;
  for (char c : code)
    if (c < '0' || c > '9') return false;
  return true;
}

int ConstantTimeCompare(void* handle, const char* test_otp) {
  return suite::security::ConstantTimeEquals(*static_cast<const std::string*>(handle), test_otp) ? 0 : 1;
}

}  // namespace

std::string Totp::CodeAt(const std::string& secret, std::time_t now) {
  Init();
  char otp[16] = {0};
  if (oath_totp_generate(secret.data(), secret.size(), now, kStep, 0, 6, otp) != OATH_OK)
    throw std::runtime_error("TOTP generation failed");
  return otp;
}

std::string Totp::FromBase32(const std::string& b32) {
  Init();
  std::string padded = b32;
  while (padded.size() % 8 != 0) padded += '=';
  char* out = nullptr;
  std::size_t len = 0;
  if (oath_base32_decode(padded.data(), padded.size(), &out, &len) != OATH_OK) throw std::invalid_argument("not base32");
  std::string s(out, len);
  std::free(out);
  return s;
}

bool Totp::Enabled(pqxx::work& tx, long long user_id) const {
  return !tx.exec_params("SELECT 1 FROM auth.user_totp WHERE user_id = $1 AND enabled_at IS NOT NULL", user_id).empty();
}

std::string Totp::Secret(pqxx::work& tx, long long user_id, bool enabled) const {
  auto rows = tx.exec_params(std::string("SELECT secret FROM auth.user_totp WHERE user_id = $1 AND enabled_at IS ") +
                                 (enabled ? "NOT NULL" : "NULL") + " FOR UPDATE",
                             user_id);
  if (rows.empty()) return {};
  const pqxx::binarystring sealed(rows[0][0]);
  return box_.Open(sealed.str(), Context(user_id));
}

nlohmann::json Totp::Enroll(pqxx::work& tx, long long user_id, const std::string& username) const {
  Init();
  if (Enabled(tx, user_id)) throw ApiError(ErrorCode::kConflict, "Two-factor authentication is already enabled");
  const std::string secret = suite::core::RandomBytes(20);  // 160 bits, RFC 4226's recommendation
  const std::string sealed = box_.Seal(secret, Context(user_id));
  tx.exec_params("INSERT INTO auth.user_totp (user_id, secret) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE "
                 "SET secret = excluded.secret, enabled_at = NULL, last_step = 0, created_at = now()",
                 user_id, pqxx::binarystring(sealed.data(), sealed.size()));
  const std::string b32 = Base32(secret);
  return {{"secret", b32},
          {"otpauth_url", "otpauth://totp/" + PercentEncode(issuer_) + ":" + PercentEncode(username) + "?secret=" + b32 +
                              "&issuer=" + PercentEncode(issuer_) + "&algorithm=SHA1&digits=6&period=30"},
          {"message", "Add the secret to an authenticator app, then confirm with a code at POST /auth/totp/confirm."}};
}

nlohmann::json Totp::Confirm(pqxx::work& tx, long long user_id, const std::string& code) const {
  Init();
  const std::string secret = Secret(tx, user_id, false);
  if (secret.empty()) throw ApiError(ErrorCode::kBadRequest, "No two-factor enrolment is pending");
  int pos = 0;
  std::string otp = code;
  if (!SixDigits(code) ||
      oath_totp_validate2_callback(secret.data(), secret.size(), std::time(nullptr), kStep, 0, 6, kWindow, &pos,
                                   ConstantTimeCompare, &otp) < 0)
    throw ApiError(ErrorCode::kBadRequest, "Invalid two-factor code");
  const long long step = static_cast<long long>(std::time(nullptr) / kStep) + pos;
  tx.exec_params("UPDATE auth.user_totp SET enabled_at = now(), last_step = $2 WHERE user_id = $1", user_id, step);
  tx.exec_params("DELETE FROM auth.totp_recovery_codes WHERE user_id = $1", user_id);
  nlohmann::json codes = nlohmann::json::array();
  for (int i = 0; i < kRecoveryCodes; ++i) {
    const std::string rc = suite::core::RandomHex(5);  // 40 bits each, single use, behind the password
    tx.exec_params("INSERT INTO auth.totp_recovery_codes (user_id, code_hash) VALUES ($1, $2)", user_id,
                   suite::security::Sha256Hex(rc));
    codes.push_back(rc);
  }
  return {{"enabled", true},
          {"recovery_codes", codes},
          {"message", "Two-factor authentication is on. Keep the recovery codes: each works once, instead of a code."}};
}

Totp::Result Totp::Check(pqxx::work& tx, long long user_id, const std::string& code, std::time_t now) const {
  Init();
  if (code.size() == 10) {  // a recovery code
    auto r = tx.exec_params("UPDATE auth.totp_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 "
                            "AND used_at IS NULL RETURNING 1",
                            user_id, suite::security::Sha256Hex(code));
    return r.empty() ? Result::kInvalid : Result::kRecoveryCodeUsed;
  }
  if (!SixDigits(code)) return Result::kInvalid;
  const std::string secret = Secret(tx, user_id, true);
  if (secret.empty()) return Result::kInvalid;
  int pos = 0;
  std::string otp = code;
  if (oath_totp_validate2_callback(secret.data(), secret.size(), now, kStep, 0, 6, kWindow, &pos, ConstantTimeCompare,
                                   &otp) < 0)
    return Result::kInvalid;
  const long long step = static_cast<long long>(now / kStep) + pos;
  // Each code once: a step at or before the last one used is a replay.
  auto r = tx.exec_params("UPDATE auth.user_totp SET last_step = $2 WHERE user_id = $1 AND last_step < $2 RETURNING 1",
                          user_id, step);
  return r.empty() ? Result::kInvalid : Result::kOk;
}

void Totp::Disable(pqxx::work& tx, long long user_id) const {
  tx.exec_params("DELETE FROM auth.user_totp WHERE user_id = $1", user_id);
  tx.exec_params("DELETE FROM auth.totp_recovery_codes WHERE user_id = $1", user_id);
}

}  // namespace auth
