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

TEST_CASE("redis URLs: ACL user, percent-encoded password, IPv6 host (Boost.URL)") {
  auto acl = ParseUrl("redis://gateway:p%40ss%3Aw%2Frd@redis.internal:6380/3");
  REQUIRE(acl);
  CHECK(acl->username == "gateway");
  CHECK(acl->password == "p@ss:w/rd");
  CHECK(acl->host == "redis.internal");
  CHECK(acl->port == 6380);
  CHECK(acl->db == 3);
  auto v6 = ParseUrl("redis://:pw@[::1]:6379");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->password == "pw");
  CHECK_FALSE(ParseUrl("redis://user@host:6379"));      // a user without a password
  CHECK_FALSE(ParseUrl("redis://host:6379/16"));        // db 0-15
  CHECK_FALSE(ParseUrl("redis://host:99999"));
  CHECK_FALSE(ParseUrl("redis://host:6379?x=1"));
  CHECK_FALSE(ParseUrl("redis://[::1:6379"));
}
