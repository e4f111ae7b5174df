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

TEST_CASE("10,000 random methods and paths leave the number of series unchanged") {
  suite::obs::Metrics m("svc");
  auto series = [&] {
    std::size_t n = 0;
    for (const auto& family : m.registry().Collect()) n += family.metric.size();
    return n;
  };
  m.ObserveRequest("GET", "/health", 200, 0.001);
  m.ObserveRequest("POST", "unmatched", 404, 0.001);
  m.ObserveRequest("FOO", "unmatched", 404, 0.001);
  const auto before = series();
  const auto bytes_before = m.Render().size();
  std::uint64_t x = 88172645463325252ull;
  auto next = [&] { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x; };
  for (int i = 0; i < 10'000; ++i) {
    std::string method = "M" + std::to_string(next());
    // what a router hands over for a path it does not know: "unmatched", never the path
    m.ObserveRequest(method, "unmatched", 404, 0.001);
    m.ObserveRequest(i % 2 ? "get" : "POST ", "", 404, 0.001);
  }
  CHECK(series() == before);
  m.ObserveRequest("GET", "/health", 1000, 0.001);
  CHECK(m.Render().size() < bytes_before * 2);
  CHECK(m.Render().find("method=\"other\"") != std::string::npos);
  CHECK(m.Render().find("status_code=\"other\"") != std::string::npos);
  CHECK(suite::obs::MethodLabel("PATCH") == "PATCH");
  CHECK(suite::obs::MethodLabel("patch") == "other");
}
