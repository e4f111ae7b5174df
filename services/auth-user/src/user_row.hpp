#pragma once
/// The users table as the API shows it: one column list, one JSON shape (never the hash).
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <string>
#include <vector>

namespace auth {

/// SELECT list of a user row (password_hash included for the login check, never rendered).
extern const char* const kColumns;
/// A text[] column (roles) as strings.
std::vector<std::string> TextArray(const pqxx::field& f);
/// id, username, email, roles, is_active, is_verified, created_at.
nlohmann::json UserJson(const pqxx::row& r);

}  // namespace auth
