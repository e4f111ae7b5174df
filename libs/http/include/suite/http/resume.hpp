#pragma once
/// Awaiting a callback API from a coroutine, resuming on the coroutine's own executor (the
/// connection's strand): whatever thread the callback runs on (a Redis or upstream strand), the
/// request's code never runs anywhere else. Heavy Asio templates: include only in the few files
/// that adapt an I/O edge.
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <utility>

#include "suite/http/offload.hpp"
#include "suite/http/task.hpp"

namespace suite::http {

/// Calls `start(done)` and suspends until `done(value)` is called (exactly once, from any
/// thread); then resumes on the awaiting coroutine's executor with `value`.
template <class T, class Start>
Task<T> Resume(Start start) {
  // Not a coroutine itself (GCC 12 mishandles by-value coroutine parameters): the initiation
  // runs once the caller has suspended, and the handler knows the caller's executor.
  return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(T)>(
      [](auto handler, Start start) {
        auto ex = boost::asio::get_associated_executor(handler);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start([shared, ex](T value) {
          boost::asio::post(ex, [shared, value = std::move(value)]() mutable { (*shared)(std::move(value)); });
        });
      },
      boost::asio::use_awaitable, std::move(start));
}

/// Runs `work` on `pool` and resumes, on the awaiting coroutine's executor, with true once it
/// ran, or false when the pool refused it. `work` may use the coroutine's locals by reference:
/// the coroutine is suspended until it is over.
inline Task<bool> RunOn(Offload& pool, std::function<void()> work) {
  return Resume<bool>([&pool, work = std::move(work)](auto done) mutable {
    pool.Submit([work = std::move(work), done] {
      work();
      done(true);
    }, [done] { done(false); });
  });
}

}  // namespace suite::http
