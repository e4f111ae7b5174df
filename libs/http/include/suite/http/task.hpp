#pragma once
/// The request path's one async style: C++20 coroutines on the connection's executor.
/// `Task<T>` is an Asio awaitable; this header includes only the awaitable type, so business
/// code may declare coroutines without pulling in the rest of Asio. `Resume` (in
/// resume.hpp, which does) turns a callback API into something a coroutine awaits.
#include <boost/asio/awaitable.hpp>

#include <exception>

namespace suite::http {

template <class T>
using Task = boost::asio::awaitable<T>;

/// The completion of a detached coroutine (co_spawn): an exception that escapes it is logged,
/// with `what` it was, never lost.
struct LogException {
  const char* what;
  void operator()(std::exception_ptr e) const;
};

}  // namespace suite::http
