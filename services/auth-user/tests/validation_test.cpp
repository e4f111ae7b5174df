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
