#pragma once
/// A pooled keep-alive HTTP/1.1 client for one upstream (host:port). Connections are reused
/// (an idle one is checked for a peer close before it carries a request). A request is sent a
/// second time, on a fresh connection, only when it cannot have been acted on: not one byte of
/// it was written, or it is idempotent and a reused connection closed before any response byte.
/// `done` is always called exactly once, even when Beast refuses to frame the request.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "suite/http/message.hpp"
#include "suite/http/task.hpp"

namespace boost::asio {
class io_context;
}

namespace suite::http {

struct ClientRequest {
  std::string method;
  std::string target;
  Headers headers;
  std::string body;
  /// This request's deadline (writing it and reading the answer); else the pool's request_timeout.
  std::optional<std::chrono::milliseconds> timeout;
};

struct ClientResult {
  enum class Status { kOk, kConnectFailed, kTimeout, kFailed };
  Status status = Status::kFailed;
  Response response;
  std::string error;  ///< for logs only
};

struct UpstreamOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 80;
  std::size_t max_idle = 64;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds idle_ttl{30'000};  ///< below the upstream's keep-alive timeout
  std::size_t max_response_body = 16 * 1024 * 1024;
};

/// Where a route's requests go: a seam, so that the gateway's forwarding is tested without
/// sockets (suite::testing::FakeUpstream).
class Upstream {
 public:
  virtual ~Upstream() = default;
  /// Resumes on the caller's executor with the answer or the failure.
  virtual Task<ClientResult> Call(ClientRequest request) = 0;
  /// "host:port": for logs and as a metric label (one per configured upstream).
  virtual const std::string& name() const = 0;
};

class UpstreamPool final : public Upstream {
 public:
  UpstreamPool(boost::asio::io_context& io, UpstreamOptions options);
  ~UpstreamPool() override;
  /// `done` runs on the pool's strand.
  void Send(ClientRequest request, std::function<void(ClientResult)> done);
  Task<ClientResult> Call(ClientRequest request) override;
  const std::string& name() const override { return name_; }
  const UpstreamOptions& options() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::string name_;
};

/// Parses "http://host:port" (no path); nullopt when malformed.
std::optional<UpstreamOptions> ParseUpstreamUrl(std::string_view url);

}  // namespace suite::http
