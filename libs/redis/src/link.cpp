#include "link.hpp"

namespace suite::redis::detail {

using boost::system::error_code;

net::awaitable<error_code> Link::Handshake(const std::string& host) {
  if (!tls_) co_return error_code{};
  error_code not_ip;
  net::ip::make_address(host, not_ip);
  if (not_ip) SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str());
  tls_->set_verify_callback(net::ssl::host_name_verification(host));
  auto [ec] = co_await tls_->async_handshake(net::ssl::stream_base::client, kAwait);
  co_return ec;
}

std::shared_ptr<net::ssl::context> TlsContext(const Options& o, std::string& error) {
  auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_verify_mode(net::ssl::verify_peer);
  error_code ec;
  if (o.tls_ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) error = "the system's certificate store cannot be loaded";
  } else {
    ctx->load_verify_file(o.tls_ca_file, ec);
    if (ec) error = "the CA file cannot be loaded";
  }
  if (!ec && !o.tls_cert_file.empty()) {
    ctx->use_certificate_chain_file(o.tls_cert_file, ec);
    if (!ec) ctx->use_private_key_file(o.tls_key_file, net::ssl::context::pem, ec);
    if (ec) error = "the client certificate or its key cannot be loaded";
  }
  return ec ? nullptr : ctx;
}

}  // namespace suite::redis::detail
