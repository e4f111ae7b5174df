#pragma once
/// Where blocking work runs (suite::service::WorkerPool). A coroutine awaits it with
/// suite::http::RunOn (resume.hpp), so that the loop serves others meanwhile.
#include <functional>

namespace suite::http {

class Offload {
 public:
  virtual ~Offload() = default;
  /// Runs `task` on another thread, or `rejected` when it cannot start in time; exactly one of
  /// the two, always.
  virtual void Submit(std::function<void()> task, std::function<void()> rejected) = 0;
};

}  // namespace suite::http
