#include "suite/service/runtime.hpp"

#include <boost/asio.hpp>

#include <mutex>
#include <thread>

#include "suite/observability/log.hpp"

namespace suite::service {

namespace net = boost::asio;
using namespace std::chrono_literals;

// An io_context whose pending work can be destroyed before the context itself.
struct Loop : net::io_context {
  // Concurrency hint 1: one thread runs it, so Asio's scheduler takes its single-thread paths
  // (a handler posted from the loop's own thread skips the shared queue).
  Loop() : net::io_context(1) {}
  void DropPendingWork() { shutdown(); }
};

struct Runtime::Impl {
  explicit Impl(std::size_t n) : owned(MakeLoops(n)), io(*owned[0]), signals(io, SIGTERM, SIGINT), hangups(io) {
    for (auto& l : owned) loops.push_back(l.get());
  }
  // Every loop's pending work (coroutine frames, with what they hold) goes while every loop still
  // exists: a frame on one loop may hold the last reference to objects bound to another (a
  // server's acceptors and timers).
  ~Impl() {
    for (auto& l : owned) l->DropPendingWork();
  }
  static std::vector<std::unique_ptr<Loop>> MakeLoops(std::size_t n) {
    std::vector<std::unique_ptr<Loop>> v;
    for (std::size_t i = 0; i < std::max<std::size_t>(n, 1); ++i) v.push_back(std::make_unique<Loop>());
    return v;
  }
  std::vector<std::unique_ptr<Loop>> owned;
  http::Loops loops;
  net::io_context& io;
  net::signal_set signals;
  net::signal_set hangups;
  std::function<void()> reload;
  void WaitHangup() {
    hangups.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      obs::Info("reloading (SIGHUP)");
      try {
        reload();
      } catch (const std::exception& e) {
        obs::Error("reload failed", {{"error", e.what()}});
      }
      WaitHangup();
    });
  }
  std::mutex mu;
  std::vector<std::function<void()>> begins;
  std::vector<std::function<bool()>> drains;
};

namespace {
// One loop on the calling thread. Its log lines of one turn go out in one write, posted behind
// the turn's handlers, so they are on stdout before the loop waits again.
void RunLoop(net::io_context& loop, std::size_t index) {
  http::SetThisLoop(index, &loop);
  obs::BatchLinesOnThisThread([] { http::AtTurnEnd([] { obs::FlushLines(); }); });
  loop.run();
  obs::BatchLinesOnThisThread({});
  http::SetThisLoop(index, nullptr);
}
}  // namespace

Runtime::Runtime(std::size_t loops) : impl_(std::make_unique<Impl>(loops)) {}
Runtime::~Runtime() = default;
net::io_context& Runtime::io() { return impl_->io; }
const http::Loops& Runtime::loops() const { return impl_->loops; }

void Runtime::OnStop(std::function<void()> begin, std::function<bool()> drained) {
  std::lock_guard lock(impl_->mu);
  if (begin) impl_->begins.push_back(std::move(begin));
  if (drained) impl_->drains.push_back(std::move(drained));
}

void Runtime::RequestStop() {
  net::post(impl_->io, [this] { impl_->signals.cancel(); });
}

void Runtime::OnReload(std::function<void()> fn) {
  impl_->reload = std::move(fn);
  impl_->hangups.add(SIGHUP);
  impl_->WaitHangup();
}

int Runtime::Run(std::chrono::milliseconds drain_timeout) {
  auto& io = impl_->io;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  for (auto* l : impl_->loops) work.push_back(net::make_work_guard(*l));
  net::steady_timer poll(io);
  std::chrono::steady_clock::time_point deadline;
  std::function<void()> check = [&] {
    bool all = true;
    {
      std::lock_guard lock(impl_->mu);
      for (auto& d : impl_->drains) all = all && d();
    }
    if (all || std::chrono::steady_clock::now() >= deadline) {
      if (!all) obs::Warn("drain timeout reached; stopping with work in flight");
      for (auto& w : work) w.reset();
      for (auto* l : impl_->loops) l->stop();
      return;
    }
    poll.expires_after(20ms);
    poll.async_wait([&](boost::system::error_code) { check(); });
  };
  impl_->signals.async_wait([&](boost::system::error_code, int sig) {
    obs::Info("stopping", {{"signal", sig}});
    stopping_ = true;
    boost::system::error_code ignored;
    impl_->hangups.cancel(ignored);
    deadline = std::chrono::steady_clock::now() + drain_timeout;
    std::vector<std::function<void()>> begins;
    {
      std::lock_guard lock(impl_->mu);
      begins = impl_->begins;
    }
    for (auto& b : begins) b();
    check();
  });
  std::vector<std::thread> extra;
  for (std::size_t i = 1; i < impl_->loops.size(); ++i)
    extra.emplace_back([this, i] { RunLoop(*impl_->loops[i], i); });
  RunLoop(io, 0);
  for (auto& t : extra) t.join();
  obs::Info("stopped");
  return 0;
}

}  // namespace suite::service
