// The pool for an upstream that speaks HTTP/2 with prior knowledge (h2c; gRPC services), per
// loop: each request a stream on one of a few connections per endpoint, libnghttp2 doing the
// framing, HPACK and flow-control bookkeeping.
//
// On the loop, per connection (a Link), two coroutines: the reader hands what the socket holds
// to nghttp2 (in the loop's one buffer, as the server does), the writer gathers what nghttp2
// has to send into one write. Per request, the caller's own coroutine submits the stream and
// waits for the answer's head; a streamed body is pulled by a pump, inline (Call returns once it
// was sent) or, when the request says its body may be read on (ClientRequest::body_owner), in a
// coroutine of its own that runs while the answer comes: gRPC's calls streaming both ways. The
// answer's body is handed out as its reader pulls (AnswerBody), and the window given back to
// the upstream is what was handed out: a slow client slows the upstream down, and no stream's
// body is held whole.
#include <nghttp2/nghttp2.h>

#include <boost/asio.hpp>

#include <array>
#include <charconv>
#include <deque>
#include <stdexcept>
#include <unordered_map>

#include "h2_fields.hpp"
#include "plain_stream.hpp"
#include "tls_context.hpp"
#include "tls_stream.hpp"
#include "suite/http/body_stream.hpp"
#include "suite/http/client.hpp"
#include "suite/http/loop.hpp"
#include "suite/observability/log.hpp"
#include "upstream_common.hpp"

namespace suite::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace detail {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBuffer = 16 * 1024;
constexpr std::size_t kWriteGather = 64 * 1024;
constexpr int kReadsPerTurn = 16;
// What the upstream may send ahead of the reader, per stream and per connection. A stream's
// window is what a slow client can make us hold for it; the connection's bounds them together.
constexpr std::uint32_t kStreamWindow = 256 * 1024;
constexpr std::int32_t kConnectionWindow = 16 << 20;
// An answer's head and trailers, each (RFC 9113 6.5.2's accounting): past it the stream is reset.
constexpr std::size_t kMaxAnswerFields = 64 * 1024;

char* ReadBuffer() {
  thread_local std::array<char, kReadBuffer> buffer;
  return buffer.data();
}

// One request's stream.
struct Call {
  explicit Call(const net::any_io_executor& ex) : wake(ex), send_wake(ex) {}
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  std::int32_t id = 0;
  // The request's body: held whole (`body`), or the piece its pump pulled last, valid until
  // nghttp2 has taken it; its trailers after it.
  std::string body;
  OutgoingBody out;
  Headers trailers_out;
  bool pulled = false;    ///< a byte of the streamed body was taken: the request is never sent again
  BodyStatus body_failed = BodyStatus::kOk;
  bool pump_timed_out = false;
  bool pumping = false;
  // The answer.
  Response answer;
  bool head = false;       ///< the final head came
  std::size_t field_bytes = 0;
  Headers trailers;
  std::string in;          ///< arrived, not handed out yet (its window not given back)
  bool in_done = false;    ///< END_STREAM came
  bool dropped = false;    ///< nobody reads the answer: what arrives is given back at once
  bool closed = false;
  std::uint32_t close_code = 0;
  bool refused = false;    ///< never processed (REFUSED_STREAM, or not sent before a GOAWAY)
  net::steady_timer wake;       ///< the caller (the head, then the answer's body) waits on it
  net::steady_timer send_wake;  ///< the body's pump waits on it
  void Wake() {
    wake.cancel();
    send_wake.cancel();
  }
};

// Until `timer` is cancelled (true) or `until` passes (false).
Task<bool> WaitOn(net::steady_timer& timer, Clock::time_point until) {
  timer.expires_at(until);
  auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  co_return ec == net::error::operation_aborted;
}

// One connection to one endpoint, with its nghttp2 client session.
class Link : public std::enable_shared_from_this<Link> {
 public:
  using Self = std::shared_ptr<Link>;
  Link(const net::any_io_executor& ex, const UpstreamOptions& options, std::shared_ptr<SSL_CTX> tls)
      : options_{options.connect_timeout, options.request_timeout, options.h2_streams_per_connection},
        ex_(ex), tls_ctx_(std::move(tls)), stream_(ex), writer_wake_(ex) {}
  ~Link() {
    if (session_ != nullptr) nghttp2_session_del(session_);
  }
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // The session exists from the start: requests are submitted while the connection opens, and
  // leave once it is open.
  static Self Open(const net::any_io_executor& ex, const UpstreamOptions& options, const Endpoint& endpoint,
                   std::shared_ptr<SSL_CTX> tls) {
    auto link = std::make_shared<Link>(ex, options, std::move(tls));
    if (!link->Setup()) return nullptr;
    net::co_spawn(ex, Run(link, endpoint), LogException{"h2 upstream connection"});
    return link;
  }

