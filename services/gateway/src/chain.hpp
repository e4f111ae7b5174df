#pragma once
/// The filters in their order, and the loop that runs them on a request head: each continues or
/// answers; the body is read (under the cap the filters chose) only when all have let the
/// request through; then the proxy forwards it. Every answer then passes back through the
/// filters that saw the request, and gets the headers they collected.
#include <concepts>
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
  /// Adds a filter at the end; whether the chain awaits it is fixed here, by its type.
  template <std::derived_from<Filter> F, class... Args>
  F& Add(Args&&... args) {
    static_assert(std::derived_from<F, SyncFilter> != std::derived_from<F, AsyncFilter>,
                  "a filter is either a SyncFilter or an AsyncFilter");
    auto owned = std::make_unique<F>(std::forward<Args>(args)...);
    F& f = *owned;
    if constexpr (std::derived_from<F, AsyncFilter>) steps_.push_back({std::move(owned), nullptr, &f});
    else steps_.push_back({std::move(owned), &f, nullptr});
    return f;
  }
  /// Keeps `owner` (the configuration the filters refer to) alive as long as the chain.
  void Keep(std::shared_ptr<const void> owner) { owner_ = std::move(owner); }
  suite::http::Task<suite::http::Response> Run(suite::http::RequestPtr req, suite::http::BodyReader& body) const;
  /// Runs `ctx` through the filters and the proxy (the body is read through `body`).
  suite::http::Task<suite::http::Response> Run(RequestContext& ctx, suite::http::BodyReader& body) const;

 private:
  std::shared_ptr<const void> owner_;
  struct Step {
    std::unique_ptr<Filter> filter;
    SyncFilter* sync;    ///< the filter as its kind: one of the two
    AsyncFilter* async;
  };
  std::vector<Step> steps_;  ///< in the chain's order
  const Proxy& proxy_;
  std::size_t max_body_;
};

}  // namespace gateway
