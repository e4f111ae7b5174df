#include <catch2/catch.hpp>

#include "validation.hpp"

TEST_CASE("password policy of seed 002") {
  auto errs = [](const std::string& p) {
    nlohmann::json e = nlohmann::json::array();
    auth::CheckPassword(p, e);
    return e;
  };
  CHECK(errs("SecurePass123!").empty());
  CHECK(errs("weak").size() == 4);  // short, no upper, no digit, no special
  CHECK(errs("alllowercase1!")[0]["message"] == "Password must contain at least one uppercase letter");
  CHECK(errs(std::string(129, 'a') + "A1!").size() == 1);
}

TEST_CASE("guessable passwords are refused by strength, with the rule named") {
  auto errs = [](const std::string& p, int min_score, std::vector<std::string> inputs = {}) {
    nlohmann::json e = nlohmann::json::array();
    auth::CheckPassword(p, e, min_score, inputs);
    return e;
  };
  // All four composition rules hold, yet these are among the first guesses.
  for (const std::string p : {"Password1!", "P@ssw0rd!", "Qwerty123!"}) {
    INFO(p);
    const auto e = errs(p, 3);
    REQUIRE(e.size() == 1);
    CHECK(e[0]["message"].get<std::string>().rfind("Password is too easy to guess", 0) == 0);
  }
  CHECK(errs("Alice2024!", 3, {"alice", "alice@example.com"}).size() == 1);  // the user's own name
  CHECK(errs("SecurePass123!", 3).empty());                                  // seed 002's example
  CHECK(errs("Tr0ub4dor&3x", 4).empty());
  CHECK(errs("Password1!", 0).empty());                                      // strength check off
  CHECK(auth::PasswordScore("correcthorsebatterystaple") == 4);
  CHECK(auth::PasswordScore("password") == 0);
}

TEST_CASE("usernames and emails") {
  nlohmann::json e = nlohmann::json::array();
  auth::CheckUsername("johndoe", e);
  auth::CheckEmail("john@example.com", e);
  CHECK(e.empty());
  auth::CheckUsername("jo", e);
  auth::CheckUsername("john doe", e);
  auth::CheckEmail("john@", e);
  auth::CheckEmail("a@b", e);
  auth::CheckEmail("x<y>@example.com", e);
  CHECK(e.size() == 5);
}
