#pragma once
// The body of a request whose head is already with a head-first handler (session.cpp): read
// whole under the handler's cap (Read), or handed out in pieces as it is pulled (Open, then the
// BodyStream it gives the request), the client told to go on (100 Continue) only then.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include "body_pieces.hpp"
#include "message_parser.hpp"
#include "server_core.hpp"

namespace suite::http::detail {

// Beast reads as much as the buffer's free capacity (an idle connection's is 2 KB): room for a
// declared body, up to a piece, so that it takes a read or a few rather than one per 2 KB.
inline void ReserveFor(beast::flat_buffer& buffer, boost::optional<std::uint64_t> length) {
  if (length) buffer.reserve(buffer.size() + static_cast<std::size_t>(std::min<std::uint64_t>(*length, kBodyPiece)));
}

// The interim answer that invites a body its client held back (Expect: 100-continue).
template <class Stream>
net::awaitable<bool> WriteContinue(Stream& stream, ServerCore& core, unsigned version) {
  namespace bhttp = beast::http;
  bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
  beast::get_lowest_layer(stream).expires_after(core.options.write_timeout);
  auto [ec, n] = co_await bhttp::async_write(stream, cont, net::as_tuple(net::use_awaitable));
  co_return !ec;
}

template <class Stream>
class RequestBody final : public BodyReader, public BodyStream {
 public:
  using Parser = RequestParser;
  RequestBody(ServerCore& core, Stream& stream, beast::flat_buffer& buffer, Parser& parser, Request& req,
              bool expects_continue)
      : core_(core), stream_(stream), buffer_(buffer), parser_(parser), req_(req),
        expects_continue_(expects_continue) {}
  ~RequestBody() override { req_.body_stream = nullptr; }
  RequestBody(const RequestBody&) = delete;
  RequestBody& operator=(const RequestBody&) = delete;

  /// Every byte of the body was read (or there was none).
  bool complete() const { return parser_.is_done(); }

  std::optional<std::uint64_t> content_length() const override {
    const auto cl = parser_.content_length();
    return cl ? std::optional<std::uint64_t>(*cl) : std::nullopt;
  }
  // A handler's cap never exceeds the server's (ServerOptions::body_limit).
  Task<Status> Read(std::size_t limit) override {
    limit = std::min(limit, core_.options.body_limit);
    if (!status_) status_ = co_await ReadOnce(limit);
    co_return *status_;
  }
  Task<Status> Open(std::size_t limit) override {
    if (status_) co_return *status_;
    limit = std::min(limit, core_.options.body_limit);
    const auto cl = parser_.content_length();
    if (parser_.is_done() || (!parser_.chunked() && cl && *cl <= kBodyPiece)) co_return co_await Read(limit);
    status_ = co_await Admit(limit);
    if (*status_ != Status::kOk) co_return *status_;
    // No body octet has been parsed (the head read stops at the blank line): the cap may still
    // change, and the body goes out in pieces from here.
    parser_.body_limit(limit);
    streaming_ = true;
    piece_ = std::make_unique_for_overwrite<char[]>(kBodyPiece);
    ReserveFor(buffer_, kBodyPiece);  // shrunk back when the connection idles
    req_.body_stream = this;
    co_return Status::kOk;
  }

  // BodyStream: the body as it arrives, one piece per read.
  BodyStatus status() const override { return streamed_; }
  std::optional<std::uint64_t> length() const override { return content_length(); }
  std::uint64_t consumed() const override { return consumed_; }
  Task<std::string_view> Next() override {
    if (!streaming_ || streamed_ != Status::kOk || parser_.is_done()) co_return std::string_view();
    // Each read within the body timeout; together within the body timeout plus a second per
    // KiB received (a minimum rate). Time spent waiting for our reader (the upstream) does not
    // count: only time spent waiting for this client.
    const auto timeout = std::chrono::duration_cast<Clock::duration>(core_.options.body_timeout);
    const auto budget =
        timeout + std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(consumed_ * 1000 / kMinRate));
    if (spent_ >= budget) {
      streamed_ = Status::kTimedOut;
      co_return std::string_view();
    }
    beast::get_lowest_layer(stream_).expires_after(std::min(timeout, budget - spent_));
    const auto started = Clock::now();
    const auto [ec, got] = co_await ReadPiece(stream_, buffer_, parser_, piece_.get());
    spent_ += Clock::now() - started;
    if (ec) streamed_ = Failure(ec);
    consumed_ += got;
    co_return std::string_view(piece_.get(), got);
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::uint64_t kMinRate = 1024;  ///< bytes per second, after the first body timeout

  // A declared length past the cap is refused before anything is read, and no 100 Continue
  // invites it; else the client waiting for one is told to go on.
  Task<Status> Admit(std::size_t limit) {
    if (const auto cl = parser_.content_length(); cl && *cl > limit) co_return Status::kTooLarge;
    if (expects_continue_ && !co_await WriteContinue(stream_, core_, parser_.version()))
      co_return Status::kFailed;
    co_return Status::kOk;
  }
  static Status Failure(const beast::error_code& ec) {
    if (ec == beast::http::error::body_limit) return Status::kTooLarge;
    if (ec == beast::error::timeout) return Status::kTimedOut;
    return Status::kFailed;
  }
  Task<Status> ReadOnce(std::size_t limit) {
    if (parser_.is_done()) co_return Status::kOk;
    const auto admitted = co_await Admit(limit);
    if (admitted != Status::kOk) co_return admitted;
    // No body octet has been parsed yet (the head read stops at the blank line): the cap may
    // still change, and it applies to chunked bodies as they arrive.
    parser_.body_limit(limit);
    ReserveFor(buffer_, parser_.content_length());
    beast::get_lowest_layer(stream_).expires_after(core_.options.body_timeout);
    auto [ec, n] = co_await beast::http::async_read(stream_, buffer_, parser_, net::as_tuple(net::use_awaitable));
    if (ec) co_return Failure(ec);  // the parser appended the body to the request
    co_return Status::kOk;
  }

  ServerCore& core_;
  Stream& stream_;
  beast::flat_buffer& buffer_;
  Parser& parser_;
  Request& req_;
  bool expects_continue_;
  std::optional<Status> status_;  ///< how Read or Open ended
  bool streaming_ = false;        ///< Open handed the body out in pieces
  std::unique_ptr<char[]> piece_;
  Status streamed_ = Status::kOk;
  std::uint64_t consumed_ = 0;
  Clock::duration spent_{};
};

}  // namespace suite::http::detail