  bool usable() const { return !dead_ && !goaway_; }
  bool dead() const { return dead_; }
  bool connect_failed() const { return connect_failed_; }
  const std::string& error() const { return error_; }
  std::size_t active() const { return calls_.size(); }
  Clock::time_point idle_since() const { return idle_since_; }
  // Streams it takes before another connection is opened.
  std::size_t capacity() const {
    const auto remote = nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    return std::min<std::size_t>(options_.h2_streams_per_connection, remote);
  }

  // The request's stream, submitted; its id, or a negative nghttp2 error.
  std::int32_t Submit(const FieldList& fields, const std::shared_ptr<Call>& call, bool with_body) {
    if (dead_) return NGHTTP2_ERR_INVALID_STATE;
    nghttp2_data_provider provider{};
    provider.source.ptr = call.get();
    provider.read_callback = ReadBody;
    const auto id = nghttp2_submit_request(session_, nullptr, fields.data(), fields.size(),
                                           with_body ? &provider : nullptr, call.get());
    if (id < 0) return id;
    call->id = id;
    calls_.emplace(id, call);
    Kick();
    return id;
  }

  void Reset(Call& call, std::uint32_t code) {
    if (dead_ || call.closed) return;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, call.id, code);
    Kick();
  }
  // `n` bytes of the answer were handed out (or dropped): their window goes back.
  void Consume(const Call& call, std::size_t n) {
    if (dead_ || n == 0) return;
    nghttp2_session_consume(session_, call.id, n);
    Kick();
  }
  // A new piece of the request's body is there to send.
  void Resume(Call& call) {
    if (dead_ || call.closed) return;
    if (call.out.deferred) {
      call.out.deferred = false;
      nghttp2_session_resume_data(session_, call.id);
    }
    Kick();
  }
  // An idle connection let go: GOAWAY, then the close.
  void Retire() {
    if (dead_) return;
    goaway_ = true;
    nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
    Kick();
  }

