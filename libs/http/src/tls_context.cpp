#include "tls_context.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>

namespace suite::http::detail {

namespace {

// Session ticket keys: the newest seals new tickets; the older ones still open tickets they
// sealed (and the client gets a fresh ticket). One ring per process, on every context.
class TicketKeys {
 public:
  struct Key {
    std::array<unsigned char, 16> name;
    std::array<unsigned char, 32> aes;
    std::array<unsigned char, 32> hmac;
    std::chrono::steady_clock::time_point born;
  };

  static TicketKeys& Instance() {
    static TicketKeys keys;
    return keys;
  }

  /// The key that seals a new ticket now (rotated when it is older than the lifetime).
  Key Current() {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (keys_.empty() || now - keys_.front().born >= kTicketLifetime) {
      keys_.push_front(Fresh(now));
      while (keys_.size() > 2) keys_.pop_back();  // the newest, and the one before it
    }
    return keys_.front();
  }
  /// The key named `name`; 0 when unknown (or retired), 1 when current, 2 when older.
  int Find(const unsigned char* name, Key& out) {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < keys_.size(); ++i)
      if (std::memcmp(keys_[i].name.data(), name, 16) == 0) {
        if (std::chrono::steady_clock::now() - keys_[i].born >= 2 * kTicketLifetime) return 0;
        out = keys_[i];
        return i == 0 ? 1 : 2;
      }
    return 0;
  }

 private:
  static Key Fresh(std::chrono::steady_clock::time_point now) {
    Key k{};
    if (RAND_bytes(k.name.data(), 16) != 1 || RAND_bytes(k.aes.data(), 32) != 1 || RAND_bytes(k.hmac.data(), 32) != 1)
      throw std::runtime_error("RAND_bytes failed for a session ticket key");
    k.born = now;
    return k;
  }
  std::mutex mu_;
  std::deque<Key> keys_;
};

int MacKey(EVP_MAC_CTX* hctx, const TicketKeys::Key& key) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmac.data()), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

int TicketCallback(SSL*, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx, int enc) {
  try {
    if (enc == 1) {
      const auto key = TicketKeys::Instance().Current();
      std::memcpy(name, key.name.data(), 16);
      if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
      if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
      return MacKey(hctx, key) ? 1 : -1;
    }
    TicketKeys::Key key;
    const int found = TicketKeys::Instance().Find(name, key);
    if (found == 0) return 0;  // a full handshake, and a new ticket
    if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
    return MacKey(hctx, key) ? found : -1;
  } catch (...) {
    return -1;
  }
}

// Ours in order of preference (h2 first, when offered): the first of them the client offers.
const unsigned char kH2AndHttp11[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
               void* h2) {
  const unsigned char* ours = h2 != nullptr ? kH2AndHttp11 : kHttp11;
  const unsigned int size = h2 != nullptr ? sizeof kH2AndHttp11 : sizeof kHttp11;
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, ours, size, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

void ConfigureTlsContext(SSL_CTX* ctx, bool h2) {
  // The callback's argument only says whether h2 is offered (non-null) or not.
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, h2 ? const_cast<unsigned char*>(kH2AndHttp11) : nullptr);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, TicketCallback);
  SSL_CTX_set_timeout(ctx, static_cast<long>(kTicketLifetime.count()));
  // Resumption by ticket only: no server-side session cache to grow with clients.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

std::shared_ptr<SSL_CTX> NewClientContext(const std::string& ca_file, std::string_view alpn, std::string& error) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) {
    error = "SSL_CTX_new failed";
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get())
                                     : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr);
  if (loaded != 1) {
    error = ca_file.empty() ? "the system's certificate store cannot be loaded" : "cannot load CA file " + ca_file;
    return nullptr;
  }
  if (SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                              static_cast<unsigned>(alpn.size())) != 0) {
    error = "ALPN cannot be set";
    return nullptr;
  }
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

}  // namespace suite::http::detail
