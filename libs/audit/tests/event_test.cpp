#include <catch2/catch.hpp>

#include "suite/audit/event.hpp"

using namespace suite::audit;

namespace {

constexpr const char* kId = "0b7c4c1e-6d3f-4f4e-9a51-3f1f2f6c9d10";
constexpr const char* kAt = "2026-12-06T01:02:03.456Z";

Event Process() {
  return {.event_id = kId, .timestamp = kAt, .service = "processing", .request_id = "req-1",
          .record = ProcessRecord{.dataset_id = "sales", .action = "count", .status = Outcome::kSuccess,
                                  .duration_ms = 12, .output = {{"count", 3}}, .http_status = 200,
                                  .client = "10.0.0.1", .subject = "alice"}};
}
Event Access() {
  return {.event_id = kId, .timestamp = kAt, .service = "gateway", .request_id = "req-2",
          .record = AccessRecord{.method = "POST", .route = "/process", .path = "/process", .http_status = 429,
                                 .reason = "rate_limited", .duration_ms = 1, .client = "10.0.0.2",
                                 .auth_method = "api_key", .key_id = "local", .tier = "free", .bytes_in = 10,
                                 .bytes_out = 120, .user_agent = "curl/7.88"}};
}
Event Security() {
  return {.event_id = kId, .timestamp = kAt, .service = "auth-user",
          .record = SecurityRecord{.event_type = "login_failure", .severity = Severity::kWarning, .user_id = 7,
                                   .username = "bob", .details = {{"reason", "bad password"}}}};
}

std::optional<Event> Back(const Event& e) {
  std::string why;
  auto out = Event::Parse(e.ToLine(), why);
  INFO(why);
  CHECK(why.empty() == out.has_value());
  return out;
}

std::string Why(std::string_view text) {
  std::string why;
  CHECK_FALSE(Event::Parse(text, why));
  return why;
}

// The line of `e` with one field's JSON replaced.
std::string With(const Event& e, const char* field, nlohmann::json value) {
  auto j = nlohmann::json::parse(e.ToLine());
  j[field] = std::move(value);
  return j.dump();
}

}  // namespace

TEST_CASE("event: each type is written in the schema's field order and read back unchanged") {
  CHECK(Process().ToLine() ==
        R"({"event_id":"0b7c4c1e-6d3f-4f4e-9a51-3f1f2f6c9d10","type":"process","timestamp":"2026-12-06T01:02:03.456Z",)"
        R"("service":"processing","request_id":"req-1","dataset_id":"sales","action":"count","status":"success",)"
        R"("duration_ms":12,"output":{"count":3},"http_status":200,"client":"10.0.0.1","subject":"alice"})");
  for (const auto& e : {Process(), Access(), Security()}) {
    const auto back = Back(e);
    REQUIRE(back);
    CHECK(back->type() == e.type());
    CHECK(back->ToLine() == e.ToLine());
  }
  const auto a = Back(Access());
  REQUIRE(a);
  const auto& r = std::get<AccessRecord>(a->record);
  CHECK(r.reason == "rate_limited");
  CHECK(r.bytes_out == 120);
  CHECK(r.key_id == "local");
  const auto s = Back(Security());
  REQUIRE(s);
  CHECK(s->request_id.empty());  // written as null: a security event outside a request
  CHECK(std::get<SecurityRecord>(s->record).user_id == 7);
  CHECK(std::get<SecurityRecord>(s->record).severity == Severity::kWarning);
}

TEST_CASE("event: empty optional text is null, a security event without a user has user_id null") {
  auto e = Security();
  auto& s = std::get<SecurityRecord>(e.record);
  s.user_id.reset();
  s.username = "";
  const auto j = nlohmann::json::parse(e.ToLine());
  CHECK(j["user_id"].is_null());
  CHECK(j["username"].is_null());
  CHECK(j["request_id"].is_null());
  const auto back = Back(e);
  REQUIRE(back);
  CHECK_FALSE(std::get<SecurityRecord>(back->record).user_id);
  CHECK_FALSE(std::get<SecurityRecord>(back->record).username);
}

