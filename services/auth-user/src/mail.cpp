#include "mail.hpp"

#include <curl/curl.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <stdexcept>

#include "suite/core/ids.hpp"
#include "suite/observability/log.hpp"

namespace auth {

namespace obs = suite::obs;

namespace {

// A header value may not carry a line break (header injection) or be absurdly long.
std::string HeaderValue(const std::string& v) {
  if (v.size() > 998 || v.find_first_of("\r\n") != std::string::npos)
    throw std::invalid_argument("mail header value with a line break or over 998 bytes");
  return v;
}

std::string RfcDate() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string Domain(const std::string& address) {
  const auto at = address.rfind('@');
  return at == std::string::npos ? "localhost" : address.substr(at + 1);
}

struct Upload {
  std::string data;
  std::size_t offset = 0;
};

std::size_t ReadBody(char* out, std::size_t size, std::size_t count, void* user) {
  auto* up = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, up->data.size() - up->offset);
  std::memcpy(out, up->data.data() + up->offset, n);
  up->offset += n;
  return n;
}

}  // namespace

SmtpSender::SmtpSender(SmtpConfig config) : config_(std::move(config)) {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!initialised) throw std::runtime_error("curl_global_init failed");
}

std::string SmtpSender::Render(const Mail& mail) const {
  std::string msg;
  msg += "From: " + HeaderValue(config_.from) + "\r\n";
  msg += "To: " + HeaderValue(mail.to) + "\r\n";
  msg += "Subject: " + HeaderValue(mail.subject) + "\r\n";
  msg += "Date: " + RfcDate() + "\r\n";
  msg += "Message-ID: <" + suite::core::NewUuid() + "@" + Domain(config_.from) + ">\r\n";
  msg += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  // Bare LFs become CRLF: SMTP lines end in CRLF (libcurl dot-stuffs the body itself).
  for (std::size_t i = 0; i < mail.body.size(); ++i) {
    if (mail.body[i] == '\n' && (i == 0 || mail.body[i - 1] != '\r')) msg += '\r';
    msg += mail.body[i];
  }
  if (msg.size() < 2 || msg.compare(msg.size() - 2, 2, "\r\n") != 0) msg += "\r\n";
  return msg;
}

void SmtpSender::Send(const Mail& mail) const {
  if (!enabled()) throw std::runtime_error("SMTP_HOST is not set");
  Upload up{Render(mail)};
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw std::runtime_error("curl_easy_init failed");
  CURL* c = curl.get();
  const bool implicit = config_.tls == "implicit";
  const std::string url = std::string(implicit ? "smtps://" : "smtp://") + config_.host + ":" +
                          std::to_string(config_.port) + "/" + Domain(config_.from);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(std::min<long long>(config_.timeout.count(), 10)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(config_.timeout.count()));
  if (!implicit) {
    const bool required = config_.tls == "required" || !config_.user.empty();
    curl_easy_setopt(c, CURLOPT_USE_SSL, required ? static_cast<long>(CURLUSESSL_ALL) : static_cast<long>(CURLUSESSL_TRY));
  }
  if (!config_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, config_.ca_file.c_str());
  if (!config_.user.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, config_.user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, config_.password.c_str());
  }
  const std::string from = "<" + config_.from + ">";
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> rcpt(curl_slist_append(nullptr, ("<" + mail.to + ">").c_str()),
                                                          curl_slist_free_all);
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadBody);
  curl_easy_setopt(c, CURLOPT_READDATA, &up);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    throw std::runtime_error(std::string(curl_easy_strerror(rc)) + (error[0] ? std::string(": ") + error : ""));
}

void Outbox::Enqueue(pqxx::work& tx, const Mail& mail) {
  tx.exec_params("INSERT INTO auth.outbox (recipient, subject, body) VALUES ($1, $2, $3)", mail.to, mail.subject,
                 mail.body);
}

int Outbox::DeliverDue(int batch) {
  if (!sender_.enabled()) return 0;
  struct Claimed {
    long long id;
    int attempts;
    Mail mail;
  };
  // Claim with a lease (another replica skips these rows), then send without holding a
  // transaction: an SMTP exchange may take seconds.
  auto claimed = pool_.With([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto rows = tx.exec_params(
        "UPDATE auth.outbox SET attempts = attempts + 1, next_attempt_at = now() + interval '5 minutes' "
        "WHERE id IN (SELECT id FROM auth.outbox WHERE next_attempt_at <= now() ORDER BY id LIMIT $1 "
        "FOR UPDATE SKIP LOCKED) RETURNING id, attempts, recipient, subject, body",
        batch);
    tx.commit();
    std::vector<Claimed> out;
    for (const auto& r : rows)
      out.push_back({r["id"].as<long long>(), r["attempts"].as<int>(),
                     Mail{r["recipient"].c_str(), r["subject"].c_str(), r["body"].c_str()}});
    return out;
  });
  int sent = 0;
  for (const auto& m : claimed) {
    std::string error;
    try {
      sender_.Send(m.mail);
    } catch (const std::exception& e) {
      error = e.what();
    }
    pool_.With([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (error.empty()) {
        tx.exec_params("DELETE FROM auth.outbox WHERE id = $1", m.id);
      } else if (m.attempts >= max_attempts_) {
        // Kept for the operator, without the body (its link is a credential).
        tx.exec_params("UPDATE auth.outbox SET body = '', next_attempt_at = 'infinity', last_error = $2 WHERE id = $1",
                       m.id, error.substr(0, 500));
      } else {
        const int backoff = std::min(15 << std::min(m.attempts, 6), 900);  // 30 s, 60 s ... 15 min
        tx.exec_params("UPDATE auth.outbox SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3 "
                       "WHERE id = $1",
                       m.id, static_cast<double>(backoff), error.substr(0, 500));
      }
      tx.commit();
      return 0;
    });
    if (error.empty()) {
      ++sent;
      obs::Info("mail sent", {{"outbox_id", m.id}, {"attempt", m.attempts}});
    } else {
      obs::Error(m.attempts >= max_attempts_ ? "mail undeliverable: given up" : "mail delivery failed; will retry",
                 {{"outbox_id", m.id}, {"attempt", m.attempts}, {"error", error}});
    }
  }
  return sent;
}

void Outbox::Start() {
  if (!sender_.enabled() || thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void Outbox::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Outbox::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Outbox::Loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(5), [this] { return stop_ || woken_; });
      if (stop_) return;
      woken_ = false;
    }
    try {
      while (DeliverDue() > 0) {
        std::lock_guard lock(mu_);
        if (stop_) return;
      }
    } catch (const std::exception& e) {
      obs::Error("outbox pass failed", {{"error", e.what()}});
    }
  }
}

}  // namespace auth
