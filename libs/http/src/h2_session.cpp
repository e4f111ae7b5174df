// One connection's HTTP/2 (RFC 9113) exchanges, with libnghttp2 doing the framing, HPACK and
// flow-control bookkeeping, and this file the rest: each stream becomes a Request on the same
// handler as an HTTP/1.1 request (so every filter applies to it unchanged), its body read as the
// handler pulls it (the window follows what the handler takes), its answer's body sent as its
// source gives it (deferred while it has nothing), and every flood an attacker can try bounded
// by a budget of our own, counted by reason (http2_refusals_total).
//
// On the connection's loop, three coroutines and one per stream:
//  - the reader waits for the socket to be readable, reads what is there into the loop's one
//    buffer and hands it to nghttp2 at once (an idle connection holds no read buffer);
//  - the writer gathers what nghttp2 has to send into one write;
//  - the watch keeps the timeouts (preface, a header block left open, idleness, a window held
//    at zero);
//  - a stream's coroutine runs the handler, then sends the answer.
// The connection's state lives until every one of them has ended.
#include <nghttp2/nghttp2.h>

#include <boost/asio.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "exchange.hpp"
#include "h2_fields.hpp"
#include "head_writer.hpp"
#include "server_core.hpp"
#include "suite/core/ids.hpp"
#include "suite/core/json.hpp"
#include "suite/http/router.hpp"

namespace suite::http::detail {

namespace {

using Clock = std::chrono::steady_clock;
using core::ErrorCode;
using obs::H2Refusal;

constexpr std::size_t kReadBuffer = 16 * 1024;
constexpr std::size_t kWriteGather = 64 * 1024;  ///< what one write takes from nghttp2, at most
constexpr int kReadsPerTurn = 16;                ///< then the loop's other connections get a turn
// What of an upload is still taken (and dropped) after its answer, as HTTP/1.1's lingering
// close does (session.cpp's Discard): then the stream is reset.
constexpr std::chrono::seconds kLinger{5};
constexpr std::uint64_t kLingerBytes = 128u << 20;

// The loop's one read buffer: filled and handed to nghttp2 with no suspension in between.
char* ReadBuffer() {
  thread_local std::array<char, kReadBuffer> buffer;
  return buffer.data();
}

// A token bucket: `burst` tokens at most, `rate` more a second, one taken per event.
class Budget {
 public:
  Budget(double burst, double rate) : burst_(burst), rate_(rate), tokens_(burst), at_(Clock::now()) {}
  bool Take() {
    const auto now = Clock::now();
    tokens_ = std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - at_).count());
    at_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }
  void Credit() { tokens_ = std::min(burst_, tokens_ + 1); }

 private:
  double burst_, rate_, tokens_;
  Clock::time_point at_;
};

struct Stream {
  Stream(const net::any_io_executor& ex, std::int32_t id, std::size_t& live)
      : id(id), wake(ex), body_wake(ex), live(live) {
    ++live;
  }
  ~Stream() { --live; }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  const std::int32_t id;
  RequestPtr req = std::make_shared<Request>();
  std::size_t header_bytes = 0;
  bool too_large = false;        ///< the header list passed the limit: answered 431
  const char* malformed = nullptr;  ///< why the request is refused with 400, if it is
  std::string_view authority;
  bool started = false;          ///< its coroutine runs
  // The request's body: what arrived and the handler has not taken (its window not given back).
  std::string in;
  bool in_done = false;          ///< END_STREAM came
  bool body_taken = true;        ///< the handler reads no more: what arrives is dropped
  Headers trailers_in;           ///< the request's trailers, if it sent any
  bool expects_continue = false;
  // The answer's body: the piece being sent (valid until the next pull from its source).
  OutgoingBody out;
  bool answered = false;         ///< its answer was submitted
  Clock::time_point stalled{};   ///< since when data waits on a window at zero (or epoch)
  bool closed = false;
  // An upload still coming once the answer is complete: dropped until then, then reset.
  Clock::time_point linger_until{};
  std::uint64_t dropped = 0;
  bool reset = false;
  void Reset(nghttp2_session* session, std::uint32_t code) {
    reset = true;
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, code);
  }
  net::steady_timer wake;        ///< the stream's coroutine waits on it; cancel() wakes it
  /// The body's reader waits on its own: it may read on while the answer is sent (a stream both
  /// ways), and two waiters setting one timer would cancel each other's wait.
  net::steady_timer body_wake;
  void Wake() {
    wake.cancel();
    body_wake.cancel();
  }
  std::size_t& live;
};

