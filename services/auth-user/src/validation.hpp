#pragma once
/// Input rules of seed 002: username and email formats, the password policy.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace auth {

/// Appends {"field","message","type"} for each broken rule.
void CheckUsername(const std::string& username, nlohmann::json& errors);
void CheckEmail(const std::string& email, nlohmann::json& errors);
/// At least 8 characters (at most 128) with upper, lower, digit and special character; when
/// those hold, a zxcvbn strength score of at least `min_score` (0-4, 0 disables), counting
/// `user_inputs` (username, e-mail) as known words.
void CheckPassword(const std::string& password, nlohmann::json& errors, int min_score = 3,
                   const std::vector<std::string>& user_inputs = {});
/// zxcvbn's score: 0 (guessed in under 10^3 tries) ... 4 (more than 10^10).
int PasswordScore(const std::string& password, const std::vector<std::string>& user_inputs = {});

}  // namespace auth
