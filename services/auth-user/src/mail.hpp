#pragma once
/// Outgoing e-mail: an SMTP sender (libcurl) and a durable outbox in PostgreSQL.
/// A mail is written to `auth.outbox` in the transaction that makes its token, so it is sent
/// exactly when the change commits and survives a restart or an SMTP outage; a background
/// thread delivers due mails with a backoff and deletes each once the server accepted it.
#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "suite/db/pool.hpp"

namespace auth {

struct SmtpConfig {
  std::string host;  ///< empty: no mail is sent (verification must then be off)
  int port = 587;
  std::string user, password;
  std::string from = "no-reply@localhost";
  /// auto: STARTTLS when the server offers it (required when a user is set, so a password never
  /// travels in clear); required: STARTTLS or fail; implicit: TLS from the first byte (port 465).
  std::string tls = "auto";
  std::string ca_file;  ///< CA bundle for a private server certificate; empty: the system's
  std::chrono::seconds timeout{15};
};

struct Mail {
  std::string to, subject, body;
};

/// One SMTP delivery per call (blocking). Throws std::runtime_error whose message names the
/// failure (never the password).
class SmtpSender {
 public:
  /// Construct before starting threads (it initialises libcurl once per process).
  explicit SmtpSender(SmtpConfig config);
  void Send(const Mail& mail) const;
  /// The RFC 5322 message (CRLF lines, UTF-8 text body), exposed for tests.
  std::string Render(const Mail& mail) const;
  bool enabled() const { return !config_.host.empty(); }

 private:
  SmtpConfig config_;
};

class Outbox {
 public:
  Outbox(suite::db::Pool& pool, const SmtpSender& sender, int max_attempts = 8)
      : pool_(pool), sender_(sender), max_attempts_(max_attempts) {}
  ~Outbox() { Stop(); }
  /// Queues a mail inside the caller's transaction.
  static void Enqueue(pqxx::work& tx, const Mail& mail);
  /// Delivers what is due (at most `batch`); returns how many the server accepted.
  int DeliverDue(int batch = 20);
  /// The background sender: wakes on Wake() or every few seconds.
  void Start();
  void Stop();
  void Wake();

 private:
  void Loop();
  suite::db::Pool& pool_;
  const SmtpSender& sender_;
  int max_attempts_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, woken_ = false;
  std::thread thread_;
};

}  // namespace auth
