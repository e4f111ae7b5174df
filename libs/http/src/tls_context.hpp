#pragma once
// Internal to libs/http: what every TLS listener's context gets beyond its certificate (plain
// OpenSSL, no Asio): ALPN, session resumption by tickets under rotating keys; and the context an
// upstream pool speaks TLS with.
#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>

namespace suite::http::detail {

/// How long a session ticket stays valid; its key serves new tickets for this long, then only
/// decrypts old ones for as long again, then is gone (a stolen key opens two hours of sessions).
inline constexpr std::chrono::seconds kTicketLifetime{3600};

/// ALPN (h2, preferred, when `h2`, and http/1.1; a client offering neither gets no ALPN answer
/// and speaks HTTP/1.1 or leaves), tickets sealed by the process's rotating keys (shared by every context, so a
/// certificate reload keeps sessions resumable), the ticket lifetime.
void ConfigureTlsContext(SSL_CTX* ctx, bool h2);

/// An upstream's client context: TLS 1.2 at least, the peer's certificate verified against
/// `ca_file` (PEM; empty: the system's store), ALPN offering `alpn` only (wire format, e.g.
/// "\x02h2"). Null, with `error` set, when the CA file cannot be used.
std::shared_ptr<SSL_CTX> NewClientContext(const std::string& ca_file, std::string_view alpn, std::string& error);

}  // namespace suite::http::detail