TEST_CASE("event: a client's text is clipped on a character boundary and made UTF-8, so it always reads back") {
  auto e = Access();
  auto& a = std::get<AccessRecord>(e.record);
  a.path = "/" + std::string(254, 'a') + "\xC3\xA9";            // é would end at byte 257: cut before it
  a.user_agent = std::string("bad \xFF\xFE bytes\x01 and \0 nul", 23);  // not UTF-8; a control byte; NUL
  a.method = std::string(100, 'G');
  const auto back = Back(e);
  REQUIRE(back);
  const auto& r = std::get<AccessRecord>(back->record);
  CHECK(r.path == "/" + std::string(254, 'a'));
  CHECK(*r.user_agent == std::string("bad ?? bytes\x01 and ? nul"));
  CHECK(r.method == std::string(16, 'G'));
  a.path = "/" + std::string(253, 'a') + "\xC3\xA9";  // ends at byte 256 exactly: kept whole
  CHECK(std::get<AccessRecord>(Back(e)->record).path == a.path);
}

TEST_CASE("event: what the store could not take is refused with the field's name") {
  CHECK(Why(With(Process(), "event_id", "e1")) == "event_id: not a UUID");
  CHECK(Why(With(Process(), "event_id", nullptr)) == "event_id: missing");
  CHECK(Why(With(Process(), "timestamp", "")) == "timestamp: not an RFC 3339 date-time");
  CHECK(Why(With(Process(), "timestamp", "2026-02-30T00:00:00Z")) == "timestamp: not an RFC 3339 date-time");
  CHECK(Why(With(Process(), "timestamp", "2026-13-01T00:00:00Z")) == "timestamp: not an RFC 3339 date-time");
  CHECK(Why(With(Process(), "timestamp", "2026-12-01 00:00:00")) == "timestamp: not an RFC 3339 date-time");
  CHECK(Why(With(Process(), "timestamp", "2026-12-01T00:00:00+01:00x")) == "timestamp: not an RFC 3339 date-time");
  CHECK(Why(With(Process(), "type", "other")) == "type: not process, request or security");
  CHECK(Why(With(Process(), "duration_ms", "3")) == "duration_ms: not an integer");
  CHECK(Why(With(Process(), "duration_ms", -1)) == "duration_ms: not between 0 and 2147483647");
  CHECK(Why(With(Process(), "duration_ms", 1ll << 40)) == "duration_ms: not between 0 and 2147483647");
  CHECK(Why(With(Process(), "http_status", 1e308)) == "http_status: not an integer");
  CHECK(Why(With(Process(), "http_status", 18446744073709551615ull)) == "http_status: not between 0 and 999");
  CHECK(Why(With(Process(), "action", {{"x", 1}})) == "action: not a string");
  CHECK(Why(With(Process(), "status", "maybe")) == "status: not one of the schema's values");
  CHECK(Why(With(Process(), "request_id", std::string(129, 'r'))) == "request_id: longer than 128 bytes");
  CHECK(Why(With(Security(), "severity", "LOUD")) == "severity: not one of the schema's values");
  CHECK(Why(With(Security(), "event_type", "")) == "event_type: empty");
  CHECK(Why(With(Security(), "user_id", "3")) == "user_id: not an integer");
  CHECK(Why(With(Security(), "user_agent", {1})) == "user_agent: not a string");
  CHECK(Why(With(Access(), "method", nullptr)) == "method: missing");
  CHECK(Why(With(Access(), "bytes_in", -5)) == "bytes_in: not between 0 and 9223372036854775807");
  CHECK(Why(R"({"event_id":"0b7c4c1e-6d3f-4f4e-9a51-3f1f2f6c9d10","dataset_id":"a\u0000b"})") != "");
  CHECK(Why("[1]") == "event is not an object");
  CHECK_FALSE(Why(std::string(10'000, '[')).empty());
  CHECK_FALSE(Why("{\"event_id\":").empty());
}

TEST_CASE("event: fields a newer producer adds are ignored (a rolling upgrade loses no event)") {
  std::string why;
  const auto e = Event::Parse(With(Process(), "added_later", {{"x", 1}}), why);
  REQUIRE(e);
  CHECK(e->ToLine() == Process().ToLine());
}

TEST_CASE("event: offsets and fractions of RFC 3339 are taken") {
  std::string why;
  for (const char* at : {"2026-12-06T01:02:03Z", "2026-12-06T01:02:03.123456789Z", "2024-02-29T23:59:60+05:30",
                         "2026-12-06t01:02:03-08:00"}) {
    INFO(at);
    CHECK(Event::Parse(With(Process(), "timestamp", at), why));
  }
  CHECK_FALSE(Event::Parse(With(Process(), "timestamp", "2025-02-29T00:00:00Z"), why));
  CHECK_FALSE(Event::Parse(With(Process(), "timestamp", "2026-12-06T01:02:03.Z"), why));
}
