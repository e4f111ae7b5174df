#pragma once
/// Method + path routing. A pattern ending in "/*" matches the prefix; otherwise exact.
/// Every route is awaited on the connection's loop: an inline one runs there and must not block;
/// a blocking one is sent to the worker pool and awaited (the loop serves others meanwhile).
#include <functional>
#include <string>
#include <vector>

#include "suite/http/message.hpp"
#include "suite/http/offload.hpp"
#include "suite/http/server.hpp"
#include "suite/http/task.hpp"

namespace suite::http {

class Router {
 public:
  using SyncFn = std::function<Response(Request&)>;

  /// Runs on the I/O thread: must not block.
  void Inline(std::string method, std::string pattern, SyncFn fn);
  /// Runs on the worker pool: may block (database, password hashing). A full pool answers 503.
  void Blocking(std::string method, std::string pattern, Offload& pool, SyncFn fn);

  /// Routes a request whose body is read: 404 for an unknown path, 405 (with Allow) for a known
  /// path and another method. ApiError and other exceptions become the error envelope.
  Task<Response> Dispatch(RequestPtr req) const;
  /// As a server's handler: routes the head first (an unknown route never invites a body), then
  /// reads the body whole under `body_limit` (413 past it, 408 when it stalls, 400 when cut
  /// short) and dispatches.
  Task<Response> Handle(RequestPtr req, BodyReader& body, std::size_t body_limit) const;
  /// Handle as a server's handler, for a router that outlives the server.
  HeadHandler Serve(std::size_t body_limit) const;

 private:
  struct Route {
    std::string method, pattern;
    SyncFn fn;
    Offload* pool = nullptr;  ///< blocking: where it runs
  };
  /// The route for the request (its pattern set as req.route), or an answer (404, 405).
  const Route* Find(Request& req, Response& refusal) const;
  static bool Matches(const std::string& pattern, const std::string& path);
  static Task<Response> Run(const Route& route, RequestPtr req);
  std::vector<Route> routes_;
};

/// Converts an exception thrown by handler code into the envelope (logging what the client
/// must not see).
Response ErrorFromException(std::exception_ptr e, const Request& req);

/// The answer to a body that could not be read whole (BodyReader's status, not kOk).
Response BodyRefusal(BodyStatus why, std::string_view request_id);

}  // namespace suite::http
