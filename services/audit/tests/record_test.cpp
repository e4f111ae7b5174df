#include <catch2/catch.hpp>

#include "record.hpp"

TEST_CASE("stream records are decoded with their types checked") {
  std::string why;
  auto ok = audit::ParseStreamEvent(R"({"event_id":"e1","type":"process","duration_ms":3,"http_status":200,"dataset_id":null})", why);
  REQUIRE(ok);
  CHECK((*ok)["event_id"] == "e1");
  CHECK_FALSE(audit::ParseStreamEvent(R"({"type":"process"})", why));
  CHECK(why == "event_id missing");
  CHECK_FALSE(audit::ParseStreamEvent(R"({"event_id":"e","duration_ms":"3"})", why));
  CHECK_FALSE(audit::ParseStreamEvent(R"({"event_id":"e","http_status":1e308})", why));
  CHECK_FALSE(audit::ParseStreamEvent(R"({"event_id":"e","action":{"x":1}})", why));
  CHECK_FALSE(audit::ParseStreamEvent(R"([1])", why));
  CHECK_FALSE(audit::ParseStreamEvent(std::string(10'000, '['), why));
  CHECK(why.find("deeper") != std::string::npos);
  CHECK_FALSE(audit::ParseStreamEvent(R"({"event_id":"e","dataset_id":"a\u0000b"})", why));
}

TEST_CASE("security events are checked for their own fields") {
  std::string why;
  CHECK(audit::ParseStreamEvent(R"({"event_id":"e","type":"security","event_type":"login_failure","severity":"WARNING","user_id":3,"username":null})", why));
  CHECK_FALSE(audit::ParseStreamEvent(R"({"event_id":"e","type":"security","severity":"WARNING"})", why));
  CHECK(why == "event_type missing");
  CHECK_FALSE(audit::ParseStreamEvent(R"({"event_id":"e","type":"security","event_type":"x","severity":"LOUD"})", why));
  CHECK_FALSE(audit::ParseStreamEvent(R"({"event_id":"e","type":"security","event_type":"x","severity":"INFO","user_id":"3"})", why));
  CHECK_FALSE(audit::ParseStreamEvent(R"({"event_id":"e","type":"security","event_type":"x","severity":"INFO","user_agent":[1]})", why));
}

TEST_CASE("access events (the gateway's) are checked for their own fields") {
  std::string why;
  const std::string ok = R"({"event_id":"e","type":"request","method":"GET","route":"/jobs/","path":"/jobs/1",)"
                         R"("reason":"-","auth_method":"api_key","tier":"pro","key_id":"k","bytes_in":0,"bytes_out":12,"http_status":200})";
  CHECK(audit::ParseStreamEvent(ok, why));
  CHECK_FALSE(audit::ParseStreamEvent(R"({"event_id":"e","type":"request","method":"GET"})", why));
  CHECK(why == "route missing or not a string");
  auto bad = nlohmann::json::parse(ok);
  bad["bytes_out"] = -1;
  CHECK_FALSE(audit::ParseStreamEvent(bad.dump(), why));
  bad = nlohmann::json::parse(ok);
  bad["key_id"] = 5;
  CHECK_FALSE(audit::ParseStreamEvent(bad.dump(), why));
}