template <class Transport>
class Connection : public std::enable_shared_from_this<Connection<Transport>> {
 public:
  Connection(ServerCore& core, Transport& stream, SessionHandle& handle, const std::string& remote_ip, bool secure)
      : core_(core), h2_(core.options.http2), stream_(stream), handle_(handle), remote_ip_(remote_ip),
        secure_(secure), ex_(stream.get_executor()), writer_wake_(ex_), watch_wake_(ex_), done_(ex_),
        resets_(h2_.reset_burst, h2_.resets_per_second), control_(h2_.control_burst, h2_.control_per_second) {}
  ~Connection() {
    if (session_ != nullptr) nghttp2_session_del(session_);
  }

  static Task<void> Run(std::shared_ptr<Connection> self, std::string preread) {
    if (!self->Setup()) co_return;
    self->RegisterDrain();
    Launch(self);
    const bool fed =
        preread.empty() || self->Feed(reinterpret_cast<const std::uint8_t*>(preread.data()), preread.size());
    preread = std::string();
    if (fed) co_await Reader(self);
    self->EndReading();
    // Every coroutine holding the connection ends before its transport (and the server's core)
    // does.
    while (!self->writer_done_ || !self->watch_done_ || !self->running_.empty()) {
      self->done_.expires_at(Clock::time_point::max());
      co_await self->done_.async_wait(net::as_tuple(net::use_awaitable));
    }
    {
      std::lock_guard lock(self->core_.mu);
      self->handle_.drain = nullptr;
    }
  }

 private:
  using Self = std::shared_ptr<Connection>;

  // Spawned from plain functions: GCC 12 mishandles co_spawn's arguments inside a coroutine.
  static void Launch(const Self& self) {
    net::co_spawn(self->ex_, Writer(self), LogException{"h2 writer"});
    net::co_spawn(self->ex_, Watch(self), LogException{"h2 watch"});
  }

  // ---- setup --------------------------------------------------------------------------------

