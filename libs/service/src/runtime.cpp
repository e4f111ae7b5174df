#include "suite/service/runtime.hpp"

#include <boost/asio.hpp>

#include <mutex>
#include <thread>

#include "suite/observability/log.hpp"

namespace suite::service {

namespace net = boost::asio;
using namespace std::chrono_literals;

struct Runtime::Impl {
  explicit Impl(std::size_t n) : threads(n), signals(io, SIGTERM, SIGINT), hangups(io) {}
  std::size_t threads;
  net::io_context io;
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

Runtime::Runtime(std::size_t io_threads) : impl_(std::make_unique<Impl>(io_threads)) {}
Runtime::~Runtime() = default;
net::io_context& Runtime::io() { return impl_->io; }

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
  auto work = net::make_work_guard(io);
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
      work.reset();
      io.stop();
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
  for (std::size_t i = 1; i < impl_->threads; ++i) extra.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : extra) t.join();
  obs::Info("stopped");
  return 0;
}

}  // namespace suite::service