 private:
  bool Setup() {
    nghttp2_session_callbacks* cb = nullptr;
    if (nghttp2_session_callbacks_new(&cb) != 0) return false;
    nghttp2_session_callbacks_set_on_header_callback(cb, OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, OnFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, OnDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, OnStreamClose);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(cb, OnFrameNotSend);
    nghttp2_option* opt = nullptr;
    if (nghttp2_option_new(&opt) != 0) {
      nghttp2_session_callbacks_del(cb);
      return false;
    }
    nghttp2_option_set_no_auto_window_update(opt, 1);  // the window follows the reader
    nghttp2_option_set_no_closed_streams(opt, 1);
    nghttp2_option_set_peer_max_concurrent_streams(opt, options_.h2_streams_per_connection);
    nghttp2_option_set_max_settings(opt, 64);
    const int rv = nghttp2_session_client_new2(&session_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) return false;
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(kMaxAnswerFields)},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0) return false;
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
    idle_since_ = Clock::now();
    return true;
  }

  static Task<void> Run(Self self, Endpoint endpoint) {
    tcp::resolver resolver(self->ex_);
    auto [rec, results] = co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                                                          net::as_tuple(net::use_awaitable));
    boost::system::error_code ec = rec;
    if (!ec && !self->dead_) {
      self->stream_.expires_after(self->options_.connect_timeout);
      auto [cec, ignored] = co_await self->stream_.async_connect(results, net::as_tuple(net::use_awaitable));
      ec = cec;
    }
    if (ec || self->dead_) {
      if (!self->dead_) self->connect_failed_ = true;
      self->Fail("connect: " + (ec ? ec.message() : std::string("retired")));
      co_return;
    }
    self->stream_.expires_never();
    boost::system::error_code ignored;
    self->stream_.socket().set_option(tcp::no_delay(true), ignored);
    if (self->tls_ctx_) {
      std::string why;
      if (!co_await Handshake(self, endpoint.host, why)) {
        if (!self->dead_) self->connect_failed_ = true;
        self->Fail("tls: " + why);
        co_return;
      }
    }
    LaunchWriter(self);
    co_await Reader(self);
    self->Fail(self->error_.empty() ? "connection closed by the upstream" : self->error_);
  }
  // TLS over the connected socket, within the connect timeout: the certificate verified (the
  // context's trust, the endpoint's name), and h2 agreed by ALPN.
  static Task<bool> Handshake(Self self, std::string host, std::string& why) {
    try {
      self->tls_ = TlsStream::Client(std::move(self->stream_.socket()), self->tls_ctx_.get(), host);
    } catch (const std::exception& e) {
      why = e.what();
      co_return false;
    }
    self->tls_->expires_after(self->options_.connect_timeout);
    auto [ec] = co_await self->tls_->async_handshake(net::as_tuple(net::use_awaitable));
    self->tls_->expires_never();
    if (ec) {
      why = ec.message();
      co_return false;
    }
    if (self->tls_->Alpn() != "h2") {
      why = "the upstream did not agree to h2 (ALPN)";
      co_return false;
    }
    co_return true;
  }

  // The transport's operations: TLS once it is set up, else the plain connection.
  std::size_t ReadNow(void* into, std::size_t size, boost::system::error_code& ec) {
    return tls_ ? tls_->ReadNow(into, size, ec) : stream_.ReadNow(into, size, ec);
  }
  tcp::socket& Socket() { return tls_ ? tls_->socket() : stream_.socket(); }
  Task<boost::system::error_code> WriteOut() {
    const auto timeout = options_.request_timeout;
    if (tls_) {
      tls_->expires_after(timeout);
      auto [ec, n] = co_await net::async_write(*tls_, net::buffer(out_), net::as_tuple(net::use_awaitable));
      tls_->expires_never();
      co_return ec;
    }
    stream_.expires_after(timeout);
    auto [ec, n] = co_await net::async_write(stream_, net::buffer(out_), net::as_tuple(net::use_awaitable));
    stream_.expires_never();
    co_return ec;
  }

  // Spawned from a plain function: GCC 12 mishandles co_spawn's arguments inside a coroutine.
  static void LaunchWriter(const Self& self) { net::co_spawn(self->ex_, Writer(self), LogException{"h2 upstream writer"}); }

  static Task<void> Reader(Self self) {
    int reads = 0;
    while (!self->dead_) {
      boost::system::error_code ec;
      const std::size_t n = self->ReadNow(ReadBuffer(), kReadBuffer, ec);
      if (ec == net::error::would_block) {
        reads = 0;
        auto [wec] = co_await self->Socket().async_wait(tcp::socket::wait_read, net::as_tuple(net::use_awaitable));
        if (wec) break;
        continue;
      }
      if (ec || n == 0) break;
      const auto rv = nghttp2_session_mem_recv(self->session_, reinterpret_cast<const std::uint8_t*>(ReadBuffer()), n);
      if (rv < 0) {
        self->error_ = std::string("protocol: ") + nghttp2_strerror(static_cast<int>(rv));
        break;
      }
      self->Kick();
      if (nghttp2_session_want_read(self->session_) == 0 && nghttp2_session_want_write(self->session_) == 0) break;
      if (++reads == kReadsPerTurn) {
        reads = 0;
        co_await net::post(self->ex_, net::use_awaitable);
      }
    }
  }

  void Kick() {
    flush_ = true;
    if (writer_waiting_) writer_wake_.cancel();
  }

  static Task<void> Writer(Self self) {
    while (!self->dead_) {
      self->flush_ = false;
      if (!self->Gather()) {
        self->Fail("protocol: nghttp2 could not send");
        break;
      }
      if (!self->out_.empty()) {
        const auto ec = co_await self->WriteOut();
        if (ec) {
          self->Fail("write: " + ec.message());
          break;
        }
        continue;
      }
      if (nghttp2_session_want_read(self->session_) == 0 && nghttp2_session_want_write(self->session_) == 0) {
        self->Fail(self->goaway_ ? "closed (GOAWAY)" : "session ended");
        break;
      }
      if (self->flush_) continue;
      self->writer_waiting_ = true;
      self->writer_wake_.expires_at(Clock::time_point::max());
      co_await self->writer_wake_.async_wait(net::as_tuple(net::use_awaitable));
      self->writer_waiting_ = false;
    }
    // An idle connection holds no write buffer.
    std::string().swap(self->out_);
  }

  bool Gather() { return GatherOutput(session_, out_, kWriteGather); }

  // The connection is over: every stream on it fails (or was refused, if it never left).
  void Fail(std::string why) {
    if (dead_) return;
    dead_ = true;
    if (error_.empty()) error_ = std::move(why);
    auto calls = std::move(calls_);
    calls_.clear();
    for (auto& [id, call] : calls) {
      call->closed = true;
      call->Wake();
    }
    boost::system::error_code ignored;
    if (tls_) {
      tls_->cancel();  // not closed: OpenSSL holds the descriptor until the connection goes
    } else {
      stream_.cancel();
      stream_.socket().close(ignored);
    }
    writer_wake_.cancel();
  }

  // ---- nghttp2's callbacks ------------------------------------------------------------------

  static Link& Of(void* user) { return *static_cast<Link*>(user); }
  static Call* CallOf(nghttp2_session* session, std::int32_t id) {
    return static_cast<Call*>(nghttp2_session_get_stream_user_data(session, id));
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const std::uint8_t* name_p,
                      std::size_t namelen, const std::uint8_t* value_p, std::size_t valuelen, std::uint8_t, void*) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    Call* call = CallOf(session, frame->hd.stream_id);
    if (call == nullptr) return 0;
    call->field_bytes += namelen + valuelen + 32;
    if (call->field_bytes > kMaxAnswerFields) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
    const std::string_view name(reinterpret_cast<const char*>(name_p), namelen);
    const std::string_view value(reinterpret_cast<const char*>(value_p), valuelen);
    if (call->head) {  // after the final head: the trailers (nghttp2 refused pseudo-fields in them)
      call->trailers.emplace_back(name, value);
      return 0;
    }
    if (name == ":status") {
      int status = 0;
      std::from_chars(value.data(), value.data() + value.size(), status);
      call->answer.status = status;
    } else if (name.empty() || name[0] != ':') {
      call->answer.headers.emplace_back(name, value);
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      Of(user).goaway_ = true;  // no new stream here; those past its last id are closed REFUSED_STREAM
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    Call* call = CallOf(session, frame->hd.stream_id);
    if (call == nullptr) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !call->head) {
      if (call->answer.status >= 100 && call->answer.status < 200) {  // interim: the final one follows
        call->answer.headers.clear();
      } else {
        call->head = true;
      }
      call->field_bytes = 0;
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) call->in_done = true;
    call->wake.cancel();
    return 0;
  }

  static int OnDataChunk(nghttp2_session* session, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                         std::size_t len, void*) {
    Call* call = CallOf(session, id);
    if (call == nullptr || call->dropped) {
      nghttp2_session_consume(session, id, len);
      return 0;
    }
    call->in.append(reinterpret_cast<const char*>(data), len);
    call->wake.cancel();
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, std::int32_t id, std::uint32_t code, void* user) {
    auto& link = Of(user);
    const auto it = link.calls_.find(id);
    if (it == link.calls_.end()) return 0;
    auto call = std::move(it->second);
    link.calls_.erase(it);
    call->closed = true;
    call->close_code = code;
    if (code == NGHTTP2_REFUSED_STREAM && !call->head) call->refused = true;
    call->Wake();
    if (link.calls_.empty()) link.idle_since_ = Clock::now();
    return 0;
  }

  // A request that never left (the connection said GOAWAY first): the upstream never saw it.
  static int OnFrameNotSend(nghttp2_session*, const nghttp2_frame* frame, int, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto& link = Of(user);
    const auto it = link.calls_.find(frame->hd.stream_id);
    if (it == link.calls_.end()) return 0;
    auto call = std::move(it->second);
    link.calls_.erase(it);
    call->closed = true;
    call->refused = true;
    call->Wake();
    if (link.calls_.empty()) link.idle_since_ = Clock::now();
    return 0;
  }

  static ssize_t ReadBody(nghttp2_session* session, std::int32_t id, std::uint8_t* buf, std::size_t length,
                          std::uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* call = static_cast<Call*>(source->ptr);
    bool pull = false;
    const auto n = ProvideBody(call->out, session, id, buf, length, flags, pull);
    if (pull) call->send_wake.cancel();  // its pump pulls the next piece
    return n;
  }

  // What it needs of the pool's options (a connection may outlive its pool by a moment).
  struct Options {
    std::chrono::milliseconds connect_timeout, request_timeout;
    std::uint32_t h2_streams_per_connection;
  } options_;
  net::any_io_executor ex_;
  std::shared_ptr<SSL_CTX> tls_ctx_;  ///< null: h2c
  PlainStream stream_;                ///< connects; carries the session when in the clear
  std::unique_ptr<TlsStream> tls_;    ///< carries it over TLS
  nghttp2_session* session_ = nullptr;
  std::unordered_map<std::int32_t, std::shared_ptr<Call>> calls_;  ///< open (or waiting to open)
  std::string out_;
  net::steady_timer writer_wake_;
  bool writer_waiting_ = false, flush_ = false;
  bool dead_ = false, goaway_ = false, connect_failed_ = false;
  std::string error_;
  Clock::time_point idle_since_{};
};

