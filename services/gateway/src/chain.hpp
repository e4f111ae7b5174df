#pragma once
/// The filters in their order, and the loop that runs them on a request head: each continues or
/// answers; the body is read (under the cap the filters chose) only when all have let the
/// request through; then the proxy forwards it. Every answer then passes back through the
/// filters that saw the request, and gets the headers they collected.
#include <memory>
#include <vector>

#include "context.hpp"
#include "proxy.hpp"
#include "suite/http/server.hpp"

namespace gateway {

class Chain {
 public:
  /// `max_body`: the cap when no filter chose one (the server's own limit).
  Chain(const Proxy& proxy, std::size_t max_body) : proxy_(proxy), max_body_(max_body) {}
  template <class F, class... Args>
  F& Add(Args&&... args) {
    filters_.push_back(std::make_unique<F>(std::forward<Args>(args)...));
    return static_cast<F&>(*filters_.back());
  }
  /// Keeps `owner` (the configuration the filters refer to) alive as long as the chain.
  void Keep(std::shared_ptr<const void> owner) { owner_ = std::move(owner); }
  suite::http::Task<suite::http::Response> Run(suite::http::RequestPtr req, suite::http::BodyReader& body) const;
  /// Runs `ctx` through the filters and the proxy (the body is read through `body`).
  suite::http::Task<suite::http::Response> Run(RequestContext& ctx, suite::http::BodyReader& body) const;

 private:
  std::shared_ptr<const void> owner_;
  std::vector<std::unique_ptr<Filter>> filters_;
  const Proxy& proxy_;
  std::size_t max_body_;
};

}  // namespace gateway
