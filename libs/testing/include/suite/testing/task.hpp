#pragma once
/// Running a coroutine to completion in a test, and a fake upstream that records what it is
/// sent and answers as the test says.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "suite/http/client.hpp"
#include "suite/http/task.hpp"

namespace suite::testing {

/// Runs `task` on this thread's loop until it completes; rethrows what it throws. The loop lives
/// as long as the thread: a completion posted from another thread (a Redis reply) may still be
/// returning from its post when the task is done, and must not find the loop destroyed.
template <class T>
T RunTask(http::Task<T> task) {
  static thread_local boost::asio::io_context io;
  io.restart();
  auto result = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.run();
  return result.get();
}

/// Header lines as AppendHeaderLine writes them ("name: value\r\n" each) back into a list;
/// nullopt when one is not whole.
inline std::optional<http::Headers> ParseHeaderLines(std::string_view lines) {
  http::Headers out;
  while (!lines.empty()) {
    const auto end = lines.find("\r\n");
    const auto colon = lines.substr(0, end).find(": ");
    if (end == std::string_view::npos || colon == std::string_view::npos) return std::nullopt;
    out.emplace_back(std::string(lines.substr(0, colon)), std::string(lines.substr(colon + 2, end - colon - 2)));
    lines.remove_prefix(end + 2);
  }
  return out;
}

class FakeUpstream final : public http::Upstream {
 public:
  explicit FakeUpstream(std::string name = "fake:80") : name_(std::move(name)) {}
  /// What the next calls answer (default: 200 with an empty JSON object).
  std::function<http::ClientResult(const http::ClientRequest&)> answer = [](const http::ClientRequest&) {
    http::ClientResult r;
    r.status = http::ClientResult::Status::kOk;
    r.response = http::Response::Json(200, nlohmann::json::object());
    return r;
  };
  std::vector<http::ClientRequest> seen;

  /// Records the request with its header lines folded into `headers` (what the pool would send,
  /// as one list), then answers.
  http::Task<http::ClientResult> Call(http::ClientRequest request) override {
    if (auto lines = ParseHeaderLines(request.header_lines)) {
      request.headers.insert(request.headers.end(), lines->begin(), lines->end());
      request.header_lines.clear();
    }
    seen.push_back(std::move(request));
    return Ready(answer(seen.back()));
  }
  const std::string& name() const override { return name_; }

 private:
  static http::Task<http::ClientResult> Ready(http::ClientResult r) { co_return r; }
  std::string name_;
};

}  // namespace suite::testing