// The answer's body as it arrives: a piece per pull, its window given back as it is handed out.
class AnswerBody final : public BodyStream {
 public:
  AnswerBody(std::shared_ptr<Link> link, std::shared_ptr<Call> call, std::chrono::milliseconds timeout,
             std::string upstream)
      : link_(std::move(link)), call_(std::move(call)), timeout_(timeout), upstream_(std::move(upstream)) {
    const auto cl = call_->answer.Header("content-length");
    std::uint64_t n = 0;
    const auto r = std::from_chars(cl.data(), cl.data() + cl.size(), n);
    if (!cl.empty() && r.ec == std::errc() && r.ptr == cl.data() + cl.size()) length_ = n;
  }
  ~AnswerBody() override {
    // Read to its end or not, nobody reads on: what is held goes back, a stream still open is
    // cancelled (the client went away; the upstream stops working for it).
    call_->dropped = true;
    link_->Consume(*call_, call_->in.size());
    call_->in.clear();
    link_->Reset(*call_, call_->in_done ? NGHTTP2_NO_ERROR : NGHTTP2_CANCEL);
  }
  AnswerBody(const AnswerBody&) = delete;
  AnswerBody& operator=(const AnswerBody&) = delete;

  std::optional<std::uint64_t> length() const override { return length_; }
  BodyStatus status() const override { return status_; }
  std::uint64_t consumed() const override { return consumed_; }
  const Headers* trailers() const override {
    return status_ == BodyStatus::kOk && call_->in_done && call_->in.empty() && !call_->trailers.empty() ? &call_->trailers
                                                                                                         : nullptr;
  }

