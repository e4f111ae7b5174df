#pragma once
/// Input rules of seed 002: username and email formats, the password policy.
#include <nlohmann/json.hpp>

#include <string>

namespace auth {

/// Appends {"field","message","type"} for each broken rule.
void CheckUsername(const std::string& username, nlohmann::json& errors);
void CheckEmail(const std::string& email, nlohmann::json& errors);
/// At least 8 characters (at most 128) with upper, lower, digit and special character.
void CheckPassword(const std::string& password, nlohmann::json& errors);

}  // namespace auth
