#include "suite/audit/event.hpp"

#include <chrono>
#include <cstdio>
#include <limits>

#include "suite/core/json.hpp"

namespace suite::audit {

namespace {

// The schemas' maxLength of each text field, in bytes here (a byte bound is a tighter bound on
// code points). One table: ToLine clips to it and Parse refuses past it.
namespace len {
constexpr std::size_t kId = 36, kService = 64, kRequestId = 128, kDataset = 256, kAction = 256, kClient = 64,
                      kSubject = 256, kMethod = 16, kRoute = 256, kPath = 256, kReason = 64, kAuthMethod = 32,
                      kKeyId = 128, kTier = 32, kUserAgent = 512, kEventType = 64, kUsername = 256,
                      kProtocol = 8;
}  // namespace len

constexpr std::int64_t kMaxInt32 = std::numeric_limits<std::int32_t>::max();

// ---- writing ----

class Writer {
 public:
  Writer() { out_.reserve(512); out_ += '{'; }
  std::string Done() && { out_ += '}'; return std::move(out_); }

  void Text(const char* name, std::string_view s, std::size_t max) {
    Key(name);
    Quoted(s, max);
  }
  /// Empty text is written as null.
  void TextOrNull(const char* name, std::string_view s, std::size_t max) {
    if (!s.empty()) Text(name, s, max);
    else Key(name), out_ += "null";
  }
  void TextOrNull(const char* name, const std::optional<std::string>& s, std::size_t max) {
    TextOrNull(name, s ? std::string_view(*s) : std::string_view(), max);
  }
  void Int(const char* name, std::int64_t v) {
    Key(name);
    out_ += std::to_string(v);
  }
  void Json(const char* name, const nlohmann::json& v) {
    Key(name);
    out_ += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

 private:
  void Key(const char* name) {
    if (out_.size() > 1) out_ += ',';
    out_ += '"';
    out_ += name;
    out_ += "\":";
  }
  // Clipped to `max` bytes on a character boundary. Text that is not UTF-8 (a client's raw
  // bytes) has its non-ASCII bytes replaced; U+0000, which storage cannot hold, too.
  void Quoted(std::string_view s, std::size_t max) {
    const bool utf8 = core::IsValidUtf8(s);
    if (s.size() > max) {
      s = s.substr(0, max);
      // Valid text is cut before a character the bound would split: back to the lead byte of
      // the last character, and before it when its bytes did not all fit.
      std::size_t lead = s.size();
      while (utf8 && lead > 0 && (static_cast<unsigned char>(s[lead - 1]) & 0xC0) == 0x80) --lead;
      if (utf8 && lead > 0) {
        const auto c = static_cast<unsigned char>(s[lead - 1]);
        const std::size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (s.size() - (lead - 1) < need) s = s.substr(0, lead - 1);
      }
    }
    core::AppendJsonString(out_, s);
  }
  std::string out_;
};

// ---- reading ----

// The reader of one parsed object: each getter records the first failure in `why`.
class Reader {
 public:
  Reader(const nlohmann::json& j, std::string& why) : j_(j), why_(why) {}
  bool ok() const { return why_.empty(); }

  std::string Text(const char* k, std::size_t max, bool required = true) {
    const auto it = j_.find(k);
    if (it == j_.end() || it->is_null()) {
      if (required) Fail(k, "missing");
      return {};
    }
    if (!it->is_string()) return Fail(k, "not a string"), std::string();
    const auto& s = it->get_ref<const std::string&>();
    if (s.size() > max) return Fail(k, "longer than " + std::to_string(max) + " bytes"), std::string();
    return s;
  }
  std::optional<std::string> TextOrNull(const char* k, std::size_t max) {
    auto s = Text(k, max, false);
    if (s.empty()) return std::nullopt;
    return s;
  }
  std::int64_t Int(const char* k, std::int64_t max, bool required = true) {
    const auto it = j_.find(k);
    if (it == j_.end()) {
      if (required) Fail(k, "missing");
      return 0;
    }
    if (!it->is_number_integer()) return Fail(k, "not an integer"), 0;
    const bool in_range = it->is_number_unsigned() ? it->get<std::uint64_t>() <= static_cast<std::uint64_t>(max)
                                                   : it->get<std::int64_t>() >= 0 && it->get<std::int64_t>() <= max;
    if (!in_range) return Fail(k, "not between 0 and " + std::to_string(max)), 0;
    return it->get<std::int64_t>();
  }
  nlohmann::json Any(const char* k) {
    const auto it = j_.find(k);
    return it == j_.end() ? nlohmann::json() : *it;
  }
  template <typename E, std::size_t N>
  E Enum(const char* k, const std::pair<std::string_view, E> (&names)[N]) {
    const auto s = Text(k, 16);
    for (const auto& [name, value] : names)
      if (s == name) return value;
    if (ok()) Fail(k, "not one of the schema's values");
    return names[0].second;
  }
  void Fail(std::string_view k, std::string_view what) {
    if (why_.empty()) why_ = std::string(k) + ": " + std::string(what);
  }