  Task<std::string_view> Next() override {
    piece_.clear();
    if (status_ != BodyStatus::kOk) co_return std::string_view();
    Call& call = *call_;
    while (call.in.empty()) {
      if (call.in_done) co_return std::string_view();
      if (call.closed) {
        Failed("the upstream reset the stream (code " + std::to_string(call.close_code) + ")");
        co_return std::string_view();
      }
      if (!co_await WaitOn(call.wake, Clock::now() + timeout_) && call.in.empty() && !call.in_done && !call.closed) {
        Failed("timed out");
        link_->Reset(call, NGHTTP2_CANCEL);
        co_return std::string_view();
      }
    }
    const std::size_t n = std::min(call.in.size(), kBodyPiece);
    piece_.assign(call.in, 0, n);
    call.in.erase(0, n);
    link_->Consume(call, n);
    consumed_ += n;
    co_return std::string_view(piece_);
  }

 private:
  void Failed(const std::string& why) {
    status_ = BodyStatus::kFailed;
    obs::Warn("upstream answer failed midway", {{"upstream", upstream_}, {"error", why}, {"received_bytes", consumed_}});
  }

  std::shared_ptr<Link> link_;
  std::shared_ptr<Call> call_;
  std::chrono::milliseconds timeout_;
  std::string upstream_;
  std::optional<std::uint64_t> length_;
  std::string piece_;
  BodyStatus status_ = BodyStatus::kOk;
  std::uint64_t consumed_ = 0;
};

