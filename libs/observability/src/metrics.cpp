#include "suite/observability/metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <fstream>
#include <iterator>
#include <prometheus/text_serializer.h>
#include <sstream>

#include "suite/core/version.hpp"

namespace suite::obs {

std::string_view MethodLabel(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                "PATCH",   "OPTIONS", "TRACE", "CONNECT"};
  for (auto m : kKnown)
    if (m == method) return m;
  return "other";
}

std::string StatusLabel(int status) {
  return status >= 100 && status <= 599 ? std::to_string(status) : std::string("other");
}

namespace {

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

prometheus::ClientMetric Value(prometheus::MetricType type, double v,
                               const std::map<std::string, std::string>& labels = {}) {
  prometheus::ClientMetric m;
  for (const auto& [k, value] : labels) m.label.push_back({k, value});
  if (type == prometheus::MetricType::Counter) m.counter.value = v;
  else m.gauge.value = v;
  return m;
}

// The process collector prometheus-cpp 1.0 lacks, after the Go and Python clients': what
// /proc/self says at the moment of the scrape.
void AppendProcess(std::vector<prometheus::MetricFamily>& out) {
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (close != std::string::npos && tick > 0) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f((std::istream_iterator<std::string>(fields)), std::istream_iterator<std::string>());
    // After the name: f[0] is field 3 (state); utime 14, stime 15, starttime 22, vsize 23, rss 24.
    auto field = [&](std::size_t n) { return n - 3 < f.size() ? std::stod(f[n - 3]) : 0.0; };
    using T = prometheus::MetricType;
    auto cpu = Family("process_cpu_seconds_total", "User and system CPU time spent in seconds.", T::Counter);
    cpu.metric.push_back(Value(T::Counter, (field(14) + field(15)) / tick));
    out.push_back(std::move(cpu));
    auto vsize = Family("process_virtual_memory_bytes", "Virtual memory size in bytes.", T::Gauge);
    vsize.metric.push_back(Value(T::Gauge, field(23)));
    out.push_back(std::move(vsize));
    auto rss = Family("process_resident_memory_bytes", "Resident memory size in bytes.", T::Gauge);
    rss.metric.push_back(Value(T::Gauge, field(24) * page));
    out.push_back(std::move(rss));
    double boot = 0;
    std::ifstream proc_stat("/proc/stat");
    for (std::string key; proc_stat >> key;) {
      if (key == "btime") {
        proc_stat >> boot;
        break;
      }
      proc_stat.ignore(1 << 16, '\n');
    }
    auto start = Family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", T::Gauge);
    start.metric.push_back(Value(T::Gauge, boot + field(22) / tick));
    out.push_back(std::move(start));
  }
  double fds = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++fds;
    ::closedir(d);
    --fds;  // the directory being read
  }
  auto open = Family("process_open_fds", "Number of open file descriptors.", prometheus::MetricType::Gauge);
  open.metric.push_back(Value(prometheus::MetricType::Gauge, fds));
  out.push_back(std::move(open));
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    auto max = Family("process_max_fds", "Maximum number of open file descriptors.", prometheus::MetricType::Gauge);
    max.metric.push_back(Value(prometheus::MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
    out.push_back(std::move(max));
  }
}

}  // namespace

namespace {
std::uint64_t NextMetricsId() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}
// Per thread, direct-mapped: a slot names its Metrics by id (never by address, which a later
// instance may reuse), and its series pointers live as long as that instance's registry.
struct CachedSeries {
  std::uint64_t owner = 0;
  std::size_t hash = 0;
  int status = 0;
  Protocol protocol = Protocol::kH1;
  std::string method, route;
  prometheus::Counter* count = nullptr;
  prometheus::Histogram* duration = nullptr;
};
constexpr std::size_t kSeriesCache = 64;
thread_local std::array<CachedSeries, kSeriesCache> series_cache;
}  // namespace

Metrics::Metrics(const std::string& /*service: the scrape's job names it*/)
    : registry_(std::make_shared<prometheus::Registry>()), id_(NextMetricsId()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("http_requests_total")
                   .Help("HTTP requests served, by method, protocol, route and status")
                   .Register(*registry_);
  duration_ = &prometheus::BuildHistogram()
                   .Name("http_request_duration_seconds")
                   .Help("HTTP request latency, by method, route and status class")
                   .Register(*registry_);
  in_flight_ = &prometheus::BuildGauge()
                    .Name("http_requests_in_progress")
                    .Help("HTTP requests being served")
                    .Register(*registry_)
                    .Add({});
  connections_ = &prometheus::BuildGauge()
                      .Name("http_connections_open")
                      .Help("Client connections accepted and not yet closed (TLS handshakes included)")
                      .Register(*registry_)
                      .Add({});
  auto& refused = prometheus::BuildCounter()
                      .Name("http_connections_refused_total")
                      .Help("Connections closed at accept: max_connections, per_client cap, fd_exhausted")
                      .Register(*registry_);
  refused_[static_cast<std::size_t>(Refusal::kMaxConnections)] = &refused.Add({{"reason", "max_connections"}});
  refused_[static_cast<std::size_t>(Refusal::kPerClient)] = &refused.Add({{"reason", "per_client"}});
  refused_[static_cast<std::size_t>(Refusal::kFdExhausted)] = &refused.Add({{"reason", "fd_exhausted"}});
  auto& h2 = prometheus::BuildCounter()
                 .Name("http2_refusals_total")
                 .Help("HTTP/2 streams refused and connections ended by a limit, by reason")
                 .Register(*registry_);
  for (std::size_t i = 0; i < h2_refused_.size(); ++i)
    h2_refused_[i] = &h2.Add({{"reason", std::string(H2RefusalLabel(static_cast<H2Refusal>(i)))}});
  prometheus::BuildGauge()
      .Name("suite_build_info")
      .Help("The build this process runs: 1, with its version and source revision")
      .Register(*registry_)
      .Add({{"version", core::kVersion}, {"revision", core::kRevision}})
      .Set(1);
}

