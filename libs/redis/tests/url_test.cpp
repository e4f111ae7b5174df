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

TEST_CASE("redis+sentinel URLs: sentinels, the primary's name, credentials for both") {
  auto s = ParseUrl("redis+sentinel://suite:p%40ss@s1,s2:26380,[::1]:26381/suite-primary/2");
  REQUIRE(s);
  REQUIRE(s->sentinels.size() == 3);
  CHECK(s->sentinels[0] == suite::redis::Endpoint{"s1", 26379});
  CHECK(s->sentinels[1] == suite::redis::Endpoint{"s2", 26380});
  CHECK(s->sentinels[2] == suite::redis::Endpoint{"::1", 26381});
  CHECK(s->master_name == "suite-primary");
  CHECK(s->username == "suite");
  CHECK(s->password == "p@ss");
  CHECK(s->db == 2);
  auto one = ParseUrl("redis+sentinel://127.0.0.1:26379/mymaster");
  REQUIRE(one);
  CHECK(one->sentinels.size() == 1);
  CHECK(one->db == 0);
  CHECK(one->password.empty());
  CHECK(ParseUrl("redis+sentinel://:pw@a,b/m")->password == "pw");
  CHECK_FALSE(ParseUrl("redis+sentinel://s1,s2"));             // no primary's name
  CHECK_FALSE(ParseUrl("redis+sentinel://s1,s2/"));            // an empty one
  CHECK_FALSE(ParseUrl("redis+sentinel://s1,/m"));             // an empty host
  CHECK_FALSE(ParseUrl("redis+sentinel://,s1/m"));
  CHECK_FALSE(ParseUrl("redis+sentinel:///m"));
  CHECK_FALSE(ParseUrl("redis+sentinel://s1:0/m"));
  CHECK_FALSE(ParseUrl("redis+sentinel://s1/m/16"));
  CHECK_FALSE(ParseUrl("redis+sentinel://s1/m?x=1"));
  CHECK_FALSE(ParseUrl("redis+sentinel://user@s1/m"));         // a user without a password
  CHECK_FALSE(ParseUrl("redis+sentinel://s1:26379/a/b/c"));
  std::string many = "redis+sentinel://";
  for (int i = 0; i < 17; ++i) many += "h" + std::to_string(i) + ",";
  many.back() = '/';
  CHECK_FALSE(ParseUrl(many + "m"));                           // at most 16 sentinels
}
