#include "suite/security/rsa.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <stdexcept>

#include "suite/security/jwt.hpp"

namespace suite::security {

namespace {

using Bn = std::unique_ptr<BIGNUM, decltype(&BN_free)>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

constexpr int kMinBits = 2048, kMaxBits = 8192;

std::string Param(EVP_PKEY* k, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &raw) != 1) throw std::runtime_error("RSA key without its public part");
  Bn bn(raw, BN_free);
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

RsaKey::RsaKey(std::shared_ptr<EVP_PKEY> key, bool has_private)
    : key_(std::move(key)), private_(has_private), bytes_(static_cast<std::size_t>(EVP_PKEY_get_size(key_.get()))) {}

RsaKey RsaKey::Generate(unsigned bits) {
  EVP_PKEY* k = EVP_RSA_gen(bits);
  if (!k) throw std::runtime_error("RSA key generation failed");
  return RsaKey(std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free), true);
}

RsaKey RsaKey::FromJwk(const nlohmann::json& jwk) {
  auto text = [&](const char* k) { return detail::JwkString(jwk, k); };
  if (text("kty") != "RSA") throw std::invalid_argument("JWK is not an RSA key");
  const auto n = Base64UrlDecode(text("n")), e = Base64UrlDecode(text("e"));
  if (!n || !e || n->empty() || e->empty()) throw std::invalid_argument("JWK n or e is not base64url");
  Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr), BN_free);
  Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr), BN_free);
  if (!bn_n || !bn_e) throw std::invalid_argument("JWK n or e unusable");
  const int bits = BN_num_bits(bn_n.get());
  if (bits < kMinBits || bits > kMaxBits) throw std::invalid_argument("RSA modulus must be 2048 to 8192 bits");
  if (BN_num_bits(bn_e.get()) > 32 || !BN_is_odd(bn_e.get()) || BN_cmp(bn_e.get(), BN_value_one()) <= 0)
    throw std::invalid_argument("RSA exponent must be odd, from 3 to 2^32 - 1");
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
    throw std::invalid_argument("JWK RSA parameters unusable");
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()), OSSL_PARAM_free);
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    throw std::invalid_argument("JWK is not a usable RSA key");
  return RsaKey(std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free), false);
}

nlohmann::json RsaKey::PublicJwk(const std::string& kid) const {
  return {{"kty", "RSA"},
          {"n", Base64UrlEncode(Param(key_.get(), OSSL_PKEY_PARAM_RSA_N))},
          {"e", Base64UrlEncode(Param(key_.get(), OSSL_PKEY_PARAM_RSA_E))},
          {"kid", kid},
          {"use", "sig"},
          {"alg", "RS256"}};
}

namespace {
// PKCS#1 v1.5, or PSS with MGF1-SHA-256 and a salt as long as the digest (RFC 7518 3.5: exactly,
// when verifying).
bool SetPadding(EVP_PKEY_CTX* pctx, RsaPadding padding) {
  if (padding == RsaPadding::kPkcs1) return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
}
}  // namespace

std::string RsaKey::Sign(std::string_view data, RsaPadding padding) const {
  if (!private_) throw std::logic_error("public key only");
  MdCtx md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  std::size_t len = bytes_;
  std::string out(len, '\0');
  if (!md || EVP_DigestSignInit(md.get(), &pctx, EVP_sha256(), nullptr, key_.get()) != 1 ||
      !SetPadding(pctx, padding) ||
      EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw std::runtime_error("RSA signing failed");
  out.resize(len);
  return out;
}

bool RsaKey::Verify(std::string_view data, std::string_view signature, RsaPadding padding) const {
  // RFC 7518 3.3 and 3.5: the signature is exactly as long as the modulus.
  if (signature.size() != bytes_) return false;
  MdCtx md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  return md && EVP_DigestVerifyInit(md.get(), &pctx, EVP_sha256(), nullptr, key_.get()) == 1 &&
         SetPadding(pctx, padding) &&
         EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

namespace {
std::string SignRsa(const RsaKey& key, const char* alg, RsaPadding padding, const std::string& kid,
                    const nlohmann::json& claims) {
  const nlohmann::json header = {{"alg", alg}, {"typ", "JWT"}, {"kid", kid}};
  const std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  return input + "." + Base64UrlEncode(key.Sign(input, padding));
}
}  // namespace

std::string SignRs256(const RsaKey& key, const std::string& kid, const nlohmann::json& claims) {
  return SignRsa(key, "RS256", RsaPadding::kPkcs1, kid, claims);
}

std::string SignPs256(const RsaKey& key, const std::string& kid, const nlohmann::json& claims) {
  return SignRsa(key, "PS256", RsaPadding::kPss, kid, claims);
}

}  // namespace suite::security