 private:
  const nlohmann::json& j_;
  std::string& why_;
};

constexpr std::pair<std::string_view, Outcome> kOutcomes[] = {{"success", Outcome::kSuccess},
                                                              {"failure", Outcome::kFailure}};
constexpr std::pair<std::string_view, Severity> kSeverities[] = {
    {"INFO", Severity::kInfo}, {"WARNING", Severity::kWarning}, {"ERROR", Severity::kError}, {"CRITICAL", Severity::kCritical}};

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!IsHex(s[i])) {
      return false;
    }
  }
  return true;
}

// RFC 3339 date-time (what PostgreSQL's timestamptz takes without a doubt):
// YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), a real calendar day.
bool IsTimestamp(std::string_view s) {
  auto digits = [&](std::size_t at, std::size_t n, int& v) {
    if (at + n > s.size()) return false;
    v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, sec;
  if (!digits(0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' || !digits(8, 2, d) ||
      (s[10] != 'T' && s[10] != 't') || !digits(11, 2, h) || s[13] != ':' || !digits(14, 2, mi) || s[16] != ':' ||
      !digits(17, 2, sec))
    return false;
  const std::chrono::year_month_day day{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                        std::chrono::day(static_cast<unsigned>(d))};
  if (y < 1 || !day.ok() || h > 23 || mi > 59 || sec > 60) return false;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    const auto start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start || i - start > 9) return false;
  }
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == s.size();
  int oh, om;
  return i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && digits(i + 1, 2, oh) && s[i + 3] == ':' &&
         digits(i + 4, 2, om) && oh <= 23 && om <= 59;
}

}  // namespace

std::string_view Name(Outcome o) { return o == Outcome::kSuccess ? "success" : "failure"; }

std::string_view Name(Severity s) {
  for (const auto& [name, value] : kSeverities)
    if (value == s) return name;
  return "INFO";
}

std::string_view Event::type() const {
  static constexpr std::string_view kNames[] = {"process", "request", "security"};
  return kNames[record.index()];
}

std::string Event::ToLine() const {
  Writer w;
  w.Text("event_id", event_id, len::kId);
  w.Text("type", type(), 16);
  w.Text("timestamp", timestamp, 40);
  w.Text("service", service, len::kService);
  if (const auto* p = std::get_if<ProcessRecord>(&record)) {
    w.Text("request_id", request_id, len::kRequestId);
    w.TextOrNull("dataset_id", p->dataset_id, len::kDataset);
    w.TextOrNull("action", p->action, len::kAction);
    w.Text("status", Name(p->status), 16);
    w.Int("duration_ms", std::clamp<std::int64_t>(p->duration_ms, 0, kMaxInt32));
    w.Json("output", p->output);
    w.Int("http_status", std::clamp(p->http_status, 0, 999));
    w.TextOrNull("client", p->client, len::kClient);
    w.TextOrNull("subject", p->subject, len::kSubject);
  } else if (const auto* a = std::get_if<AccessRecord>(&record)) {
    w.Text("request_id", request_id, len::kRequestId);
    w.Text("method", a->method, len::kMethod);
    w.Text("route", a->route, len::kRoute);
    w.Text("path", a->path, len::kPath);
    w.Int("http_status", std::clamp(a->http_status, 0, 999));
    w.Text("reason", a->reason, len::kReason);
    w.Int("duration_ms", std::clamp<std::int64_t>(a->duration_ms, 0, kMaxInt32));
    w.TextOrNull("client", a->client, len::kClient);
    w.TextOrNull("subject", a->subject, len::kSubject);
    w.Text("auth_method", a->auth_method, len::kAuthMethod);
    w.TextOrNull("key_id", a->key_id, len::kKeyId);
    w.Text("tier", a->tier, len::kTier);
    w.Int("bytes_in", std::max<std::int64_t>(a->bytes_in, 0));
    w.Int("bytes_out", std::max<std::int64_t>(a->bytes_out, 0));
    w.TextOrNull("user_agent", a->user_agent, len::kUserAgent);
    w.TextOrNull("protocol", a->protocol, len::kProtocol);
  } else {
    const auto& s = std::get<SecurityRecord>(record);
    w.TextOrNull("request_id", std::string_view(request_id), len::kRequestId);
    w.Text("event_type", s.event_type, len::kEventType);
    w.Text("severity", Name(s.severity), 16);
    if (s.user_id && *s.user_id >= 0) w.Int("user_id", *s.user_id);
    else w.Json("user_id", nullptr);
    w.TextOrNull("username", s.username, len::kUsername);
    w.TextOrNull("client", s.client, len::kClient);
    w.TextOrNull("user_agent", s.user_agent, len::kUserAgent);
    w.Json("details", s.details);
  }
  return std::move(w).Done();
}

