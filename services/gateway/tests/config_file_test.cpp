#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "config.hpp"
#include "config_file.hpp"
#include "local_routes.hpp"
#include "suite/testing/task.hpp"

using namespace gateway;

namespace {
std::vector<std::string> ErrorsOf(const std::string& text) {
  std::vector<std::string> errors;
  FileConfig::Read(nlohmann::json::parse(text), errors);
  return errors;
}
}  // namespace

TEST_CASE("config file: the shipped gateway.json is the built-in default, and valid") {
  std::ifstream in(SUITE_SOURCE_DIR "/deploy/gateway/gateway.json");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(nlohmann::json::parse(text.str()) == nlohmann::json::parse(kDefaultConfig));
  std::vector<std::string> errors;
  const auto c = FileConfig::Load(SUITE_SOURCE_DIR "/deploy/gateway/gateway.json", errors);
  CHECK(errors.empty());
  CHECK(c.routes.size() == 27);
  CHECK(c.routes[2].prefix == "/process");
  CHECK(c.routes[2].auth == AuthPolicy::kApiKeyAndJwt);
  CHECK(c.tiers.at("enterprise").body_limit == 100u * 1024 * 1024);
}

TEST_CASE("config file: every error listed with its JSON path, unknown keys refused") {
  const auto errors = ErrorsOf(R"({
    "upstreams": [{"name": "billing"}, {"name": "auth-user"}, {"name": "auth-user", "url": "ftp://x"}],
    "routes": [
      {"prefix": "/ok", "methods": ["GET"], "upstream": "auth-user"},
      {"prefix": "/ok", "methods": [], "upstream": "auth-user"},
      {"prefix": "/x", "methods": ["GET", 3], "upstream": "nowhere", "auth": "root", "timout_ms": 5},
      {"methods": ["CONNECT"], "upstream": "gateway", "rate_limit": 0, "body_limit_bytes": -1}
    ],
    "tiers": {"free": {"requests": "ten"}, "anonymous": {"daily_quota": 5}, "gold": {}},
    "rate_limit": {"failure_mode": "maybe", "replicas": 0},
    "cors": {"origins": "*"},
    "trusted_proxies": [1],
    "extra": true
  })");
  const std::vector<std::string> expected = {
      "/extra: unknown key",
      "/upstreams/0/url: is required (only auth-user, processing and audit default from the environment)",
      "/upstreams/2/name: duplicate upstream \"auth-user\"",
      "/upstreams/2/url: must look like http://host:port (or https://host:port)",
      "/routes/1/prefix: duplicate route \"/ok\"",
      "/routes/1/methods: must name at least one method",
      "/routes/2/timout_ms: unknown key",
      "/routes/2/methods/1: must be a string",
      "/routes/2/auth: must be one of none, api_key, jwt, api_key_and_jwt, any",
      "/routes/2/upstream: no upstream named \"nowhere\"",
      "/routes/3/prefix: is required",
      "/routes/3/rate_limit: must be between 1 and 1000000",
      "/routes/3/body_limit_bytes: must be between 0 and 1073741824",
      "/routes/3/methods: \"CONNECT\" is not served (GET, POST, PUT, PATCH, DELETE, OPTIONS; HEAD goes with GET; TRACE and CONNECT never)",
      "/tiers/gold: unknown key",
      "/tiers/anonymous/daily_quota: anonymous callers have no daily quota (they are limited by address)",
      "/tiers/free/requests: must be an integer",
      "/rate_limit/replicas: must be between 1 and 1000",
      "/rate_limit/failure_mode: must be one of local, open, closed",
      "/cors/origins: must be an array of strings",
      "/trusted_proxies/0: must be a string",
  };
  CHECK(errors == expected);
}

TEST_CASE("config file: what it leaves out keeps the suite's own, a custom route and upstream") {
  CHECK(ErrorsOf(R"({"tiers": {"free": {"requests": 20}}})").empty());
  CHECK(ErrorsOf(R"({"upstreams": [{"name": "auth-user"}]})") ==
        std::vector<std::string>{"/upstreams: the suite's routes (no \"routes\" given) need an upstream named processing",
                                 "/upstreams: the suite's routes (no \"routes\" given) need an upstream named audit"});
  CHECK(ErrorsOf(R"({"routes": []})").empty());
  CHECK(ErrorsOf(R"({"upstreams": [{"name": "processing"}], "routes": []})") ==
        std::vector<std::string>{"/upstreams: an upstream named auth-user is required (signing keys, issued API keys)"});
  std::vector<std::string> errors;
  const auto c = FileConfig::Read(nlohmann::json::parse(R"({
    "upstreams": [{"name": "auth-user"}, {"name": "billing", "url": "http://10.0.0.9:9000", "timeout_ms": 2000}],
    "routes": [{"prefix": "/billing/", "methods": ["GET", "POST"], "upstream": "billing", "auth": "jwt",
                "rate_limit": 5, "body_limit_bytes": 1000}]})"), errors);
  REQUIRE(errors.empty());
  CHECK(c.routes[0].rate_limit == 5);
  CHECK(c.upstreams[1].timeout == std::chrono::milliseconds(2000));
}

