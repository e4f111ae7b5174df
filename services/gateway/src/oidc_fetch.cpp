#include "oidc_fetch.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>


namespace gateway {

namespace {

struct Sink {
  std::string body;
  std::size_t max = 0;
  bool too_large = false;
};

std::size_t Write(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t bytes = size * n;
  if (sink->body.size() + bytes > sink->max) {
    sink->too_large = true;
    return 0;  // curl ends the transfer (CURLE_WRITE_ERROR)
  }
  sink->body.append(data, bytes);
  return bytes;
}

}  // namespace

std::optional<std::string> HttpGet(const std::string& url, const HttpGetOptions& options, std::string& error) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    error = "curl_easy_init failed";
    return std::nullopt;
  }
  CURL* c = curl.get();
  Sink sink;
  sink.max = options.max_bytes;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_bytes));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (options.ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file->c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "suite-gateway");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(curl_slist_append(nullptr, "Accept: application/json"),
                                                             curl_slist_free_all);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  const CURLcode rc = curl_easy_perform(c);
  if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    error = "answer larger than " + std::to_string(options.max_bytes) + " bytes";
    return std::nullopt;
  }
  if (rc != CURLE_OK) {
    error = curl_easy_strerror(rc);
    return std::nullopt;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    error = "status " + std::to_string(status);
    return std::nullopt;
  }
  return std::move(sink.body);
}

std::optional<std::string> FetchIssuerKeys(const IssuerSpec& spec, std::string& error) {
  const HttpGetOptions options{spec.fetch_timeout, spec.max_document_bytes, spec.ca_file};
  std::string jwks_uri;
  if (spec.discovery_url) {
    const auto discovery = HttpGet(*spec.discovery_url, options, error);
    if (!discovery) {
      error = "discovery document: " + error;
      return std::nullopt;
    }
    auto uri = JwksUriOf(spec, *discovery, error);
    if (!uri) return std::nullopt;
    jwks_uri = std::move(*uri);
  } else {
    jwks_uri = *spec.jwks_uri;
  }
  auto body = HttpGet(jwks_uri, options, error);
  if (!body) error = "JWKS: " + error;
  return body;
}

}  // namespace gateway