std::optional<Event> Event::Parse(std::string_view text, std::string& why) {
  // Events come from our services; these bounds are far above any real one.
  static constexpr core::JsonLimits kLimits{
      .max_bytes = 1024 * 1024, .max_depth = 32, .max_elements = 50'000, .max_string = 64 * 1024};
  why.clear();
  auto parsed = core::ParseJson(text, kLimits);
  if (!parsed.ok()) {
    why = parsed.error;
    return std::nullopt;
  }
  const auto& j = parsed.value;
  if (!j.is_object()) {
    why = "event is not an object";
    return std::nullopt;
  }
  Reader r(j, why);
  Event e;
  e.event_id = r.Text("event_id", len::kId);
  if (r.ok() && !IsUuid(e.event_id)) r.Fail("event_id", "not a UUID");
  const auto type = r.Text("type", 16);
  e.timestamp = r.Text("timestamp", 40);
  if (r.ok() && !IsTimestamp(e.timestamp)) r.Fail("timestamp", "not an RFC 3339 date-time");
  e.service = r.Text("service", len::kService);
  if (!r.ok()) return std::nullopt;
  if (type == "process") {
    e.request_id = r.Text("request_id", len::kRequestId);
    ProcessRecord p;
    p.dataset_id = r.TextOrNull("dataset_id", len::kDataset);
    p.action = r.TextOrNull("action", len::kAction);
    p.status = r.Enum("status", kOutcomes);
    p.duration_ms = r.Int("duration_ms", kMaxInt32);
    p.output = r.Any("output");
    p.http_status = static_cast<int>(r.Int("http_status", 999));
    p.client = r.TextOrNull("client", len::kClient);
    p.subject = r.TextOrNull("subject", len::kSubject);
    e.record = std::move(p);
  } else if (type == "request") {
    e.request_id = r.Text("request_id", len::kRequestId);
    AccessRecord a;
    a.method = r.Text("method", len::kMethod);
    a.route = r.Text("route", len::kRoute);
    a.path = r.Text("path", len::kPath);
    a.http_status = static_cast<int>(r.Int("http_status", 999));
    a.reason = r.Text("reason", len::kReason);
    a.duration_ms = r.Int("duration_ms", kMaxInt32);
    a.client = r.TextOrNull("client", len::kClient);
    a.subject = r.TextOrNull("subject", len::kSubject);
    a.auth_method = r.Text("auth_method", len::kAuthMethod);
    a.key_id = r.TextOrNull("key_id", len::kKeyId);
    a.tier = r.Text("tier", len::kTier);
    a.bytes_in = r.Int("bytes_in", std::numeric_limits<std::int64_t>::max(), false);
    a.bytes_out = r.Int("bytes_out", std::numeric_limits<std::int64_t>::max(), false);
    a.user_agent = r.TextOrNull("user_agent", len::kUserAgent);
    a.protocol = r.TextOrNull("protocol", len::kProtocol);
    e.record = std::move(a);
  } else if (type == "security") {
    e.request_id = r.Text("request_id", len::kRequestId, false);
    SecurityRecord s;
    s.event_type = r.Text("event_type", len::kEventType);
    if (r.ok() && s.event_type.empty()) r.Fail("event_type", "empty");
    s.severity = r.Enum("severity", kSeverities);
    const auto uid = j.find("user_id");
    if (uid != j.end() && !uid->is_null())
      s.user_id = r.Int("user_id", std::numeric_limits<std::int64_t>::max());
    s.username = r.TextOrNull("username", len::kUsername);
    s.client = r.TextOrNull("client", len::kClient);
    s.user_agent = r.TextOrNull("user_agent", len::kUserAgent);
    s.details = r.Any("details");
    e.record = std::move(s);
  } else {
    why = "type: not process, request or security";
    return std::nullopt;
  }
  if (!r.ok()) return std::nullopt;
  return e;
}

}  // namespace suite::audit
