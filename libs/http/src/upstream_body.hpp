#pragma once
// The upstream pool's streamed answer (client.cpp): its body as it arrives from the upstream, a
// piece per read (each within the request's timeout), without a cap since no more than a piece
// is held. Read to its end, the connection is handed to `keep` (the pool's idle list, when the
// answer allows keep-alive); dropped before, it is closed.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <functional>
#include <memory>

#include "body_pieces.hpp"
#include "message_parser.hpp"
#include "plain_stream.hpp"
#include "suite/observability/log.hpp"

namespace suite::http::detail {

class UpstreamBody final : public BodyStream {
 public:
  using Keep = std::function<void(std::unique_ptr<PlainStream>)>;
  UpstreamBody(std::unique_ptr<PlainStream> stream, boost::beast::flat_buffer buffer,
               ResponseParser&& head,
               std::chrono::milliseconds timeout, std::string upstream, Keep keep)
      : stream_(std::move(stream)), buffer_(std::move(buffer)), parser_(std::move(head)), timeout_(timeout),
        upstream_(std::move(upstream)), keep_(std::move(keep)),
        piece_(std::make_unique_for_overwrite<char[]>(kBodyPiece)) {
    if (const auto cl = parser_.content_length()) length_ = *cl;
    if (!parser_.keep_alive()) keep_ = nullptr;
    buffer_.reserve(kBodyPiece);  // Beast reads as much as the buffer's free capacity
  }

  std::optional<std::uint64_t> length() const override { return length_; }
  BodyStatus status() const override { return status_; }
  std::uint64_t consumed() const override { return consumed_; }
  Task<std::string_view> Next() override {
    if (stream_ == nullptr) co_return std::string_view();
    stream_->expires_after(timeout_);
    const auto [ec, got] = co_await ReadPiece(*stream_, buffer_, parser_, piece_.get());
    if (ec) {
      obs::Warn("upstream answer failed midway",
                {{"upstream", upstream_}, {"error", ec.message()}, {"received_bytes", consumed_}});
      status_ = BodyStatus::kFailed;
      stream_.reset();
    } else if (got == 0) {
      if (keep_) keep_(std::move(stream_));
      stream_.reset();
    }
    consumed_ += got;
    co_return std::string_view(piece_.get(), got);
  }

 private:
  std::unique_ptr<PlainStream> stream_;
  boost::beast::flat_buffer buffer_;
  ResponseParser parser_;  ///< the answer's own, moved here after its head: the body in pieces
  std::chrono::milliseconds timeout_;
  std::string upstream_;  ///< for the log
  Keep keep_;             ///< null when the answer closes its connection
  std::unique_ptr<char[]> piece_;
  std::optional<std::uint64_t> length_;
  BodyStatus status_ = BodyStatus::kOk;
  std::uint64_t consumed_ = 0;
};

}  // namespace suite::http::detail