// The request's streamed body, pulled piece by piece as nghttp2 takes the last (each piece
// within `timeout` of being offered), until it ends, fails, or the stream closes.
Task<void> Pump(std::shared_ptr<Link> link, std::shared_ptr<Call> call, BodyStream& body,
                std::chrono::milliseconds timeout) {
  call->pumping = true;
  while (!call->closed) {
    if (call->out.pending()) {  // nghttp2 has not taken the last piece yet
      if (!co_await WaitOn(call->send_wake, Clock::now() + timeout) && call->out.pending() && !call->closed) {
        call->pump_timed_out = true;
        link->Reset(*call, NGHTTP2_CANCEL);
        break;
      }
      continue;
    }
    if (call->out.eof) break;
    const auto piece = co_await body.Next();
    if (call->closed) break;  // the upstream is done with it (answered, or reset)
    call->out.piece = piece;
    call->out.offset = 0;
    if (!piece.empty()) {
      call->pulled = true;
    } else if (body.status() != BodyStatus::kOk) {
      call->body_failed = body.status();
      link->Reset(*call, NGHTTP2_CANCEL);
      break;
    } else {
      call->out.eof = true;
      if (const Headers* t = body.trailers(); t != nullptr && !t->empty()) {
        call->trailers_out = *t;  // (the body may be gone by the time they are sent)
        call->out.trailers = &call->trailers_out;
      }
    }
    link->Resume(*call);
  }
  call->out.piece = {};  // the piece is the body's: not read past here
  call->out.offset = 0;
  call->pumping = false;
  call->wake.cancel();
}

// A pump that outlives the caller's Call (a stream both ways): it keeps the body valid.
Task<void> OwnedPump(std::shared_ptr<Link> link, std::shared_ptr<Call> call, BodyStream* body,
                     std::shared_ptr<void> owner, std::chrono::milliseconds timeout) {
  co_await Pump(std::move(link), std::move(call), *body, timeout);
  owner.reset();
}

void SpawnPump(const net::any_io_executor& ex, std::shared_ptr<Link> link, std::shared_ptr<Call> call, BodyStream* body,
               std::shared_ptr<void> owner, std::chrono::milliseconds timeout) {
  net::co_spawn(ex, OwnedPump(std::move(link), std::move(call), body, std::move(owner), timeout),
                LogException{"h2 upstream body"});
}

// Fields the pool writes itself, or that mean nothing on HTTP/2.
bool Dropped(std::string_view name) {
  return ConnectionSpecific(name) || NameEquals(name, "host") || NameEquals(name, "te") ||
         NameEquals(name, "expect") || (!name.empty() && name[0] == ':');
}

}  // namespace
}  // namespace detail

using namespace detail;

struct H2UpstreamPool::Impl : std::enable_shared_from_this<H2UpstreamPool::Impl> {
  Impl(net::io_context& io, const UpstreamOptions& o, std::shared_ptr<SSL_CTX> t, std::string n,
       std::shared_ptr<std::atomic<std::uint64_t>> e)
      : executor(io.get_executor()), options(o), tls(std::move(t)), name(std::move(n)), endpoints(1 + o.more.size(), o.health),
        ejections(std::move(e)) {
    for (const auto& ep : o.Endpoints()) targets.push_back({ep, Authority(ep), {}});
  }

  struct Target {
    Endpoint endpoint;
    std::string authority;
    std::vector<std::shared_ptr<Link>> links;
  };
  net::any_io_executor executor;
  UpstreamOptions options;
  std::shared_ptr<SSL_CTX> tls;  ///< the pool's, every loop's (null: h2c)
  std::string name;
  std::deque<Target> targets;
  EndpointSet endpoints;
  std::shared_ptr<std::atomic<std::uint64_t>> ejections;

