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
