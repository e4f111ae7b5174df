#pragma once
// The upstream pool's upgraded connection (client.cpp): after its 101, the upstream's
// connection, with whatever came behind the head, relayed to the client's.
#include <boost/beast/core/flat_buffer.hpp>

#include <memory>

#include "plain_stream.hpp"
#include "stream_duplex.hpp"
#include "suite/http/upgrade.hpp"
#include "suite/observability/log.hpp"

namespace suite::http::detail {

class UpstreamTunnel final : public Upgraded {
 public:
  UpstreamTunnel(std::unique_ptr<PlainStream> stream, boost::beast::flat_buffer leftover, RelayLimits limits)
      : stream_(std::move(stream)), leftover_(std::move(leftover)), limits_(limits) {}
  Task<void> Run(Duplex& client) override {
    StreamDuplex<PlainStream> upstream(*stream_, leftover_);
    const auto end = co_await Relay(client, upstream, limits_);
    if (end != RelayEnd::kClosed) obs::Info("relay ended", {{"reason", end == RelayEnd::kIdle ? "idle" : "lifetime"}});
  }

 private:
  std::unique_ptr<PlainStream> stream_;
  boost::beast::flat_buffer leftover_;
  RelayLimits limits_;
};

}  // namespace suite::http::detail