  bool Setup() {
    nghttp2_session_callbacks* cb = nullptr;
    if (nghttp2_session_callbacks_new(&cb) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, OnBeginFrame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cb, OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, OnFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, OnDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, OnStreamClose);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, OnFrameSend);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, OnInvalidFrame);
    nghttp2_option* opt = nullptr;
    if (nghttp2_option_new(&opt) != 0) {
      nghttp2_session_callbacks_del(cb);
      return false;
    }
    // The window follows what handlers take (nghttp2_session_consume), not what arrives.
    nghttp2_option_set_no_auto_window_update(opt, 1);
    // nghttp2's own limits stay behind ours (ours are checked first, in OnBeginFrame, and count
    // by reason): a backstop, never the first to trip.
    nghttp2_option_set_max_continuations(opt, h2_.max_continuations + 1);
    nghttp2_option_set_stream_reset_rate_limit(opt, h2_.reset_burst + 1, h2_.resets_per_second + 1);
    nghttp2_option_set_max_settings(opt, 64);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    // Closed streams are kept only for RFC 7540's priority tree, which we turned off.
    nghttp2_option_set_no_closed_streams(opt, 1);
    const int rv = nghttp2_session_server_new2(&session_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) return false;
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h2_.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, h2_.stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(core_.options.header_limit)},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0) return false;
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, static_cast<std::int32_t>(h2_.connection_window));
    stream_.expires_never();
    started_ = last_active_ = Clock::now();
    return true;
  }

  void RegisterDrain() {
    std::weak_ptr<Connection> weak = this->shared_from_this();
    std::lock_guard lock(core_.mu);
    handle_.drain = [weak, ex = ex_] {
      net::post(ex, [weak] {
        if (auto self = weak.lock()) self->GoAway();
      });
    };
    if (core_.draining) handle_.drain();
  }

  // ---- reading ------------------------------------------------------------------------------

  static Task<void> Reader(Self self) {
    int reads = 0;
    while (!self->finishing_) {
      boost::system::error_code ec;
      const std::size_t n = self->stream_.ReadNow(ReadBuffer(), kReadBuffer, ec);
      if (ec == net::error::would_block) {
        reads = 0;
        auto [wec] = co_await self->stream_.socket().async_wait(tcp::socket::wait_read, net::as_tuple(net::use_awaitable));
        if (wec) break;
        continue;
      }
      if (ec || n == 0) break;
      if (!self->Feed(reinterpret_cast<const std::uint8_t*>(ReadBuffer()), n)) break;
      if (++reads == kReadsPerTurn) {
        reads = 0;
        co_await net::post(self->ex_, net::use_awaitable);
      }
    }
  }

  // Hands bytes to nghttp2 (its callbacks run inside); false when the connection is ending.
  bool Feed(const std::uint8_t* data, std::size_t n) {
    last_active_ = Clock::now();
    const auto rv = nghttp2_session_mem_recv(session_, data, n);
    if (rv < 0) {
      if (!refused_) {
        refused_ = true;
        if (rv != NGHTTP2_ERR_BAD_CLIENT_MAGIC) core_.metrics.H2Refused(H2Refusal::kProtocolError);
      }
      if (rv != NGHTTP2_ERR_CALLBACK_FAILURE) nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
      Kick();
      return false;
    }
    Kick();
    return nghttp2_session_want_read(session_) != 0 || nghttp2_session_want_write(session_) != 0;
  }

  // ---- writing ------------------------------------------------------------------------------

  void Kick() {
    flush_ = true;
    if (writer_waiting_) writer_wake_.cancel();
  }

  static Task<void> Writer(Self self) {
    for (;;) {
      self->flush_ = false;
      if (!self->Gather()) break;
      if (!self->out_.empty()) {
        self->stream_.expires_after(self->core_.options.write_timeout);
        auto [ec, n] = co_await net::async_write(self->stream_, net::buffer(self->out_), net::as_tuple(net::use_awaitable));
        self->stream_.expires_never();
        if (ec) {
          if (ec == boost::beast::error::timeout) self->core_.metrics.H2Refused(H2Refusal::kSlowRead);
          break;
        }
        continue;
      }
      // Nothing to send: the connection is done when both sides are (GOAWAY sent, no stream
      // left), or when the reader ended.
      if (self->finishing_ || self->reading_done_) break;
      if (nghttp2_session_want_read(self->session_) == 0 && nghttp2_session_want_write(self->session_) == 0) break;
      if (self->closing_ && self->live_ == 0) break;
      if (self->flush_) continue;
      self->writer_waiting_ = true;
      self->writer_wake_.expires_at(Clock::time_point::max());
      co_await self->writer_wake_.async_wait(net::as_tuple(net::use_awaitable));
      self->writer_waiting_ = false;
    }
    self->writer_done_ = true;
    self->Finish();
  }

  // What nghttp2 has to send, up to a write's worth; false on a fatal error.
  bool Gather() {
    if (finishing_) {
      out_.clear();
      return true;
    }
    return GatherOutput(session_, out_, kWriteGather);
  }

  // ---- the end ------------------------------------------------------------------------------

  // The connection is over (its reader ended, its writer failed, or both sides said GOAWAY):
  // every waiting coroutine wakes and finds it so.
  void Finish() {
    if (!finishing_) {
      finishing_ = true;
      stream_.cancel();
      for (auto& [id, s] : streams_) s->Wake();
      for (auto& s : running_) s->Wake();
      writer_wake_.cancel();
      watch_wake_.cancel();
    }
    done_.cancel();
  }

  // The reader ended (the client closed, or a limit or an error ended the session): what is
  // queued (a GOAWAY) goes out, then the connection ends.
  void EndReading() {
    reading_done_ = true;
    closing_ = true;
    Kick();
    if (writer_done_) Finish();
  }

  // A graceful GOAWAY: the streams open finish, no new one starts.
  void GoAway() {
    if (finishing_ || session_ == nullptr || closing_) return;
    closing_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    Kick();
  }

  // A limit tripped: counted once per connection, then GOAWAY ENHANCE_YOUR_CALM.
  int Refuse(H2Refusal why) {
    if (!refused_) {
      refused_ = true;
      core_.metrics.H2Refused(why);
      obs::Info("http/2 connection refused", {{"client", remote_ip_}, {"reason", obs::H2RefusalLabel(why)}});
    }
    nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
    Kick();
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }

  // ---- the watch ----------------------------------------------------------------------------

  static Task<void> Watch(Self self) {
    while (!self->finishing_) {
      const auto next = self->Check();
      if (self->finishing_) break;
      self->watch_long_ = next > Clock::now() + std::chrono::seconds(1);
      self->watch_wake_.expires_at(next);
      co_await self->watch_wake_.async_wait(net::as_tuple(net::use_awaitable));
    }
    self->watch_done_ = true;
    self->done_.cancel();
  }

  // Applies the timeouts due now; returns when to look again.
  Clock::time_point Check() {
    const auto now = Clock::now();
    const auto& o = core_.options;
    // The client's preface and first SETTINGS within the header timeout from accept.
    if (!preface_seen_) {
      if (now >= started_ + o.header_timeout) {
        Finish();
        return now;
      }
      return started_ + o.header_timeout;
    }
    // A header block must end: nothing else may come on the connection until it does.
    if (block_open_) {
      if (now >= block_started_ + o.header_timeout) {
        Refuse(H2Refusal::kStreamIdle);
        return now + std::chrono::seconds(1);
      }
    }
    if (live_ == 0) {
      // Idle: the write buffer goes (an idle connection holds nothing of ours but its state).
      if (writer_waiting_ && out_.capacity() > 0) std::string().swap(out_);
      if (closing_) {  // GOAWAY said, nothing left: the writer ends the connection
        Kick();
        return now + std::chrono::seconds(1);
      }
      const auto idle_at = last_active_ + (core_.draining ? o.drain_idle_grace : o.idle_timeout);
      if (now >= idle_at) {
        GoAway();
        return now + std::chrono::seconds(1);
      }
      return block_open_ ? std::min(idle_at, block_started_ + o.header_timeout) : idle_at;
    }
    // An answer held by a window at zero (the client reads nothing) past the write timeout.
    for (auto& [id, s] : streams_) {
      const bool blocked = s->answered && s->out.pending() &&
                           (nghttp2_session_get_stream_remote_window_size(session_, id) <= 0 ||
                            nghttp2_session_get_remote_window_size(session_) <= 0);
      if (!blocked) {
        s->stalled = {};
      } else if (s->stalled == Clock::time_point{}) {
        s->stalled = now;
      } else if (now >= s->stalled + o.write_timeout) {
        core_.metrics.H2Refused(H2Refusal::kSlowRead);
        nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        s->stalled = {};
        Kick();
      }
    }
    return now + std::chrono::seconds(1);
  }

  // ---- nghttp2's callbacks ------------------------------------------------------------------

  static Connection& Of(void* user) { return *static_cast<Connection*>(user); }

  // Every frame's header, before nghttp2 acts on the frame: the flood budgets.
  static int OnBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user) {
    auto& c = Of(user);
    c.preface_seen_ = true;
    const bool end_stream = (hd->flags & NGHTTP2_FLAG_END_STREAM) != 0;
    // Frames that carry nothing (no payload, nothing ended) cost us a callback each for free.
    if (hd->length == 0 && !end_stream &&
        (hd->type == NGHTTP2_DATA || hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_CONTINUATION)) {
      if (++c.empty_ > c.h2_.max_empty_frames) return c.Refuse(H2Refusal::kEmptyFrames);
    } else if (hd->length > 0) {
      c.empty_ = 0;
    }
    switch (hd->type) {
      case NGHTTP2_HEADERS:
        c.continuations_ = 0;
        c.block_open_ = (hd->flags & NGHTTP2_FLAG_END_HEADERS) == 0;
        if (c.block_open_) c.block_started_ = Clock::now();
        break;
      case NGHTTP2_CONTINUATION:
        if (++c.continuations_ > c.h2_.max_continuations) return c.Refuse(H2Refusal::kContinuationFlood);
        if (hd->flags & NGHTTP2_FLAG_END_HEADERS) c.block_open_ = false;
        break;
      case NGHTTP2_RST_STREAM:
        if (!c.resets_.Take()) return c.Refuse(H2Refusal::kRapidReset);
        break;
      case NGHTTP2_SETTINGS:
        if (!(hd->flags & NGHTTP2_FLAG_ACK) && !c.control_.Take()) return c.Refuse(H2Refusal::kSettingsFlood);
        break;
      case NGHTTP2_PING:
        if (!(hd->flags & NGHTTP2_FLAG_ACK) && !c.control_.Take()) return c.Refuse(H2Refusal::kPingFlood);
        break;
      case NGHTTP2_DATA:
      case NGHTTP2_GOAWAY:
        break;
      default:  // PRIORITY, WINDOW_UPDATE, PUSH_PROMISE (refused by nghttp2), unknown
        if (!c.control_.Take()) return c.Refuse(H2Refusal::kControlFlood);
        break;
    }
    return 0;
  }

  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto& c = Of(user);
    // Streams whose handlers still run after a reset count too: resetting requests frees
    // nothing of ours.
    if (c.live_ >= c.h2_.max_concurrent_streams || c.closing_) {
      if (!c.closing_) c.core_.metrics.H2Refused(H2Refusal::kTooManyStreams);
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    auto s = std::make_shared<Stream>(c.ex_, frame->hd.stream_id, c.live_);
    s->req->headers.reserve(16);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s.get());
    c.streams_.emplace(frame->hd.stream_id, std::move(s));
    c.control_.Credit();
    return 0;
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const std::uint8_t* name_p,
                      std::size_t namelen, const std::uint8_t* value_p, std::size_t valuelen, std::uint8_t,
                      void* user) {
    auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (s == nullptr || frame->hd.type != NGHTTP2_HEADERS) return 0;
    const std::string_view name(reinterpret_cast<const char*>(name_p), namelen);
    const std::string_view value(reinterpret_cast<const char*>(value_p), valuelen);
    auto& c = Of(user);
    // RFC 9113 6.5.2's accounting: name, value and 32 octets per field. Past the limit the rest
    // is decoded (HPACK's state must follow) but not kept: an HPACK bomb costs its decoding only.
    s->header_bytes += namelen + valuelen + 32;
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      // The request's trailers (after its body; nghttp2 refused pseudo-fields in them), under
      // the same limit as its head: past it they are dropped, the request goes on.
      if (s->header_bytes <= c.core_.options.header_limit && !ConnectionSpecific(name))
        s->trailers_in.emplace_back(name, value);
      return 0;
    }
    if (s->too_large || s->header_bytes > c.core_.options.header_limit) {
      s->too_large = true;
      return 0;
    }
    Request& req = *s->req;
    if (!name.empty() && name[0] == ':') {
      if (name == ":method") req.method.assign(value);
      else if (name == ":path") req.target.assign(value);
      else if (name == ":authority") s->authority = req.Keep(value);
      return 0;
    }
    if (name == "cookie") {  // RFC 9113 8.2.3: crumbs joined again for HTTP/1.1 semantics
      for (auto& [k, v] : req.headers)
        if (k == "cookie") {
          std::string joined(v);
          joined += "; ";
          joined += value;
          v = req.Keep(joined);
          return 0;
        }
    }
    if (name == "expect" && core::AsciiEqualsIgnoreCase(value, "100-continue")) s->expects_continue = true;
    req.headers.emplace_back(req.Keep(name), req.Keep(value));
    return 0;
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto& c = Of(user);
    if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) c.preface_seen_ = true;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (s == nullptr) return 0;
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
      s->in_done = true;
      s->Wake();
    }
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) c.Start(*s);
    return 0;
  }

  static int OnDataChunk(nghttp2_session* session, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                         std::size_t len, void*) {
    auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, id));
    if (s == nullptr || s->body_taken) {  // nobody reads it: its window comes back at once
      nghttp2_session_consume(session, id, len);
      if (s != nullptr && (s->dropped += len) > kLingerBytes && s->linger_until != Clock::time_point{} && !s->reset)
        s->Reset(session, NGHTTP2_NO_ERROR);
      return 0;
    }
    s->in.append(reinterpret_cast<const char*>(data), len);
    s->body_wake.cancel();
    return 0;
  }

  static int OnStreamClose(nghttp2_session* session, std::int32_t id, std::uint32_t, void* user) {
    auto& c = Of(user);
    auto it = c.streams_.find(id);
    if (it == c.streams_.end()) return 0;
    auto s = std::move(it->second);
    c.streams_.erase(it);
    s->closed = true;
    // What arrived and was never taken still counts against the connection's window.
    if (!s->in.empty()) nghttp2_session_consume_connection(session, s->in.size());
    s->in.clear();
    s->Wake();
    return 0;
  }

  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto& c = Of(user);
    if (frame->hd.type == NGHTTP2_DATA) c.control_.Credit();  // window updates follow what we send
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS)) {
      auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
      // The answer is complete and the request's body still coming. RFC 9113 8.1 lets us stop
      // it with RST_STREAM(NO_ERROR) at once, but clients still uploading (curl 7.88) then drop
      // the answer they were sent. So, as HTTP/1.1's lingering close: the rest is taken and
      // dropped (its window given back) for at most kLinger and kLingerBytes, then the reset.
      if (s != nullptr && !s->in_done) {
        s->linger_until = Clock::now() + kLinger;
        s->wake.cancel();
      }
    }
    return 0;
  }

  static int OnInvalidFrame(nghttp2_session*, const nghttp2_frame*, int lib_error, void* user) {
    // A stream past SETTINGS_MAX_CONCURRENT_STREAMS before the client acknowledged it.
    if (lib_error == NGHTTP2_ERR_REFUSED_STREAM) Of(user).core_.metrics.H2Refused(H2Refusal::kTooManyStreams);
    return 0;
  }

  // ---- a stream -----------------------------------------------------------------------------

  // The request's head is whole: it becomes a request on the handler.
  void Start(Stream& s) {
    auto it = streams_.find(s.id);
    if (it == streams_.end() || s.started) return;
    s.started = true;
    Request& req = *s.req;
    if (!s.too_large) {
      if (req.method.empty() || req.target.empty() || req.method == "CONNECT") {
        s.malformed = "Malformed HTTP request";
      } else if (!s.authority.empty()) {
        // RFC 9113 8.3.1: :authority stands for Host; one that differs is refused.
        const auto host = req.Header("host");
        if (host.empty()) req.headers.emplace_back("host", s.authority);
        else if (host != s.authority) s.malformed = "Host and :authority differ";
      }
    }
    CompleteRequest(req, remote_ip_, secure_, true, false);
    req.http2 = true;
    handle_.idle.store(false, std::memory_order_relaxed);
    if (watch_long_) watch_wake_.cancel();  // the watch ticks while streams run
    running_.push_back(it->second);
    net::co_spawn(ex_, RunStream(this->shared_from_this(), it->second), LogException{"h2 stream"});
  }

  // Serialized by the loop: the handler, the answer, its body; ends when the stream closes.
  static Task<void> RunStream(Self self, std::shared_ptr<Stream> s) {
    ++self->core_.active;
    self->core_.metrics.in_flight().Increment();
    Response res = co_await Handle(self, s);
    if (res.status == 101 || res.upgraded)  // HTTP/2 has no upgrade (RFC 9113 8.6)
      res = Response::Error(ErrorCode::kUpstreamUnavailable, "Invalid upgrade answer", s->req->request_id);
    co_await Answer(self, s, res);
    ObserveExchange(self->core_.metrics, *s->req, res);
    --self->core_.active;
    self->core_.metrics.in_flight().Decrement();
    std::erase(self->running_, s);
    s.reset();
    if (self->live_ == 0) {
      self->last_active_ = Clock::now();
      self->handle_.idle.store(true, std::memory_order_relaxed);
      self->watch_wake_.cancel();  // idleness starts now
    }
    self->done_.cancel();
  }

  static Task<Response> Handle(Self self, std::shared_ptr<Stream> s) {
    Connection& c = *self;
    Request& req = *s->req;
    if (s->too_large) {
      c.core_.metrics.H2Refused(H2Refusal::kHeaderListTooLarge);
      co_return Response::Error(ErrorCode::kHeadersTooLarge, "Request header fields too large", req.request_id);
    }
    if (s->malformed != nullptr) co_return Response::Error(ErrorCode::kBadRequest, s->malformed, req.request_id);
    if (req.target.size() > c.core_.options.target_limit)
      co_return Response::Error(ErrorCode::kUriTooLong, "Request URI too long", req.request_id);
    Response res;
    // Shared: a handler that passes the body on as a stream both ways (Request::body_owner)
    // keeps it readable after it answered; the server lets go of it here.
    auto body = std::make_shared<Body>(self, s);
    try {
      res = co_await c.core_.handler(s->req, *body);
    } catch (...) {
      res = ErrorFromException(std::current_exception(), req);
    }
    req.body_owner.reset();
    co_return res;
  }

  // The answer: its head, then its body as its source gives it; returns once the stream closed
  // (the last frame sent, or a reset) or the connection ended.
  static Task<void> Answer(Self self, std::shared_ptr<Stream> s, Response& res) {
    if (s->closed || self->finishing_) co_return;
    const Request& req = *s->req;
    const int code = res.status;
    const bool head = req.method == "HEAD";
    const bool bodiless = (code >= 100 && code < 200) || code == 204 || code == 304;
    BodyStream* const streamed = head || bodiless ? nullptr : res.body_stream.get();
    FieldList fields;
    char status[4];
    std::to_chars(status, status + 3, std::clamp(code, 100, 999));
    fields.Push(":status", std::string_view(status, 3));
    for (const auto& [name, value] : self->core_.extra_fields)
      if (!HasField(res.headers, name)) fields.Push(name, value);
    for (const auto& [k, v] : res.headers)
      if (!ConnectionSpecific(k) && !IsTimingField(k)) fields.Add(k, v);
    fields.Push("x-request-id", req.request_id, false);
    TimingValues timing;
    Timing(req, timing);
    fields.Push("x-response-time", timing.response_time, false);
    fields.Push("x-process-time", timing.process_time, false);
    if (streamed != nullptr) {
      if (const auto length = streamed->length()) fields.Push("content-length", fields.Number(*length), false);
    } else if (head) {  // a HEAD answer describes the GET body
      const auto forwarded = res.Header("content-length");
      fields.Push("content-length", forwarded.empty() ? fields.Number(res.body.size()) : forwarded, false);
    } else if (!bodiless && !res.body.empty()) {
      // None for an empty body: the HEADERS frame ends the stream (gRPC's Trailers-Only form).
      fields.Push("content-length", fields.Number(res.body.size()), false);
    }
    if (!head && !bodiless && !res.trailers.empty()) s->out.trailers = &res.trailers;
    // Trailers need a data provider too: they follow the body, even an empty one.
    const bool has_body = streamed != nullptr || (!head && !bodiless && (!res.body.empty() || s->out.trailers != nullptr));
    if (streamed == nullptr) {
      s->out.piece = res.body;
      s->out.eof = true;
    }
    nghttp2_data_provider provider{};
    provider.source.ptr = s.get();
    provider.read_callback = ReadAnswer;
    if (nghttp2_submit_response(self->session_, s->id, fields.data(), fields.size(), has_body ? &provider : nullptr) != 0) {
      nghttp2_submit_rst_stream(self->session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
      self->Kick();
      co_return;
    }
    s->answered = true;
    self->Kick();
    while (streamed != nullptr && !s->closed && !self->finishing_) {
      // One piece at a time: the next is pulled once nghttp2 has taken the last.
      if (s->out.pending()) {
        s->wake.expires_at(Clock::time_point::max());
        co_await s->wake.async_wait(net::as_tuple(net::use_awaitable));
        continue;
      }
      const auto piece = co_await streamed->Next();
      if (s->closed || self->finishing_) break;
      s->out.piece = piece;
      s->out.offset = 0;
      if (piece.empty()) {
        s->out.eof = true;
        if (streamed->status() == BodyStatus::kOk && s->out.trailers == nullptr) {
          const Headers* t = streamed->trailers();
          if (t != nullptr && !t->empty()) s->out.trailers = t;
        }
        if (streamed->status() != BodyStatus::kOk) {
          obs::Warn("answer body failed midway; resetting the stream", {{"sent_bytes", streamed->consumed()}});
          nghttp2_submit_rst_stream(self->session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        }
      }
      self->Resume(*s);
      if (s->out.eof) break;
    }
    // Until the last frame is out (or the stream is reset): the piece stays valid meanwhile.
    // An upload still coming after the answer is dropped for a while (OnFrameSend), then reset.
    while (!s->closed && !self->finishing_) {
      if (s->linger_until != Clock::time_point{} && Clock::now() >= s->linger_until && !s->reset) {
        s->Reset(self->session_, NGHTTP2_NO_ERROR);
        self->Kick();
      }
      s->wake.expires_at(s->linger_until != Clock::time_point{} && !s->reset ? s->linger_until : Clock::time_point::max());
      co_await s->wake.async_wait(net::as_tuple(net::use_awaitable));
    }
  }

  void Resume(Stream& s) {
    if (s.out.deferred) {
      s.out.deferred = false;
      nghttp2_session_resume_data(session_, s.id);
    }
    Kick();
  }

  static ssize_t ReadAnswer(nghttp2_session* session, std::int32_t id, std::uint8_t* buf, std::size_t length,
                            std::uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* s = static_cast<Stream*>(source->ptr);
    bool pull = false;
    const auto n = ProvideBody(s->out, session, id, buf, length, flags, pull);
    if (pull) s->wake.cancel();  // its coroutine pulls the next piece
    return n;
  }

  // A stream's request body, read as its handler asks (BodyReader) and, when passed on, handed
  // out piece by piece as its reader pulls (BodyStream). The window given back to the client is
  // what the handler took.
  class Body final : public BodyReader, public BodyStream, public std::enable_shared_from_this<Body> {
   public:
    Body(Self c, std::shared_ptr<Stream> s) : self_(std::move(c)), c_(*self_), s_(std::move(s)) {
      if (!s_->in_done) s_->body_taken = false;
    }
    ~Body() override {
      s_->req->body_stream = nullptr;
      // What the handler left: dropped, and its window given back (the answer then resets the
      // rest of the upload).
      s_->body_taken = true;
      if (!s_->in.empty() && !s_->closed) nghttp2_session_consume(c_.session_, s_->id, s_->in.size());
      s_->in.clear();
      c_.Kick();
    }
    Body(const Body&) = delete;
    Body& operator=(const Body&) = delete;

    std::optional<std::uint64_t> content_length() const override {
      const auto v = s_->req->Header("content-length");
      std::uint64_t n = 0;
      const auto r = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size()) return std::nullopt;
      return n;
    }

    Task<Status> Read(std::size_t limit) override {
      if (status_) co_return *status_;
      limit = std::min(limit, c_.core_.options.body_limit);
      status_ = Admit(limit);
      if (*status_ != Status::kOk) co_return *status_;
      Request& req = *s_->req;
      for (;;) {
        if (!s_->in.empty()) {
          Take(s_->in.size());
          if (req.body.empty()) req.body.swap(s_->in);  // no copy for a body that came in one piece
          else req.body += s_->in;
          s_->in.clear();
          if (req.body.size() > limit) co_return *(status_ = Status::kTooLarge);
        }
        if (s_->in_done) co_return *(status_ = Status::kOk);
        if (s_->closed || c_.finishing_) co_return *(status_ = Status::kFailed);
        if (!co_await Wait(c_.core_.options.body_timeout)) co_return *(status_ = Status::kTimedOut);
      }
    }

    Task<Status> Open(std::size_t limit) override {
      if (status_) co_return *status_;
      limit = std::min(limit, c_.core_.options.body_limit);
      const auto cl = content_length();
      if (s_->in_done || (cl && *cl <= kBodyPiece)) co_return co_await Read(limit);
      status_ = Admit(limit);
      if (*status_ != Status::kOk) co_return *status_;
      limit_ = limit;
      streaming_ = true;
      s_->req->body_stream = this;
      s_->req->body_owner = this->shared_from_this();
      co_return Status::kOk;
    }

    BodyStatus status() const override { return streamed_; }
    std::optional<std::uint64_t> length() const override { return content_length(); }
    const Headers* trailers() const override {
      return s_->in_done && s_->in.empty() && !s_->trailers_in.empty() ? &s_->trailers_in : nullptr;
    }
    std::uint64_t consumed() const override { return consumed_; }
    Task<std::string_view> Next() override {
      piece_.clear();
      if (!streaming_ || streamed_ != Status::kOk) co_return std::string_view();
      // Each wait within the body timeout; together within the body timeout plus a second per
      // KiB received (a minimum rate), as an HTTP/1.1 body's.
      const auto timeout = std::chrono::duration_cast<Clock::duration>(c_.core_.options.body_timeout);
      while (s_->in.empty()) {
        if (s_->in_done) co_return std::string_view();
        if (s_->closed || c_.finishing_) {
          streamed_ = Status::kFailed;
          co_return std::string_view();
        }
        const auto budget =
            timeout + std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(consumed_ * 1000 / 1024));
        if (spent_ >= budget) {
          streamed_ = Status::kTimedOut;
          co_return std::string_view();
        }
        const auto started = Clock::now();
        const bool woke = co_await Wait(std::min(timeout, budget - spent_));
        spent_ += Clock::now() - started;
        if (!woke) {
          streamed_ = Status::kTimedOut;
          co_return std::string_view();
        }
      }
      const std::size_t n = std::min(s_->in.size(), kBodyPiece);
      piece_.assign(s_->in, 0, n);
      s_->in.erase(0, n);
      Take(n);
      consumed_ += n;
      if (consumed_ > limit_) {
        streamed_ = Status::kTooLarge;
        co_return std::string_view();
      }
      co_return std::string_view(piece_);
    }

   private:
    Status Admit(std::size_t limit) {
      if (const auto cl = content_length(); cl && *cl > limit) return Status::kTooLarge;
      if (s_->expects_continue && !s_->in_done && !s_->closed && !c_.finishing_) {
        s_->expects_continue = false;
        const nghttp2_nv cont[] = {{reinterpret_cast<uint8_t*>(const_cast<char*>(":status")),
                                    reinterpret_cast<uint8_t*>(const_cast<char*>("100")), 7, 3, NGHTTP2_NV_FLAG_NONE}};
        nghttp2_submit_headers(c_.session_, NGHTTP2_FLAG_NONE, s_->id, nullptr, cont, 1, nullptr);
        c_.Kick();
      }
      return Status::kOk;
    }
    // The window comes back for what the handler took.
    void Take(std::size_t n) {
      if (s_->closed || c_.finishing_) return;
      nghttp2_session_consume(c_.session_, s_->id, n);
      c_.Kick();
    }
    // Until something arrives (true) or `timeout` passes (false).
    Task<bool> Wait(Clock::duration timeout) {
      s_->body_wake.expires_after(timeout);
      auto [ec] = co_await s_->body_wake.async_wait(net::as_tuple(net::use_awaitable));
      co_return ec == net::error::operation_aborted;
    }

    Self self_;  ///< the body may outlive the handler (a stream both ways): the connection stays
    Connection& c_;
    std::shared_ptr<Stream> s_;
    std::optional<Status> status_;
    bool streaming_ = false;
    std::size_t limit_ = 0;
    std::string piece_;
    Status streamed_ = Status::kOk;
    std::uint64_t consumed_ = 0;
    Clock::duration spent_{};
  };

  ServerCore& core_;
  const Http2Options& h2_;
  Transport& stream_;
  SessionHandle& handle_;
  const std::string& remote_ip_;
  const bool secure_;
  net::any_io_executor ex_;
  nghttp2_session* session_ = nullptr;
  std::size_t live_ = 0;  ///< Stream objects alive: open, or closed with a handler still running
  std::unordered_map<std::int32_t, std::shared_ptr<Stream>> streams_;  ///< open in nghttp2's sense
  std::vector<std::shared_ptr<Stream>> running_;                       ///< whose coroutines run
  std::string out_;
  net::steady_timer writer_wake_, watch_wake_, done_;
  bool writer_waiting_ = false, flush_ = false;
  bool writer_done_ = false, watch_done_ = false;
  bool finishing_ = false;  ///< the connection is over
  bool reading_done_ = false;
  bool watch_long_ = false;  ///< the watch sleeps until a timeout, not a tick
  bool closing_ = false;    ///< GOAWAY submitted
  bool refused_ = false;    ///< a limit tripped (counted once)
  bool preface_seen_ = false;
  bool block_open_ = false;
  Clock::time_point block_started_{}, started_{}, last_active_{};
  Budget resets_, control_;
  std::uint32_t empty_ = 0, continuations_ = 0;
};

template <class Transport>
net::awaitable<void> Serve(ServerCore& core, Transport& stream, SessionHandle& handle, const std::string& remote_ip,
                           bool secure, std::string preread) {
  auto connection = std::make_shared<Connection<Transport>>(core, stream, handle, remote_ip, secure);
  co_await Connection<Transport>::Run(std::move(connection), std::move(preread));
}

}  // namespace

net::awaitable<void> H2Session(ServerCore& core, PlainStream& stream, SessionHandle& handle,
                               const std::string& remote_ip, std::string preread) {
  return Serve(core, stream, handle, remote_ip, false, std::move(preread));
}

net::awaitable<void> H2Session(ServerCore& core, TlsStream& stream, SessionHandle& handle,
                               const std::string& remote_ip, std::string preread) {
  return Serve(core, stream, handle, remote_ip, true, std::move(preread));
}

}  // namespace suite::http::detail