  // The least loaded connection with room; a new one while there are fewer than the cap; else
  // the least loaded (nghttp2 holds a stream past the upstream's limit until one closes).
  std::shared_ptr<Link> PickLink(Target& t) {
    const auto now = Clock::now();
    std::erase_if(t.links, [&](const std::shared_ptr<Link>& l) {
      if (l->dead()) return true;
      if (l->active() == 0 && (!l->usable() || now - l->idle_since() >= options.idle_ttl)) {
        l->Retire();
        return true;
      }
      return false;
    });
    std::shared_ptr<Link> best, least;
    for (const auto& l : t.links) {
      if (!l->usable()) continue;
      if (!least || l->active() < least->active()) least = l;
      if (l->active() < l->capacity() && (!best || l->active() < best->active())) best = l;
    }
    if (best) return best;
    if (least && t.links.size() >= options.h2_max_connections) return least;
    auto link = Link::Open(executor, options, t.endpoint, tls);
    if (link) t.links.push_back(link);
    return link;
  }

  Task<ClientResult> Call(ClientRequest req) {
    auto self = shared_from_this();
    ClientResult result;
    try {
      co_await Exchange(req, result);
    } catch (const std::exception& e) {
      result = {};
      result.status = ClientResult::Status::kFailed;
      result.error = std::string("request: ") + e.what();
    }
    co_return result;
  }

  Task<void> Exchange(ClientRequest& req, ClientResult& result) {
    if (!Frameable(req) || req.method == "CONNECT" || !req.upgrade.empty()) {
      result.status = ClientResult::Status::kFailed;
      result.error = "request: cannot be framed (method, target, an upgrade or a TRACE with content)";
      co_return;
    }
    const std::size_t attempts = std::max<std::size_t>(2, targets.size());
    for (std::size_t attempt = 0; attempt < attempts; ++attempt) {
      const auto choice = endpoints.Pick(Clock::now());
      if (!choice) {
        result.status = ClientResult::Status::kUnavailable;
        result.error = "every endpoint ejected (circuit open)";
        result.retry_after = endpoints.RetryAfter(Clock::now());
        co_return;
      }
      const bool retry = co_await Attempt(targets[choice->index], req, result);
      ReportOutcome(endpoints, choice->index, result, name, targets[choice->index].authority, *ejections);
      if (!retry) co_return;
    }
  }

  static void Fail(ClientResult& r, ClientResult::Status status, std::string error) {
    r.response = {};
    r.status = status;
    r.error = std::move(error);
  }

