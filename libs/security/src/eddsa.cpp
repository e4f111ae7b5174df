#include "suite/security/eddsa.hpp"

#include <openssl/evp.h>

#include <stdexcept>

#include "suite/security/jwt.hpp"

namespace suite::security {

namespace {
using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
constexpr std::size_t kKeyBytes = 32, kSignatureBytes = 64;
}  // namespace

EdKey EdKey::Generate() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!k) throw std::runtime_error("Ed25519 key generation failed");
  return EdKey(std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free), true);
}

EdKey EdKey::FromJwk(const nlohmann::json& jwk) {
  auto text = [&](const char* k) { return detail::JwkString(jwk, k); };
  if (text("kty") != "OKP" || text("crv") != "Ed25519") throw std::invalid_argument("JWK is not an Ed25519 key");
  if (jwk.contains("d")) throw std::invalid_argument("JWK carries a private key");
  const auto x = Base64UrlDecode(text("x"));
  if (!x || x->size() != kKeyBytes) throw std::invalid_argument("JWK x is not a 32-byte Ed25519 key");
  EVP_PKEY* raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              reinterpret_cast<const unsigned char*>(x->data()), x->size());
  if (!raw) throw std::invalid_argument("JWK is not a usable Ed25519 key");
  return EdKey(std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free), false);
}

nlohmann::json EdKey::PublicJwk(const std::string& kid) const {
  std::string x(kKeyBytes, '\0');
  std::size_t len = x.size();
  if (EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(x.data()), &len) != 1 ||
      len != kKeyBytes)
    throw std::runtime_error("Ed25519 key without its public part");
  return {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(x)}, {"kid", kid}, {"use", "sig"}, {"alg", "EdDSA"}};
}

std::string EdKey::Sign(std::string_view data) const {
  if (!private_) throw std::logic_error("public key only");
  MdCtx md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string out(kSignatureBytes, '\0');
  std::size_t len = out.size();
  if (!md || EVP_DigestSignInit(md.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      len != kSignatureBytes)
    throw std::runtime_error("EdDSA signing failed");
  return out;
}

bool EdKey::Verify(std::string_view data, std::string_view signature) const {
  if (signature.size() != kSignatureBytes) return false;
  MdCtx md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return md && EVP_DigestVerifyInit(md.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
         EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

std::string SignEdDsa(const EdKey& key, const std::string& kid, const nlohmann::json& claims) {
  const nlohmann::json header = {{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", kid}};
  const std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  return input + "." + Base64UrlEncode(key.Sign(input));
}

}  // namespace suite::security