std::string_view ProtocolLabel(Protocol p) {
  switch (p) {
    case Protocol::kH1: return "h1";
    case Protocol::kH2: return "h2";
    case Protocol::kGrpc: return "grpc";
    case Protocol::kWs: return "ws";
  }
  return "h1";
}

std::string_view H2RefusalLabel(H2Refusal r) {
  switch (r) {
    case H2Refusal::kRapidReset: return "rapid_reset";
    case H2Refusal::kSettingsFlood: return "settings_flood";
    case H2Refusal::kPingFlood: return "ping_flood";
    case H2Refusal::kControlFlood: return "control_flood";
    case H2Refusal::kEmptyFrames: return "empty_frames";
    case H2Refusal::kContinuationFlood: return "continuation_flood";
    case H2Refusal::kHeaderListTooLarge: return "header_list_too_large";
    case H2Refusal::kTooManyStreams: return "too_many_streams";
    case H2Refusal::kStreamIdle: return "stream_idle";
    case H2Refusal::kSlowRead: return "slow_read";
    case H2Refusal::kProtocolError: return "protocol_error";
    case H2Refusal::kCount: break;
  }
  return "protocol_error";
}

void Metrics::ObserveRequest(std::string_view method, const std::string& route, int status,
                             double seconds, Protocol protocol) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  const std::string_view m = MethodLabel(method);
  const std::string_view r = route.empty() ? std::string_view("unmatched") : std::string_view(route);
  const int s = status >= 100 && status <= 599 ? status : 0;
  const std::size_t hash = std::hash<std::string_view>{}(r) * 31 + std::hash<std::string_view>{}(m) * 7 +
                           static_cast<std::size_t>(s) * 5 + static_cast<std::size_t>(protocol);
  // This thread's copy first (no lock); a miss takes the shared map's lock and fills it.
  CachedSeries& cached = series_cache[(hash ^ id_) % kSeriesCache];
  if (cached.owner == id_ && cached.hash == hash && cached.status == s && cached.protocol == protocol &&
      cached.method == m && cached.route == r) {
    cached.count->Increment();
    cached.duration->Observe(seconds);
    return;
  }
  prometheus::Counter* count = nullptr;
  prometheus::Histogram* duration = nullptr;
  {
    std::lock_guard lock(series_mu_);
    auto& bucket = series_[hash];
    for (const auto& e : bucket)
      if (e.status == s && e.protocol == protocol && e.method == m && e.route == r) {
        count = e.count;
        duration = e.duration;
        break;
      }
    if (count == nullptr) {
      // First time: the families find or make the series (their own lock, taken once per series).
      const std::string ms(m), rs(r);
      count = &requests_->Add({{"method", ms}, {"protocol", std::string(ProtocolLabel(protocol))}, {"route", rs},
                               {"status_code", StatusLabel(status)}});
      duration = &duration_->Add({{"method", ms}, {"route", rs}, {"status_class", std::string(StatusClass(status))}}, kBuckets);
      bucket.push_back({ms, rs, s, protocol, count, duration});
    }
  }
  cached = {id_, hash, s, protocol, std::string(m), std::string(r), count, duration};
  count->Increment();
  duration->Observe(seconds);
}

void Metrics::Expose(const std::string& name, const std::string& help, Kind kind, Labels labels,
                     std::function<double()> read) {
  std::lock_guard lock(exposed_mu_);
  auto& e = exposed_[name];
  e.help = help;
  e.kind = kind;
  e.series.emplace_back(std::move(labels), std::move(read));
}

std::string Metrics::Render() const {
  auto families = registry_->Collect();
  {
    std::lock_guard lock(exposed_mu_);
    for (const auto& [name, e] : exposed_) {
      const auto type = e.kind == Kind::kCounter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
      auto f = Family(name, e.help, type);
      for (const auto& [labels, read] : e.series) f.metric.push_back(Value(type, read(), labels));
      families.push_back(std::move(f));
    }
  }
  AppendProcess(families);
  return prometheus::TextSerializer{}.Serialize(families);
}

}  // namespace suite::obs
