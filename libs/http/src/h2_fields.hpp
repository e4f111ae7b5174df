#pragma once
// Internal to libs/http: what both HTTP/2 sides (h2_session.cpp, the server; h2_client.cpp, the
// upstream pool) build their header blocks with, and how each sends a body through nghttp2's
// data provider a piece at a time, its trailers after it.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <list>
#include <string>
#include <string_view>
#include <vector>

#include "head_writer.hpp"
#include "suite/core/json.hpp"
#include "suite/http/message.hpp"

namespace suite::http::detail {

// RFC 9113 8.2.2: fields that mean something to one HTTP/1.1 connection only.
inline bool ConnectionSpecific(std::string_view name) {
  return NameEquals(name, "connection") || NameEquals(name, "keep-alive") || NameEquals(name, "proxy-connection") ||
         NameEquals(name, "transfer-encoding") || NameEquals(name, "upgrade") || NameEquals(name, "content-length");
}

// The fields of a header block, as nghttp2 takes them (it copies them at submission): built and
// submitted with no suspension in between, in the loop thread's one list.
class FieldList {
 public:
  FieldList() : nv_(Spare()) { nv_.clear(); }
  FieldList(const FieldList&) = delete;
  FieldList& operator=(const FieldList&) = delete;

  void Add(std::string_view name, std::string_view value) {
    // RFC 9113 8.2: names are lowercase; a field that could not be written on HTTP/1.1 either
    // is dropped here too.
    if (!IsToken(name) || !IsSafeFieldValue(value)) return;
    if (std::any_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      lowered_.push_back(core::AsciiLower(name));
      name = lowered_.back();
    }
    Push(name, value, !Unindexed(name));
  }
  /// Fields kept out of the HPACK tables: a value that differs with nearly every message (in
  /// the table it would only push out the fields that repeat, which then go out whole again:
  /// the rate-limit counters did so every twenty answers), and a cookie (RFC 7541 7.1.3: never
  /// indexed, so that no other stream can probe for it).
  static bool Unindexed(std::string_view lower_name) {
    return lower_name == "x-ratelimit-remaining" || lower_name == "ratelimit" || lower_name == "content-length" ||
           lower_name == "set-cookie" || lower_name == "cookie" || lower_name == "authorization" ||
           lower_name == "x-api-key" || lower_name == "x-internal-identity" || lower_name == "x-request-id" ||
           lower_name == "traceparent";
  }
  /// `index` false: a value unique to this answer (an id, a time), kept out of both sides'
  /// HPACK tables, where it would only push out what repeats.
  void Push(std::string_view name, std::string_view value, bool index = true) {
    nv_.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                   static_cast<std::uint8_t>(index ? NGHTTP2_NV_FLAG_NONE : NGHTTP2_NV_FLAG_NO_INDEX)});
  }
  std::string_view Number(std::uint64_t n) {
    const auto r = std::to_chars(number_, number_ + sizeof number_, n);
    return {number_, static_cast<std::size_t>(r.ptr - number_)};
  }
  const nghttp2_nv* data() const { return nv_.data(); }
  std::size_t size() const { return nv_.size(); }

 private:
  static std::vector<nghttp2_nv>& Spare() {
    thread_local std::vector<nghttp2_nv> nv;
    return nv;
  }
  std::vector<nghttp2_nv>& nv_;
  std::list<std::string> lowered_;  ///< stable addresses; nothing allocated when empty
  char number_[24];
};

// What nghttp2 has to send, up to `most` bytes (one write's worth), appended to `out` (cleared
// first); false on a fatal error.
inline bool GatherOutput(nghttp2_session* session, std::string& out, std::size_t most) {
  out.clear();
  while (out.size() < most) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(session, &data);
    if (n < 0) return false;
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return true;
}

// The trailer fields, in a HEADERS frame that ends the stream (submitted from the data
// provider, as nghttp2 asks); false when none could be written.
inline bool SubmitTrailers(nghttp2_session* session, std::int32_t id, const Headers& trailers) {
  FieldList fields;
  for (const auto& [k, v] : trailers)
    if (!ConnectionSpecific(k) && !(k.size() > 0 && k[0] == ':')) fields.Add(k, v);
  return fields.size() > 0 && nghttp2_submit_trailer(session, id, fields.data(), fields.size()) == 0;
}

// A body on its way out through a data provider: the piece being sent (valid until its
// producer pulls the next one), how much of it nghttp2 took, and what ends it.
struct OutgoingBody {
  std::string_view piece;
  std::size_t offset = 0;
  bool eof = false;                   ///< no piece after this one
  bool deferred = false;              ///< nghttp2 waits for a resume
  const Headers* trailers = nullptr;  ///< sent after the body, when it has any
  bool pending() const { return offset < piece.size(); }
};

// nghttp2's read callback for `body`: what the window allows of the piece. `pull` is set when
// its producer must give the next piece (this one is taken, or there was none: DEFERRED until
// the producer resumes the stream).
inline ssize_t ProvideBody(OutgoingBody& body, nghttp2_session* session, std::int32_t id, std::uint8_t* buf,
                           std::size_t length, std::uint32_t* flags, bool& pull) {
  const std::size_t left = body.piece.size() - body.offset;
  if (left == 0 && !body.eof) {
    body.deferred = true;
    pull = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  const std::size_t n = std::min(left, length);
  if (n > 0) std::memcpy(buf, body.piece.data() + body.offset, n);
  body.offset += n;
  if (body.offset == body.piece.size()) {
    if (body.eof) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (body.trailers != nullptr && SubmitTrailers(session, id, *body.trailers)) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    } else {
      pull = true;
    }
  }
  return static_cast<ssize_t>(n);
}

}  // namespace suite::http::detail
