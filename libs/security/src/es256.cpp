#include "suite/security/es256.hpp"

#include <algorithm>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <stdexcept>

namespace suite::security {

namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Bn = std::unique_ptr<BIGNUM, decltype(&BN_free)>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* k) {
  if (!k) throw std::invalid_argument("not a usable EC key");
  return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free);
}

bool IsP256(EVP_PKEY* k) {
  char group[64] = {0};
  std::size_t len = 0;
  return EVP_PKEY_is_a(k, "EC") &&
         EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) == 1 &&
         std::string_view(group, len) == "prime256v1";
}

std::string Coordinate(EVP_PKEY* k, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &raw) != 1) throw std::runtime_error("EC key without a public point");
  Bn bn(raw, BN_free);
  std::string out(32, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), 32) != 32)
    throw std::runtime_error("EC coordinate too large");
  return out;
}

}  // namespace

std::string detail::JwkString(const nlohmann::json& jwk, const char* name) {
  if (!jwk.is_object() || !jwk.contains(name) || !jwk[name].is_string())
    throw std::invalid_argument("JWK without " + std::string(name));
  return jwk[name].get<std::string>();
}

EcKey EcKey::Generate() { return EcKey(Own(EVP_EC_gen("P-256")), true); }

EcKey EcKey::FromPrivatePem(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  auto key = Own(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!IsP256(key.get())) throw std::invalid_argument("not a P-256 key");
  return EcKey(std::move(key), true);
}

EcKey EcKey::FromJwk(const nlohmann::json& jwk) {
  auto text = [&](const char* k) { return detail::JwkString(jwk, k); };
  if (text("kty") != "EC" || text("crv") != "P-256") throw std::invalid_argument("JWK is not an EC P-256 key");
  const auto x = Base64UrlDecode(text("x")), y = Base64UrlDecode(text("y"));
  if (!x || !y || x->size() != 32 || y->size() != 32) throw std::invalid_argument("JWK coordinates are not 32 bytes");
  std::string point = "\x04" + *x + *y;
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()), OSSL_PARAM_free);
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    throw std::invalid_argument("JWK point is not on the curve");
  auto key = Own(raw);
  PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr), EVP_PKEY_CTX_free);
  if (!check || EVP_PKEY_public_check(check.get()) != 1) throw std::invalid_argument("JWK point is not on the curve");
  return EcKey(std::move(key), false);
}

std::string EcKey::PrivatePem() const {
  if (!private_) throw std::logic_error("public key only");
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  if (PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    throw std::runtime_error("cannot write the private key");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  std::string out(data, static_cast<std::size_t>(len));
  return out;
}

nlohmann::json EcKey::PublicJwk(const std::string& kid) const {
  return {{"kty", "EC"},
          {"crv", "P-256"},
          {"x", Base64UrlEncode(Coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X))},
          {"y", Base64UrlEncode(Coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y))},
          {"kid", kid},
          {"use", "sig"},
          {"alg", "ES256"}};
}

std::string EcKey::Sign(std::string_view data) const {
  if (!private_) throw std::logic_error("public key only");
  MdCtx md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t len = 0;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw std::runtime_error("ES256 signing failed");
  std::string der(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw std::runtime_error("ES256 signing failed");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)),
                                                            ECDSA_SIG_free);
  if (!sig) throw std::runtime_error("ES256 signature not DER");
  std::string out(64, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, 32) != 32 || BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + 32, 32) != 32)
    throw std::runtime_error("ES256 signature too large");
  return out;
}

