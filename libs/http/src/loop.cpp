#include "suite/http/loop.hpp"

#include "suite/http/task.hpp"
#include "suite/observability/log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace suite::http {

void LogException::operator()(std::exception_ptr e) const {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& err) {
    obs::Error("unhandled exception", {{"in", what}, {"error", err.what()}});
  } catch (...) {
    obs::Error("unhandled non-standard exception", {{"in", what}});
  }
}

namespace {
thread_local std::size_t this_loop = 0;
thread_local boost::asio::io_context* this_io = nullptr;
}  // namespace

std::size_t ThisLoop() { return this_loop; }

void SetThisLoop(std::size_t index, boost::asio::io_context* loop) {
  this_loop = index;
  this_io = loop;
}

void AtTurnEnd(std::function<void()> fn) {
  if (this_io == nullptr) return fn();
  boost::asio::post(*this_io, std::move(fn));
}

Task<void> BehindTurnEnd() {
  co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
}

}  // namespace suite::http
