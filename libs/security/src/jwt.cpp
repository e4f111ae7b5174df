#include "suite/security/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <sodium.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "suite/core/json.hpp"

namespace suite::security {
namespace {
constexpr std::size_t kMaxTokenBytes = 8192;
constexpr core::JsonLimits kLimits{.max_bytes = kMaxTokenBytes, .max_depth = 8, .max_elements = 1024,
                                   .max_string = 2048};

std::int64_t Seconds(std::chrono::system_clock::time_point tp) {
  return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}
}  // namespace

// base64url without padding (RFC 7515 §2), by libsodium: constant-time in the data, and its
// decoder refuses non-canonical trailing bits (two strings must not decode to the same bytes).
std::string Base64UrlEncode(std::string_view in) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(in.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(in.data()), in.size(), kVariant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

namespace {
// base64url without padding appended to `out`, by table: for what is public anyway (a token's
// claims and signature, which the token shows), where sodium's constant-time encoder costs a
// per-request microsecond for nothing. Secrets (a new API key) keep Base64UrlEncode.
void AppendBase64UrlPublic(std::string& out, std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size();
  const std::size_t at = out.size();
  out.resize(at + (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1));
  char* o = out.data() + at;
  for (; n >= 3; n -= 3, p += 3) {
    const std::uint32_t v = (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
    *o++ = kAlphabet[v & 63];
  }
  if (n == 1) {
    *o++ = kAlphabet[p[0] >> 2];
    *o++ = kAlphabet[(p[0] & 3) << 4];
  } else if (n == 2) {
    const std::uint32_t v = (std::uint32_t{p[0]} << 8) | p[1];
    *o++ = kAlphabet[v >> 10];
    *o++ = kAlphabet[(v >> 4) & 63];
    *o++ = kAlphabet[(v << 2) & 63];
  }
}
}  // namespace

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  std::string out(in.size() * 3 / 4 + 1, '\0');
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(), in.size(), nullptr, &len,
                        &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != in.data() + in.size())
    return std::nullopt;  // a character outside the alphabet, a stray bit, or a cut-off group
  out.resize(len);
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
           &len) == nullptr)
    throw std::runtime_error("HMAC failed");
  return std::string(reinterpret_cast<char*>(mac.data()), len);
}

std::string Sha256Hex(std::string_view data) {
  // Per request (an API key's lookup): the digest fetched once, a context per thread reused,
  // the hex written in place (no allocation but the result's).
  struct Work {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Work() {
      EVP_MD_CTX_free(ctx);
      EVP_MD_free(md);
    }
  };
  thread_local Work work;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (work.md == nullptr || work.ctx == nullptr || EVP_DigestInit_ex(work.ctx, work.md, nullptr) != 1 ||
      EVP_DigestUpdate(work.ctx, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(work.ctx, md, &len) != 1)
    throw std::runtime_error("SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * len, '\0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
  return out;
}

// RFC 2104 with the pads' hash states kept: inner = H(K ^ ipad || data), mac = H(K ^ opad || inner).
struct Hs256::Key {
  EVP_MD_CTX* inner = EVP_MD_CTX_new();
  EVP_MD_CTX* outer = EVP_MD_CTX_new();
  explicit Key(std::string_view secret) {
    constexpr std::size_t kBlock = 64;
    std::array<unsigned char, kBlock> k{};
    if (secret.size() > kBlock) {  // a long key is hashed first
      SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), k.data());
    } else {
      std::copy(secret.begin(), secret.end(), k.begin());
    }
    std::array<unsigned char, kBlock> ipad{}, opad{};
    for (std::size_t i = 0; i < kBlock; ++i) {
      ipad[i] = static_cast<unsigned char>(k[i] ^ 0x36);
      opad[i] = static_cast<unsigned char>(k[i] ^ 0x5c);
    }
    const bool ok = inner != nullptr && outer != nullptr && EVP_DigestInit_ex(inner, EVP_sha256(), nullptr) == 1 &&
                    EVP_DigestUpdate(inner, ipad.data(), ipad.size()) == 1 &&
                    EVP_DigestInit_ex(outer, EVP_sha256(), nullptr) == 1 &&
                    EVP_DigestUpdate(outer, opad.data(), opad.size()) == 1;
    OPENSSL_cleanse(k.data(), k.size());
    OPENSSL_cleanse(ipad.data(), ipad.size());
    OPENSSL_cleanse(opad.data(), opad.size());
    if (!ok) {
      EVP_MD_CTX_free(inner);
      EVP_MD_CTX_free(outer);
      throw std::runtime_error("HMAC key setup failed");
    }
  }
  ~Key() {
    EVP_MD_CTX_free(inner);  // frees (and cleanses) the digest state
    EVP_MD_CTX_free(outer);
  }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
};

Hs256::Hs256(std::string secret) : key_(std::make_shared<const Key>(secret)) {
  OPENSSL_cleanse(secret.data(), secret.size());
}

