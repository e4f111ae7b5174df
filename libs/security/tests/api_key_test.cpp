#include <catch2/catch.hpp>

#include <set>

#include "suite/security/api_key.hpp"

using namespace suite::security;

TEST_CASE("API keys: shape, prefix and hash") {
  const auto k = GenerateApiKey();
  CHECK(k.key.size() == 55);
  CHECK(IsApiKeyShaped(k.key));
  CHECK(ApiKeyPrefix(k.key) == k.prefix);
  CHECK(k.key.rfind(k.prefix + "_", 0) == 0);
  CHECK(k.hash == ApiKeyHash(k.key));
  CHECK(k.hash.size() == 64);
  CHECK(k.hash.find(k.key) == std::string::npos);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(GenerateApiKey().key);
  CHECK(seen.size() == 1000);
}

TEST_CASE("API keys: anything else is refused before a lookup") {
  const auto k = GenerateApiKey().key;
  CHECK_FALSE(IsApiKeyShaped(""));
  CHECK_FALSE(IsApiKeyShaped(k.substr(0, 54)));
  CHECK_FALSE(IsApiKeyShaped(k + "A"));
  CHECK_FALSE(IsApiKeyShaped("pk" + k.substr(2)));
  std::string upper = k;
  upper[4] = 'G';  // not hex
  CHECK_FALSE(IsApiKeyShaped(upper));
  std::string bad = k;
  bad[20] = '+';  // base64, not base64url
  CHECK_FALSE(IsApiKeyShaped(bad));
  std::string nul = k;
  nul[30] = '\0';
  CHECK_FALSE(IsApiKeyShaped(nul));
  CHECK(ApiKeyPrefix("sk_live_whatever").empty());
}
