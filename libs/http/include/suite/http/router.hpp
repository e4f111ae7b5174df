#pragma once
/// Method + path routing. A pattern ending in "/*" matches the prefix; otherwise exact.
#include <functional>
#include <string>
#include <vector>

#include "suite/http/message.hpp"

namespace suite::http {

/// Where blocking handlers run (suite::service::WorkerPool): `task` on another thread, or
/// `rejected` when it cannot start in time.
class Offload {
 public:
  virtual ~Offload() = default;
  virtual void Submit(std::function<void()> task, std::function<void()> rejected) = 0;
};

class Router {
 public:
  using SyncFn = std::function<Response(Request&)>;

  /// Asynchronous handler: must reply once, may do so later from any thread.
  void Add(std::string method, std::string pattern, Handler handler);
  /// Runs on the I/O thread: must not block.
  void Inline(std::string method, std::string pattern, SyncFn fn);
  /// Runs on the worker pool: may block (database, password hashing). A full pool answers 503.
  void Blocking(std::string method, std::string pattern, Offload& pool, SyncFn fn);

  /// Routes and replies: 404 for an unknown path, 405 (with Allow) for a known path and another
  /// method. ApiError and other exceptions become the error envelope.
  void Dispatch(RequestPtr req, Reply reply) const;

 private:
  struct Route {
    std::string method, pattern;
    Handler handler;
  };
  static bool Matches(const std::string& pattern, const std::string& path);
  std::vector<Route> routes_;
};

/// Converts an exception thrown by handler code into the envelope (logging what the client
/// must not see).
Response ErrorFromException(std::exception_ptr e, const Request& req);

}  // namespace suite::http
