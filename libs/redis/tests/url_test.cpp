#include <catch2/catch.hpp>

#include "suite/redis/client.hpp"

using suite::redis::ParseUrl;

TEST_CASE("redis URLs") {
  auto a = ParseUrl("redis://127.0.0.1:56379");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 56379);
  CHECK(a->password.empty());
  auto b = ParseUrl("redis://:s3cret@redis:6380/2");
  REQUIRE(b);
  CHECK(b->password == "s3cret");
  CHECK(b->host == "redis");
  CHECK(b->db == 2);
  CHECK(ParseUrl("redis://redis")->port == 6379);
  CHECK_FALSE(ParseUrl("http://x:1"));
  CHECK_FALSE(ParseUrl("redis://x:0"));
  CHECK_FALSE(ParseUrl("redis://x:1/db"));
}
