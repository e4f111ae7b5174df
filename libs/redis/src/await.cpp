// The client awaited from a coroutine (Client::Call, Client::Run): the callback API, completed
// on the awaiting coroutine's executor.
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>

#include "suite/redis/client.hpp"

namespace suite::redis {

namespace net = boost::asio;

namespace {
// Completes an awaiting coroutine from a reply callback: on its own executor, inline when the
// callback already runs there (the client on the caller's loop), posted otherwise.
template <class Start>
net::awaitable<Reply> Awaited(Start start) {
  return net::async_initiate<decltype(net::use_awaitable), void(Reply)>(
      [](auto handler, Start start) {
        auto ex = net::get_associated_executor(handler);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start([shared, ex](Reply r) {
          net::dispatch(ex, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
        });
      },
      net::use_awaitable, std::move(start));
}
}  // namespace

net::awaitable<Reply> Client::Call(std::vector<std::string> args, std::optional<std::chrono::milliseconds> timeout) {
  return Awaited([this, args = std::move(args), timeout](Callback done) mutable {
    Command(std::move(args), std::move(done), timeout);
  });
}

net::awaitable<Reply> Client::Run(const Script& script, std::vector<std::string> keys, std::vector<std::string> args) {
  return Awaited([this, &script, keys = std::move(keys), args = std::move(args)](Callback done) mutable {
    Eval(script, std::move(keys), std::move(args), std::move(done));
  });
}

}  // namespace suite::redis
