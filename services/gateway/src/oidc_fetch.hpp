#pragma once
/// Fetching a configured issuer's signing keys (issuers.hpp): its discovery document when one is
/// configured (its `issuer` must be the configured one, its `jwks_uri` is then fetched), then its
/// JWKS. Over libcurl (Debian's libcurl4-openssl-dev, which auth-user already uses for SMTP):
/// HTTP(S) only, no redirects, a deadline for the whole transfer, a cap on the bytes read, and
/// TLS certificates checked against the issuer's CA file or the system's store. Blocking: the
/// gateway runs these on a thread of their own, never on a loop.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "issuers.hpp"

namespace gateway {

struct HttpGetOptions {
  std::chrono::milliseconds timeout{5000};
  std::size_t max_bytes = 256 * 1024;
  std::optional<std::string> ca_file;
};

/// The body of a 200 answer to GET `url`, or nullopt with `error` set (for logs: no secret in it).
std::optional<std::string> HttpGet(const std::string& url, const HttpGetOptions& options, std::string& error);

/// The JWKS document of `spec`, fetched as described above.
std::optional<std::string> FetchIssuerKeys(const IssuerSpec& spec, std::string& error);

}  // namespace gateway