std::string Hs256::Mac(std::string_view data) const {
  // One working context per thread, reused: a copy of a pad state goes into it each time.
  struct Work {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Work() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Work work;
  unsigned char inner[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
  unsigned int inner_len = 0, mac_len = 0;
  if (work.ctx == nullptr || EVP_MD_CTX_copy_ex(work.ctx, key_->inner) != 1 ||
      EVP_DigestUpdate(work.ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(work.ctx, inner, &inner_len) != 1 || EVP_MD_CTX_copy_ex(work.ctx, key_->outer) != 1 ||
      EVP_DigestUpdate(work.ctx, inner, inner_len) != 1 || EVP_DigestFinal_ex(work.ctx, mac, &mac_len) != 1)
    throw std::runtime_error("HMAC failed");
  return std::string(reinterpret_cast<char*>(mac), mac_len);
}

std::string Hs256::Sign(const nlohmann::json& claims) const { return SignPayload(claims.dump()); }

std::string Hs256::SignPayload(std::string_view claims_json) const {
  static const std::string kHeader = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  std::string token;
  token.reserve(kHeader.size() + 1 + (claims_json.size() + 2) / 3 * 4 + 1 + 43);
  token += kHeader;
  token += '.';
  AppendBase64UrlPublic(token, claims_json);
  const std::string sig = Mac(token);
  token += '.';
  AppendBase64UrlPublic(token, sig);
  return token;
}

namespace detail {

TokenParts SplitToken(std::string_view token) {
  if (token.size() > kMaxTokenBytes) throw JwtError("token too large");
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    throw JwtError("Not enough segments");
  auto header_raw = Base64UrlDecode(token.substr(0, dot1));
  auto payload_raw = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_raw || !payload_raw || !sig) throw JwtError("Invalid token encoding");
  // Parsed before the signature is checked: anyone can send these bytes.
  auto header_parsed = core::ParseJson(*header_raw, kLimits);
  if (!header_parsed.ok() || !header_parsed.value.is_object()) throw JwtError("Invalid header");
  // No extension we would have to understand (RFC 7515 4.1.11): refuse rather than ignore.
  if (header_parsed.value.contains("crit")) throw JwtError("Unsupported critical header parameter");
  return {std::move(header_parsed.value), std::move(*payload_raw), std::move(*sig), token.substr(0, dot2)};
}

nlohmann::json CheckClaims(const std::string& payload_raw, const JwtOptions& opts,
                           std::chrono::system_clock::time_point now) {
  auto parsed = core::ParseJson(payload_raw, kLimits);
  if (!parsed.ok() || !parsed.value.is_object()) throw JwtError("Invalid payload");
  auto claims = std::move(parsed.value);
  const std::int64_t t = Seconds(now), leeway = opts.leeway.count();
  // NumericDate claims are integers in range: 1e308, 1.5, "123" or -1 are refused, never
  // compared as doubles (a float `exp` of 1e308 would make a token that never expires).
  constexpr std::int64_t kMaxDate = 100'000'000'000;  // year 5138
  auto date = [&](const char* name) -> std::optional<std::int64_t> {
    const auto it = claims.find(name);
    if (it == claims.end()) return std::nullopt;
    if (!it->is_number_integer()) throw JwtError(std::string("Invalid \"") + name + "\" claim: not an integer");
    const bool in_range = it->is_number_unsigned() ? it->get<std::uint64_t>() <= static_cast<std::uint64_t>(kMaxDate)
                                                   : it->get<std::int64_t>() >= 0 && it->get<std::int64_t>() <= kMaxDate;
    if (!in_range) throw JwtError(std::string("Invalid \"") + name + "\" claim: out of range");
    return it->get<std::int64_t>();
  };
  const auto exp = date("exp");
  if (!exp) throw JwtError("Token is missing the \"exp\" claim");
  const auto nbf = date("nbf");
  const auto iat = date("iat");
  if (*exp <= t - leeway) throw JwtError("Signature has expired");
  if (nbf && *nbf > t + leeway) throw JwtError("The token is not yet valid (nbf)");
  if (iat && *iat > t + leeway) throw JwtError("The token was issued in the future (iat)");
  if (opts.max_lifetime) {
    const std::int64_t max = opts.max_lifetime->count();
    if (*exp - t > max + leeway || (iat && *exp - *iat > max))
      throw JwtError("Token lifetime exceeds the maximum of " + std::to_string(max) + " seconds");
  }
  if (opts.issuer && (!claims.contains("iss") || claims["iss"] != *opts.issuer))
    throw JwtError("Invalid issuer");
  // `aud` is a string or an array of strings (RFC 7519 4.1.3); one of them must be ours.
  const auto ours = [&](const nlohmann::json& a) {
    if (!a.is_string()) return false;
    const auto& s = a.get_ref<const std::string&>();
    if (opts.audience && s == *opts.audience) return true;
    return std::find(opts.audiences.begin(), opts.audiences.end(), s) != opts.audiences.end();
  };
  if (opts.audience || !opts.audiences.empty()) {
    const auto& aud = claims.contains("aud") ? claims["aud"] : nlohmann::json();
    bool ok = ours(aud);
    if (aud.is_array())
      for (const auto& a : aud) ok = ok || ours(a);
    if (!ok) throw JwtError("Invalid audience");
  }
  return claims;
}

}  // namespace detail

nlohmann::json Hs256::Verify(std::string_view token, const JwtOptions& opts,
                             std::chrono::system_clock::time_point now) const {
  return Verify(detail::SplitToken(token), opts, now);
}

nlohmann::json Hs256::Verify(const detail::TokenParts& parts, const JwtOptions& opts,
                             std::chrono::system_clock::time_point now) const {
  // Algorithm pinning: decided by us, never by the token.
  if (!parts.header.contains("alg") || parts.header["alg"] != "HS256")
    throw JwtError("The specified alg value is not allowed");
  const std::string expected = Mac(parts.signing_input);
  if (!ConstantTimeEquals(expected, parts.signature)) throw JwtError("Signature verification failed");
  return detail::CheckClaims(parts.payload, opts, now);
}

}  // namespace suite::security
