// Prints audit events of every type as the publisher writes them, one line each, the edge cases
// included (nulls, text past its bound, bytes that are not UTF-8): tests/deploy/event_schemas.sh
// checks each line against proto/schemas/audit-event.json.
#include <iostream>

#include "suite/audit/event.hpp"
#include "suite/core/ids.hpp"

using namespace suite::audit;

int main() {
  const auto stamp = [](Event e) {
    e.event_id = suite::core::NewUuid();
    e.timestamp = suite::core::NowIso();
    return e;
  };
  const std::string long_text(2000, 'x'), not_utf8 = "a\xff\xfe\x01\"\\b";
  const Event events[] = {
      {.service = "processing", .request_id = "r1",
       .record = ProcessRecord{.dataset_id = "sales", .action = "summarize", .status = Outcome::kSuccess,
                               .duration_ms = 3, .output = {{"summary", "3 records processed"}}, .http_status = 200,
                               .client = "192.0.2.1", .subject = "alice"}},
      {.service = "processing", .request_id = "r2",
       .record = ProcessRecord{.output = "forced failure requested", .http_status = 400}},
      {.service = "processing", .request_id = long_text,
       .record = ProcessRecord{.dataset_id = long_text, .action = not_utf8, .duration_ms = -5, .http_status = 5000,
                               .client = "", .subject = long_text}},
      {.service = "gateway", .request_id = "r3",
       .record = AccessRecord{.method = "POST", .route = "/process", .path = "/process", .http_status = 200,
                              .duration_ms = 2, .client = "192.0.2.1", .subject = "alice", .auth_method = "api_key",
                              .key_id = "local", .tier = "enterprise", .bytes_in = 80, .bytes_out = 200,
                              .user_agent = "curl/7.88", .protocol = "h2"}},
      {.service = "gateway", .request_id = "r4",
       .record = AccessRecord{.method = long_text, .route = long_text, .path = not_utf8 + long_text,
                              .http_status = 431, .reason = long_text, .bytes_in = -1,
                              .user_agent = not_utf8 + long_text}},
      {.service = "auth-user", .request_id = "r5",
       .record = SecurityRecord{.event_type = "login_failure", .severity = Severity::kWarning, .user_id = 7,
                                .username = "bob", .client = "192.0.2.9", .user_agent = "agent/1",
                                .details = {{"reason", "bad password"}}}},
      {.service = "auth-user",
       .record = SecurityRecord{.event_type = "signing_key_rotated", .severity = Severity::kCritical,
                                .user_id = -1, .username = "", .user_agent = long_text}},
  };
  for (const auto& e : events) std::cout << stamp(e).ToLine() << '\n';
}
