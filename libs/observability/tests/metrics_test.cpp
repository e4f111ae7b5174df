#include <catch2/catch.hpp>

#include "suite/observability/metrics.hpp"

#include <atomic>
#include <chrono>

#include "suite/core/version.hpp"

TEST_CASE("request metrics render in Prometheus text format") {
  suite::obs::Metrics m("svc");
  m.ObserveRequest("GET", "/health", 200, 0.002);
  m.ObserveRequest("GET", "/health", 200, 0.003);
  const std::string text = m.Render();
  CHECK(text.find("# TYPE http_requests_total counter") != std::string::npos);
  CHECK(text.find("http_requests_total{method=\"GET\",protocol=\"h1\",route=\"/health\",status_code=\"200\"} 2") !=
        std::string::npos);
  // A WebSocket upgrade is its own series: the protocol label, from a closed set.
  m.ObserveRequest("GET", "/ws/", 101, 0.001, suite::obs::Protocol::kWs);
  CHECK(m.Render().find("http_requests_total{method=\"GET\",protocol=\"ws\",route=\"/ws/\",status_code=\"101\"} 1") !=
        std::string::npos);
  CHECK(text.find("http_request_duration_seconds_count{method=\"GET\",route=\"/health\",status_class=\"2xx\"} 2") !=
        std::string::npos);
  // The scrape's job names the service: no series carries it.
  CHECK(text.find("service=") == std::string::npos);
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

TEST_CASE("process metrics, build info and exposed values are in every scrape") {
  suite::obs::Metrics m("svc");
  std::atomic<int> published{0};
  m.Expose("things_published_total", "Things", suite::obs::Metrics::Kind::kCounter, {}, [&] { return published.load(); });
  m.Expose("link_up", "Links", suite::obs::Metrics::Kind::kGauge, {{"client", "a"}}, [] { return 1.0; });
  m.Expose("link_up", "Links", suite::obs::Metrics::Kind::kGauge, {{"client", "b"}}, [] { return 0.0; });
  auto text = m.Render();
  CHECK(text.find("# TYPE things_published_total counter\nthings_published_total 0") != std::string::npos);
  published = 7;
  text = m.Render();
  CHECK(text.find("things_published_total 7") != std::string::npos);
  CHECK(text.find("# TYPE link_up gauge") != std::string::npos);
  CHECK(text.find("link_up{client=\"a\"} 1") != std::string::npos);
  CHECK(text.find("link_up{client=\"b\"} 0") != std::string::npos);
  CHECK(text.find("suite_build_info{revision=\"") != std::string::npos);
  CHECK(text.find("version=\"" + std::string(suite::core::kVersion) + "\"} 1") != std::string::npos);
  // /proc/self, read at the scrape: plausible values, not placeholders.
  auto value = [&](const std::string& name) {
    const auto at = text.find("\n" + name + " ");
    REQUIRE(at != std::string::npos);
    return std::stod(text.substr(at + name.size() + 2));
  };
  CHECK(value("process_resident_memory_bytes") > 1024 * 1024);
  CHECK(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
  CHECK(value("process_open_fds") >= 3);
  CHECK(value("process_max_fds") >= value("process_open_fds"));
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(value("process_start_time_seconds") > now - 3600);
  CHECK(value("process_start_time_seconds") <= now + 1);
  CHECK(value("process_cpu_seconds_total") >= 0);
  CHECK(suite::obs::StatusClass(404) == "4xx");
  CHECK(suite::obs::StatusClass(99) == "other");
}