TEST_CASE("config file: an upstream that speaks HTTP/2 (a gRPC service), and what protocol may not be") {
  std::vector<std::string> errors;
  const auto c = FileConfig::Read(nlohmann::json::parse(R"({
    "upstreams": [{"name": "auth-user"}, {"name": "processing"}, {"name": "audit"},
                  {"name": "orders", "url": "http://10.0.0.9:50051", "protocol": "h2"},
                  {"name": "legacy", "url": "http://10.0.0.9:8080", "protocol": "http1"}]})"), errors);
  REQUIRE(errors.empty());
  CHECK(c.upstreams[3].http2);
  CHECK_FALSE(c.upstreams[4].http2);
  CHECK(ErrorsOf(R"({"upstreams": [{"name": "auth-user"}, {"name": "processing"}, {"name": "audit"},
                                   {"name": "x", "url": "http://a:1", "protocol": "h3"}]})") ==
        std::vector<std::string>{"/upstreams/3/protocol: must be one of http1, h2"});
  CHECK(ErrorsOf(R"({"upstreams": [{"name": "auth-user", "protocol": "h2"}, {"name": "processing"}, {"name": "audit"}]})") ==
        std::vector<std::string>{"/upstreams/0/protocol: the suite's own services speak HTTP/1.1"});
  // TLS to an upstream: HTTP/2 only, its CA with it.
  CHECK(ErrorsOf(R"({"upstreams": [{"name": "auth-user"}, {"name": "processing"}, {"name": "audit"},
                                   {"name": "x", "url": "https://a:443", "protocol": "h2", "ca_file": "/etc/ca.pem"}]})")
            .empty());
  CHECK(ErrorsOf(R"({"upstreams": [{"name": "auth-user"}, {"name": "processing"}, {"name": "audit"},
                                   {"name": "x", "url": "https://a:443"}]})") ==
        std::vector<std::string>{"/upstreams/3/url: https:// is spoken over HTTP/2 only: add \"protocol\": \"h2\""});
  CHECK(ErrorsOf(R"({"upstreams": [{"name": "auth-user"}, {"name": "processing"}, {"name": "audit"},
                                   {"name": "x", "url": "http://a:80", "protocol": "h2", "ca_file": "/etc/ca.pem"}]})") ==
        std::vector<std::string>{"/upstreams/3/ca_file: goes with an https:// url"});
}

TEST_CASE("config: the file, then seed 001's variables over it") {
  const std::string path = "/tmp/gateway-config-test.json";
  std::ofstream(path) << R"({"rate_limit": {"period_seconds": 30}, "tiers": {"pro": {"requests": 77}},
                             "trusted_hosts": ["api.example.com"], "cors": {"origins": ["https://a.example"]}})";
  setenv("GATEWAY_CONFIG", path.c_str(), 1);
  setenv("TLS_CERT_FILE", "x", 1);
  setenv("TLS_KEY_FILE", "x", 1);
  setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
  setenv("INTERNAL_TOKEN_SECRET", "fedcba9876543210fedcba9876543210", 1);
  setenv("API_KEYS", "key-number-one", 1);
  setenv("REDIS_URL", "redis://127.0.0.1:6379", 1);
  setenv("TRUSTED_HOSTS", "override.example", 1);
  {
    suite::core::Env env("gateway-test");
    const auto c = Config::FromEnv(env);
    CHECK(env.errors().empty());
    CHECK(c.rate_limit.period == std::chrono::seconds(30));
    CHECK(c.rate_limit.pro == 77);
    CHECK(c.rate_limit.free == 10);
    CHECK(c.trusted_hosts.Allows("override.example"));
    CHECK_FALSE(c.trusted_hosts.Allows("api.example.com"));
    CHECK(c.cors.Allows("https://a.example"));
    CHECK(c.routes.size() == 27);
    CHECK(c.Upstream("processing") != nullptr);
  }
  std::ofstream(path) << R"({"rate_limit": {"period_seconds": "soon"}})";
  {
    suite::core::Env env("gateway-test");
    Config::FromEnv(env);
    CHECK(env.errors() == std::vector<std::string>{"GATEWAY_CONFIG: /rate_limit/period_seconds: must be an integer"});
  }
  for (const char* v : {"GATEWAY_CONFIG", "TLS_CERT_FILE", "TLS_KEY_FILE", "JWT_SECRET", "INTERNAL_TOKEN_SECRET",
                        "API_KEYS", "REDIS_URL", "TRUSTED_HOSTS"})
    unsetenv(v);
}

TEST_CASE("GET /api/status: the limit that applies to the caller, in seed 001's words") {
  struct Inline final : suite::http::Offload {
    void Submit(std::function<void()> task, std::function<void()>) override { task(); }
  } workers;
  suite::service::Readiness readiness;
  Config config;
  config.rate_limit.period = std::chrono::seconds(60);
  suite::http::Router router;
  RegisterLocalRoutes(router, workers, readiness, config);
  auto status = [&](const char* tier) {
    auto req = std::make_shared<suite::http::Request>();
    req->method = "GET";
    req->path = "/api/status";
    req->identity.tier = tier;
    const auto res = suite::testing::RunTask(router.Dispatch(req));
    return nlohmann::json::parse(res.body)["rate_limiting"];
  };
  CHECK(status("pro")["limit"] == std::to_string(config.rate_limit.pro) + " requests per 60s");
  CHECK(status("enterprise")["limit"] == std::to_string(config.rate_limit.enterprise) + " requests per 60s");
  CHECK(status("anonymous")["limit"] == std::to_string(config.rate_limit.anonymous) + " requests per 60s");
  CHECK(status("free")["tier"] == "free");
  CHECK(status("free")["tiers"]["pro"] == config.rate_limit.pro);
}
