#pragma once
/// The filter contract (Envoy's HTTP filters, userver's middlewares, on coroutines): each
/// concern of the edge is one `Filter` that sees the request head, and continues or answers.
/// `RequestContext` is what the filters learn about a request on its way, apart from the wire
/// `Request`: the route, the typed identity, the body cap, the headers every answer gets.
#include <cstdint>
#include <optional>
#include <string_view>

#include "suite/core/error.hpp"
#include "suite/http/message.hpp"
#include "suite/http/task.hpp"
#include "suite/security/identity.hpp"

namespace gateway {

struct Route;

enum class FilterStatus { kContinue, kStop };  ///< kStop: `reply` holds the answer

struct RequestContext {
  suite::http::RequestPtr request;   ///< the wire message (its body is read after the chain)
  const Route* route = nullptr;      ///< set by RouteFilter; never null after it
  suite::security::Identity identity;  ///< set by AuthnFilter; anonymous until then
  std::size_t body_limit = 0;        ///< set by BodyLimitFilter: the cap the body is read under
  std::optional<std::uint64_t> content_length;  ///< declared, when not chunked
  suite::http::Headers response_headers;  ///< added to any answer, refusals included
  std::optional<suite::http::Response> reply;  ///< a filter's own answer
  std::string_view reason = "-";     ///< why it was refused, for the log: "rate_limited", ...
  /// A refusal that waits for the rate limit: failed credentials are counted against the
  /// client's address (so keys and tokens cannot be guessed at line rate) before the 401 goes.
  std::optional<suite::http::Response> deferred;
  std::string_view deferred_reason = "-";

  suite::http::Request& req() const { return *request; }
  /// Answers with the error (rendered by suite::http::ErrorReply) and stops the chain.
  FilterStatus Refuse(const suite::core::ApiError& e, std::string_view why) {
    reply = suite::http::ErrorReply(e, request->request_id);
    reason = why;
    return FilterStatus::kStop;
  }
  /// Keeps the refusal for the end of the chain; the filters after this one still run.
  FilterStatus Defer(const suite::core::ApiError& e, std::string_view why) {
    deferred = suite::http::ErrorReply(e, request->request_id);
    deferred_reason = why;
    return FilterStatus::kContinue;
  }
  /// Sends the deferred refusal now.
  FilterStatus RefuseDeferred() {
    reply = std::move(deferred);
    deferred.reset();
    reason = deferred_reason;
    return FilterStatus::kStop;
  }
  /// A body that could not be read or streamed whole: 413 past its cap, 408 stalled or too
  /// slow, else 400 (cut short or a bad chunk). Defined in chain.cpp.
  FilterStatus RefuseBody(suite::http::BodyStatus why);
  FilterStatus Answer(suite::http::Response res, std::string_view why) {
    reply = std::move(res);
    reason = why;
    return FilterStatus::kStop;
  }
};

/// One concern of the edge. Built once with an immutable config, shared by every connection:
/// the per-request state lives in the context, never in the filter. A filter is a SyncFilter
/// (decides at once) or an AsyncFilter (waits: Redis, a key fetch); its type says which, so the
/// chain can neither skip a hook nor pay a coroutine frame for a filter that never waits.
class Filter {
 public:
  virtual ~Filter() = default;
  /// Every answer passes here in reverse order, refusals included (from the filters that saw
  /// the request).
  virtual void OnResponse(RequestContext&, suite::http::Response&) {}
};

class SyncFilter : public Filter {
 public:
  virtual FilterStatus OnRequest(RequestContext& ctx) = 0;
};

class AsyncFilter : public Filter {
 public:
  virtual suite::http::Task<FilterStatus> OnRequest(RequestContext& ctx) = 0;
};

/// A filter that only sees answers (the access event, ...).
class ResponseFilter : public SyncFilter {
 public:
  FilterStatus OnRequest(RequestContext&) final { return FilterStatus::kContinue; }
};

}  // namespace gateway
