#include <catch2/catch.hpp>

#include "suite/observability/metrics.hpp"

TEST_CASE("request metrics render in Prometheus text format") {
  suite::obs::Metrics m("svc");
  m.ObserveRequest("GET", "/health", 200, 0.002);
  m.ObserveRequest("GET", "/health", 200, 0.003);
  const std::string text = m.Render();
  CHECK(text.find("# TYPE http_requests_total counter") != std::string::npos);
  CHECK(text.find("http_requests_total{method=\"GET\",route=\"/health\",service=\"svc\","
                  "status_code=\"200\"} 2") != std::string::npos);
  CHECK(text.find("http_request_duration_seconds_count{method=\"GET\",route=\"/health\","
                  "service=\"svc\"} 2") != std::string::npos);
}