  // One try on one endpoint; true when the request may be sent again (nobody acted on it).
  Task<bool> Attempt(Target& target, ClientRequest& req, ClientResult& result) {
    auto link = PickLink(target);
    if (!link) {
      Fail(result, ClientResult::Status::kFailed, "http/2: no session");
      co_return false;
    }
    auto call = std::make_shared<detail::Call>(executor);
    FieldList fields;
    fields.Push(":method", req.method);
    fields.Push(":scheme", tls ? "https" : "http");
    fields.Push(":authority", target.authority);
    fields.Push(":path", req.target);
    for (const auto& [k, v] : req.headers)
      if (!Dropped(k)) fields.Add(k, v);
    // The lines a proxy rendered ahead ("name: value\r\n" each, AppendHeaderLine's).
    for (std::string_view lines = req.header_lines; !lines.empty();) {
      const auto end = lines.find("\r\n");
      const auto line = lines.substr(0, end);
      lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 2);
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const auto field = line.substr(0, colon);
      if (!Dropped(field)) fields.Add(field, core::TrimSpace(line.substr(colon + 1)));
    }
    fields.Push("te", "trailers");  // the only value HTTP/2 allows; gRPC servers require it
    const bool streamed = req.body_stream != nullptr;
    if (streamed) {
      if (const auto length = req.body_stream->length()) fields.Push("content-length", fields.Number(*length), false);
    } else {
      if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH")
        fields.Push("content-length", fields.Number(req.body.size()), false);
      call->body = req.body;  // a copy: a retry sends it again
      call->out.piece = call->body;
      call->out.eof = true;
    }
    const bool with_body = streamed || !call->body.empty();
    if (const auto rv = link->Submit(fields, call, with_body); rv < 0) {
      Fail(result, ClientResult::Status::kFailed, std::string("http/2: ") + nghttp2_strerror(rv));
      co_return false;
    }
    const auto timeout = req.timeout.value_or(options.request_timeout);
    if (streamed) {
      if (req.body_owner) {
        SpawnPump(executor, link, call, req.body_stream, req.body_owner, timeout);
      } else {
        co_await Pump(link, call, *req.body_stream, timeout);
      }
    }
    // The answer's head.
    const auto deadline = Clock::now() + timeout;
    while (!call->head && !call->closed) {
      if (!co_await WaitOn(call->wake, deadline) && !call->head && !call->closed) {
        call->dropped = true;
        link->Consume(*call, call->in.size());
        link->Reset(*call, NGHTTP2_CANCEL);
        Fail(result, ClientResult::Status::kTimeout, "read: timed out");
        co_return false;
      }
    }
    if (call->body_failed != BodyStatus::kOk) {
      Fail(result, ClientResult::Status::kBodyFailed, "the request's body failed");
      result.body_status = call->body_failed;
      co_return false;
    }
    if (call->pump_timed_out) {
      Fail(result, ClientResult::Status::kTimeout, "write body: timed out");
      co_return false;
    }
    if (!call->head) {
      const bool again = !call->pulled;  // never processed, and nothing of its body taken
      if (link->connect_failed()) {
        Fail(result, ClientResult::Status::kConnectFailed, "connect " + target.authority + ": " + link->error());
        co_return again && targets.size() > 1;
      }
      if (call->refused) {
        Fail(result, ClientResult::Status::kFailed, "http/2: stream refused by the upstream");
        co_return again;
      }
      Fail(result, ClientResult::Status::kFailed,
           link->dead() ? "http/2: " + link->error()
                        : "http/2: stream reset by the upstream (code " + std::to_string(call->close_code) + ")");
      co_return false;
    }
    result.status = ClientResult::Status::kOk;
    result.error.clear();
    result.response = std::move(call->answer);
    if (!req.stream_response) {
      // Held whole, under the cap; its window given back as it comes (each wait within the
      // timeout).
      std::size_t given = 0;
      while (!call->in_done && !call->closed && call->in.size() <= options.max_response_body) {
        link->Consume(*call, call->in.size() - given);
        given = call->in.size();
        if (!co_await WaitOn(call->wake, Clock::now() + timeout) && call->in.size() == given && !call->in_done) break;
      }
      if (!call->in_done || call->in.size() > options.max_response_body) {
        call->dropped = true;
        link->Consume(*call, call->in.size() - given);
        call->in.clear();
        link->Reset(*call, NGHTTP2_CANCEL);
        Fail(result, ClientResult::Status::kFailed, "read body: incomplete, too long or too slow");
        co_return false;
      }
      link->Consume(*call, call->in.size() - given);
      result.response.body = std::move(call->in);
      call->in.clear();
      result.response.trailers = std::move(call->trailers);
      co_return false;
    }
    if (call->in_done) {  // the whole answer came with its head
      result.response.body = std::move(call->in);
      link->Consume(*call, result.response.body.size());
      call->in.clear();
      result.response.trailers = std::move(call->trailers);
      co_return false;
    }
    result.response.body_stream = std::make_shared<AnswerBody>(link, call, timeout, name);
    co_return false;
  }
};

H2UpstreamPool::H2UpstreamPool(const Loops& loops, UpstreamOptions options)
    : name_(options.host + ":" + std::to_string(options.port)),
      ejections_(std::make_shared<std::atomic<std::uint64_t>>(0)) {
  std::shared_ptr<SSL_CTX> tls;
  if (options.tls) {
    std::string error;
    tls = NewClientContext(options.tls_ca_file, std::string_view("\x02h2", 3), error);
    if (!tls) throw std::invalid_argument("upstream " + name_ + ": " + error);
  }
  for (auto* loop : loops) impls_.push_back(std::make_shared<Impl>(*loop, options, tls, name_, ejections_));
}
H2UpstreamPool::~H2UpstreamPool() = default;

std::uint64_t H2UpstreamPool::ejections() const { return ejections_->load(); }

Task<ClientResult> H2UpstreamPool::Call(ClientRequest request) {
  return ForThisLoop(impls_)->Call(std::move(request));
}

std::unique_ptr<Upstream> MakeUpstream(const Loops& loops, UpstreamOptions options) {
  if (options.http2) return std::make_unique<H2UpstreamPool>(loops, std::move(options));
  return std::make_unique<UpstreamPool>(loops, std::move(options));
}

}  // namespace suite::http
