#include "suite/http/message.hpp"

#include <algorithm>
#include <cstring>

#include "head_writer.hpp"
#include "suite/core/json.hpp"
#include "suite/observability/log.hpp"
#include "suite/observability/metrics.hpp"

namespace suite::http {

namespace {
int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

// Blocks of text a request keeps: the first inline (one allocation with the storage), then
// blocks of at least 4 KiB. A request's head is bounded by the header limit, so is this. The
// first block keeps the whole allocation under 1 KiB: glibc serves that from its small bins,
// where 1 KiB or more is a "large" request that consolidates the fast bins each time (measured:
// malloc_consolidate at 1 % of the gateway's time with a 1 KiB block).
struct Request::Store {
  static constexpr std::size_t kFirst = 880;
  char first[kFirst];
  std::vector<std::unique_ptr<char[]>> more;
  // (with the shared_ptr's control block: 880 + 40 + 16 bytes, a 944-byte chunk)
  char* at = first;
  std::size_t left = kFirst;
};

std::string_view Request::Keep(std::string_view text, bool lower) {
  if (text.empty()) return std::string_view("", 0);  // never a null data pointer (memcpy takes none)
  if (!store_) store_ = std::make_shared<Store>();
  Store& s = *store_;
  if (text.size() > s.left) {
    const std::size_t size = std::max<std::size_t>(4096, text.size());
    s.more.push_back(std::make_unique_for_overwrite<char[]>(size));
    s.at = s.more.back().get();
    s.left = size;
  }
  char* const out = s.at;
  if (lower)
    std::transform(text.begin(), text.end(), out, [](char c) { return core::AsciiLower(c); });
  else
    std::memcpy(out, text.data(), text.size());
  s.at += text.size();
  s.left -= text.size();
  return {out, text.size()};
}

void Request::SetHeaders(const Headers& fields) {
  headers.clear();
  headers.reserve(fields.size());
  for (const auto& [k, v] : fields) headers.emplace_back(Keep(k), Keep(v));
}

std::string_view Request::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

bool Request::HasHeader(std::string_view lower_name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return h.first == lower_name; });
}

std::optional<std::string> Request::Query(std::string_view name) const {
  auto form = ParseForm(query);
  if (!form) return std::nullopt;
  for (auto& [k, v] : *form)
    if (k == name) return v;
  return std::nullopt;
}

void Response::Set(std::string_view name, std::string value) {
  // Names are kept lowercase: compared to `name` without a copy, copied only when added.
  for (auto& [k, v] : headers)
    if (detail::NameEquals(k, name)) {
      v = std::move(value);
      return;
    }
  headers.emplace_back(core::AsciiLower(name), std::move(value));
}

void Response::Put(std::string lower_name, std::string value) {
  for (auto& [k, v] : headers)
    if (k == lower_name) {
      v = std::move(value);
      return;
    }
  headers.emplace_back(std::move(lower_name), std::move(value));
}

std::string_view Response::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

Response Response::Json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.headers.emplace_back("content-type", "application/json");
  return r;
}

Response Response::Error(core::ErrorCode code, std::string_view message,
                         std::string_view request_id, const nlohmann::json& details) {
  Response r;
  r.status = core::HttpStatus(code);
  r.body = core::ErrorBody(code, message, request_id, details);
  r.headers.emplace_back("content-type", "application/json");
  if (core::HttpStatus(code) == 401)  // every 401 says how to authenticate (RFC 9110 11.6.1)
    r.headers.emplace_back("www-authenticate", "Bearer realm=\"api\"");
  return r;
}

Response ErrorReply(const core::ApiError& e, std::string_view request_id) {
  Response r;
  r.status = core::HttpStatus(e.code());
  r.body = core::ErrorBody(e.code(), e.what(), request_id, e.details(), e.top_level());
  r.headers.emplace_back("content-type", "application/json");
  if (r.status == 401)  // RFC 9110 11.6.1
    r.headers.emplace_back("www-authenticate", e.challenge().empty() ? "Bearer realm=\"api\"" : e.challenge());
  else if (!e.challenge().empty())  // a 403 for a scope the token lacks (RFC 6750 3.1)
    r.headers.emplace_back("www-authenticate", e.challenge());
  if (e.retry_after() > 0) r.headers.emplace_back("retry-after", std::to_string(e.retry_after()));
  return r;
}

std::optional<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = Hex(in[i + 1]), lo = Hex(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::string PercentEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (const char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view in) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!in.empty()) {
    const auto amp = in.find('&');
    const std::string_view part = in.substr(0, amp);
    in = amp == std::string_view::npos ? std::string_view{} : in.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    auto k = PercentDecode(part.substr(0, eq));
    auto v = PercentDecode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1));
    // Keys and values are text: ill-formed UTF-8 or U+0000 never reaches a handler.
    if (!k || !v || !core::IsCleanText(*k) || !core::IsCleanText(*v)) return std::nullopt;
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

bool IsGrpc(const Request& req) {
  const auto type = req.Header("content-type");
  constexpr std::string_view kGrpc = "application/grpc";
  if (type.size() < kGrpc.size() || !core::AsciiEqualsIgnoreCase(type.substr(0, kGrpc.size()), kGrpc)) return false;
  return type.size() == kGrpc.size() || type[kGrpc.size()] == '+' || type[kGrpc.size()] == ';';
}

obs::Protocol ProtocolOf(const Request& req, int status) {
  if (status == 101 && req.upgrade) return obs::Protocol::kWs;
  if (req.http2) return IsGrpc(req) ? obs::Protocol::kGrpc : obs::Protocol::kH2;
  return obs::Protocol::kH1;
}

}  // namespace suite::http
