#pragma once
/// Refresh tokens and the sessions they make (blocking: worker threads only, inside the
/// caller's transaction). A token is 32 random bytes, base64url; only its SHA-256 is stored.
/// Every refresh spends the presented token and issues the next of its family. A spent token
/// presented again within `reuse_grace` (a client's concurrent second refresh) is honoured in the
/// same family; later, it is a replay: the whole family is revoked.
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <optional>
#include <string>

namespace auth {

struct SessionConfig {
  std::chrono::seconds refresh_ttl{7 * 24 * 3600};
  std::chrono::seconds reuse_grace{5};
};

struct ClientInfo {
  std::string ip, user_agent, request_id;
};

struct Refreshed {
  long long user_id = 0;
  std::string refresh_token;
};

class Sessions {
 public:
  explicit Sessions(SessionConfig config) : config_(config) {}
  /// A new family (a login): the first token.
  std::string Start(pqxx::work& tx, long long user_id, const ClientInfo& client) const;
  /// Spends `token` and returns its successor; nullopt (and the reason in `why`, for the log)
  /// when it is unknown, expired, revoked or replayed (the family is then revoked).
  std::optional<Refreshed> Rotate(pqxx::work& tx, const std::string& token, const ClientInfo& client,
                                  std::string& why) const;
  /// Revokes the family of `token`; false when the token is unknown.
  bool EndFamily(pqxx::work& tx, const std::string& token) const;
  /// Revokes every session of the user; returns how many families ended.
  long long EndAll(pqxx::work& tx, long long user_id) const;
  /// The user's live sessions, newest first.
  nlohmann::json List(pqxx::work& tx, long long user_id) const;

 private:
  std::string Issue(pqxx::work& tx, const std::string& family, long long user_id, const ClientInfo& client) const;
  SessionConfig config_;
};

}  // namespace auth