bool EcKey::Verify(std::string_view data, std::string_view signature) const {
  if (signature.size() != 64) return false;
  const auto* s = reinterpret_cast<const unsigned char*>(signature.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
  BIGNUM* r = BN_bin2bn(s, 32, nullptr);
  BIGNUM* t = BN_bin2bn(s + 32, 32, nullptr);
  if (!sig || !r || !t || ECDSA_SIG_set0(sig.get(), r, t) != 1) {
    BN_free(r);
    BN_free(t);
    return false;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return false;
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_owner(der, [](unsigned char* p) { OPENSSL_free(p); });
  MdCtx md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return md && EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
         EVP_DigestVerify(md.get(), der, static_cast<std::size_t>(der_len),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

std::string SignEs256(const EcKey& key, const std::string& kid, const nlohmann::json& claims) {
  const nlohmann::json header = {{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid}};
  const std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  return input + "." + Base64UrlEncode(key.Sign(input));
}

bool IsAsymmetricJwsAlgorithm(std::string_view alg) {
  return alg == "ES256" || alg == "RS256" || alg == "PS256" || alg == "EdDSA";
}

JwkSet JwkSet::FromJwks(const nlohmann::json& jwks) {
  if (!jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array())
    throw std::invalid_argument("not a JWKS document");
  JwkSet set;
  for (const auto& k : jwks["keys"]) {
    if (!k.is_object() || !k.contains("kid") || !k["kid"].is_string()) continue;
    if (k.contains("use") && k["use"] != "sig") continue;
    const auto kty = k.value("kty", nlohmann::json()).is_string() ? k["kty"].get<std::string>() : std::string();
    const auto alg = k.contains("alg") ? (k["alg"].is_string() ? k["alg"].get<std::string>() : std::string("?"))
                                       : std::string();
    try {
      if (kty == "EC" && (alg.empty() || alg == "ES256")) set.Add(k["kid"], EcKey::FromJwk(k));
      else if (kty == "RSA" && (alg.empty() || alg == "RS256" || alg == "PS256")) set.Add(k["kid"], RsaKey::FromJwk(k), alg);
      else if (kty == "OKP" && (alg.empty() || alg == "EdDSA")) set.Add(k["kid"], EdKey::FromJwk(k));
      // Anything else (an HMAC secret, "alg":"none", an encryption algorithm) is not ours to use.
    } catch (const std::invalid_argument&) {
      // Another curve, a weak modulus: not ours to use either.
    }
  }
  return set;
}

nlohmann::json JwkSet::Verify(std::string_view token, const JwtOptions& opts,
                              std::chrono::system_clock::time_point now) const {
  return Verify(detail::SplitToken(token), opts, now);
}

nlohmann::json JwkSet::Verify(const detail::TokenParts& parts, const JwtOptions& opts,
                              std::chrono::system_clock::time_point now) const {
  const auto alg_it = parts.header.find("alg");
  if (alg_it == parts.header.end() || !alg_it->is_string()) throw JwtError("The specified alg value is not allowed");
  const auto& alg = alg_it->get_ref<const std::string&>();
  if (!IsAsymmetricJwsAlgorithm(alg) ||
      (!opts.algorithms.empty() && std::find(opts.algorithms.begin(), opts.algorithms.end(), alg) == opts.algorithms.end()))
    throw JwtError("The specified alg value is not allowed");
  const auto kid = parts.header.find("kid");
  if (kid == parts.header.end() || !kid->is_string()) throw JwtError("Token has no key id (kid)");
  const auto entry = keys_.find(kid->get_ref<const std::string&>());
  if (entry == keys_.end()) throw UnknownKeyError("Unknown signing key");
  if (!entry->second.alg.empty() && alg != entry->second.alg) throw JwtError("The specified alg value is not allowed");
  // The key decides the algorithm: the token's `alg` must be one its type signs with.
  const bool verified = std::visit(
      [&](const auto& k) {
        using K = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<K, EcKey>) {
          if (alg != "ES256") throw JwtError("The specified alg value is not allowed");
          return k.Verify(parts.signing_input, parts.signature);
        } else if constexpr (std::is_same_v<K, RsaKey>) {
          if (alg != "RS256" && alg != "PS256") throw JwtError("The specified alg value is not allowed");
          return k.Verify(parts.signing_input, parts.signature, alg == "PS256" ? RsaPadding::kPss : RsaPadding::kPkcs1);
        } else {
          if (alg != "EdDSA") throw JwtError("The specified alg value is not allowed");
          return k.Verify(parts.signing_input, parts.signature);
        }
      },
      entry->second.key);
  if (!verified) throw JwtError("Signature verification failed");
  return detail::CheckClaims(parts.payload, opts, now);
}

SecretBox::SecretBox(std::string_view passphrase) : key_(crypto_aead_xchacha20poly1305_ietf_KEYBYTES, '\0') {
  if (sodium_init() < 0) throw std::runtime_error("libsodium init failed");
  if (passphrase.size() < 32) throw std::invalid_argument("passphrase shorter than 32 bytes");
  static constexpr char kContext[] = "suite.secretbox.v1";
  crypto_generichash(reinterpret_cast<unsigned char*>(key_.data()), key_.size(),
                     reinterpret_cast<const unsigned char*>(passphrase.data()), passphrase.size(),
                     reinterpret_cast<const unsigned char*>(kContext), sizeof kContext - 1);
}

std::string SecretBox::Seal(std::string_view plaintext, std::string_view context) const {
  std::string out(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(o, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      o + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(context.data()), context.size(), nullptr, o,
      reinterpret_cast<const unsigned char*>(key_.data()));
  return out;
}

std::string SecretBox::Open(std::string_view sealed, std::string_view context) const {
  constexpr std::size_t kN = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, kA = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (sealed.size() < kN + kA) throw std::runtime_error("sealed value too short");
  std::string out(sealed.size() - kN - kA, '\0');
  unsigned long long len = 0;
  const auto* s = reinterpret_cast<const unsigned char*>(sealed.data());
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out.data()), &len, nullptr, s + kN,
                                                 sealed.size() - kN, reinterpret_cast<const unsigned char*>(context.data()),
                                                 context.size(), s, reinterpret_cast<const unsigned char*>(key_.data())) != 0)
    throw std::runtime_error("sealed value does not open: wrong key or altered data");
  out.resize(len);
  return out;
}

}  // namespace suite::security
