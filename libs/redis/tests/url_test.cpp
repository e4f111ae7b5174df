#include <catch2/catch.hpp>

#include <cstdlib>

#include "suite/core/config.hpp"
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

TEST_CASE("rediss URLs: TLS to the server, and to the sentinels") {
  auto t = ParseUrl("rediss://suite:pw@redis.internal:6380/1");
  REQUIRE(t);
  CHECK(t->tls);
  CHECK(t->host == "redis.internal");
  CHECK(t->db == 1);
  CHECK_FALSE(ParseUrl("redis://h")->tls);
  auto s = ParseUrl("rediss+sentinel://suite:pw@s1,s2/m");
  REQUIRE(s);
  CHECK(s->tls);
  CHECK(s->sentinels.size() == 2);
  CHECK_FALSE(ParseUrl("redis+sentinel://s1/m")->tls);
  CHECK_FALSE(ParseUrl("redisss://h"));
}

TEST_CASE("REDIS_CA_FILE, REDIS_CERT_FILE and REDIS_KEY_FILE: only with rediss://, readable, the last two together") {
  auto errors = [](const char* url, const char* ca, const char* cert, const char* key) {
    setenv("REDIS_URL", url, 1);
    for (auto [n, v] : {std::pair{"REDIS_CA_FILE", ca}, {"REDIS_CERT_FILE", cert}, {"REDIS_KEY_FILE", key}})
      v ? setenv(n, v, 1) : unsetenv(n);
    suite::core::Env env("test");
    auto o = suite::redis::OptionsFromEnv(env, "REDIS_URL");
    std::string all;
    for (const auto& e : env.errors()) all += e + "\n";
    return std::pair{o, all};
  };
  auto [ok, none] = errors("rediss://:pw@h", "/etc/hostname", "/etc/hostname", "/etc/hostname");
  CHECK(none.empty());
  CHECK(ok.tls_ca_file == "/etc/hostname");
  CHECK(ok.tls_key_file == "/etc/hostname");
  CHECK(errors("redis://:pw@h", "/etc/hostname", nullptr, nullptr).second.find("REDIS_CA_FILE") != std::string::npos);
  CHECK(errors("rediss://:pw@h", "/nonexistent/ca.crt", nullptr, nullptr).second.find("cannot be read") != std::string::npos);
  CHECK(errors("rediss://:pw@h", nullptr, "/etc/hostname", nullptr).second.find("go together") != std::string::npos);
  CHECK(errors("rediss://:pw@h", nullptr, nullptr, nullptr).second.empty());
  for (const char* n : {"REDIS_URL", "REDIS_CA_FILE", "REDIS_CERT_FILE", "REDIS_KEY_FILE"}) unsetenv(n);
}

TEST_CASE("URLs without an authority are refused before Boost.URL, which asserts on some (found by fuzz_redis_url)") {
  CHECK_FALSE(ParseUrl("wAe:?"));
  CHECK_FALSE(ParseUrl("s2:["));
  CHECK_FALSE(ParseUrl(std::string_view("tttt:\x06", 6)));
  CHECK_FALSE(ParseUrl("redis:host:6379"));
  CHECK_FALSE(ParseUrl("1redis://host"));
}
