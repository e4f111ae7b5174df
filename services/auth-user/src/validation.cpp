#include "validation.hpp"

#include "suite/core/error.hpp"

#include <zxcvbn.h>

#include <cctype>
#include <cmath>

namespace auth {

void CheckUsername(const std::string& u, nlohmann::json& errors) {
  if (u.size() < 3 || u.size() > 50) {
    errors.push_back(suite::core::FieldError("username", "Username must be 3 to 50 characters"));
    return;
  }
  for (unsigned char c : u)
    if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') {
      errors.push_back(suite::core::FieldError("username", "Username may contain only letters, digits, '_', '-' and '.'"));
      return;
    }
}

void CheckEmail(const std::string& e, nlohmann::json& errors) {
  const auto at = e.find('@');
  const bool ok = e.size() <= 254 && at != std::string::npos && at > 0 && e.find('@', at + 1) == std::string::npos &&
                  e.find('.', at + 2) != std::string::npos && e.back() != '.' &&
                  e.find_first_of(" \t\r\n<>()[],;:\"\\") == std::string::npos;
  if (!ok) errors.push_back(suite::core::FieldError("email", "value is not a valid email address"));
}

int PasswordScore(const std::string& p, const std::vector<std::string>& user_inputs) {
  std::vector<const char*> dict;
  for (const auto& w : user_inputs)
    if (!w.empty()) dict.push_back(w.c_str());
  dict.push_back(nullptr);
  const double bits = ZxcvbnMatch(p.c_str(), dict.data(), nullptr);
  const double guesses = std::pow(2.0, bits);
  return guesses < 1e3 ? 0 : guesses < 1e6 ? 1 : guesses < 1e8 ? 2 : guesses < 1e10 ? 3 : 4;
}

void CheckPassword(const std::string& p, nlohmann::json& errors, int min_score,
                   const std::vector<std::string>& user_inputs) {
  const auto before = errors.size();
  if (p.size() < 8) errors.push_back(suite::core::FieldError("password", "Password must be at least 8 characters long"));
  if (p.size() > 128) errors.push_back(suite::core::FieldError("password", "Password must be at most 128 characters long"));
  bool upper = false, lower = false, digit = false, special = false;
  for (unsigned char c : p) {
    upper = upper || std::isupper(c);
    lower = lower || std::islower(c);
    digit = digit || std::isdigit(c);
    special = special || (!std::isalnum(c) && c >= 0x20);
  }
  if (!upper) errors.push_back(suite::core::FieldError("password", "Password must contain at least one uppercase letter"));
  if (!lower) errors.push_back(suite::core::FieldError("password", "Password must contain at least one lowercase letter"));
  if (!digit) errors.push_back(suite::core::FieldError("password", "Password must contain at least one digit"));
  if (!special) errors.push_back(suite::core::FieldError("password", "Password must contain at least one special character"));
  // Strength only once the composition rules hold (and the length is bounded: zxcvbn is not linear).
  if (min_score > 0 && errors.size() == before && p.find('\0') == std::string::npos) {
    const int score = PasswordScore(p, user_inputs);
    if (score < min_score)
      errors.push_back(suite::core::FieldError("password", "Password is too easy to guess (strength " + std::to_string(score) +
                                           " of 4, at least " + std::to_string(min_score) +
                                           " required): avoid common words, names and patterns"));
  }
}

}  // namespace auth
