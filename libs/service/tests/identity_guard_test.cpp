// The services' door: a request's body is read up to the cap the gateway admitted it for (in
// its signed identity), within the service's own maximum; without that, the default cap.
#include <catch2/catch.hpp>

#include "suite/http/router.hpp"
#include "suite/service/identity_guard.hpp"
#include "suite/testing/task.hpp"

using namespace suite;

namespace {

class Body final : public http::BodyReader {
 public:
  Body(http::Request& req, std::size_t size) : req_(req), size_(size) {}
  http::Task<Status> Read(std::size_t limit) override {
    asked = limit;
    if (size_ > limit) co_return Status::kTooLarge;
    req_.body.assign(size_, 'x');
    co_return Status::kOk;
  }
  std::optional<std::uint64_t> content_length() const override { return size_; }
  std::size_t asked = 0;

 private:
  http::Request& req_;
  std::size_t size_;
};

}  // namespace

TEST_CASE("identity guard: the body is read under the admitted cap, never past the service's maximum") {
  const security::IdentitySigner signer("fedcba9876543210fedcba9876543210");
  http::Router router;
  router.Inline("POST", "/api/test", [](http::Request& req) {
    return http::Response::Json(200, {{"bytes", req.body.size()}});
  });
  constexpr std::size_t kDefault = 1024, kMax = 8192;
  const auto handler = service::WithIdentity(router, signer, kDefault, kMax);
  auto send = [&](std::size_t bytes, std::optional<std::uint64_t> admitted, bool signed_ = true) {
    auto req = std::make_shared<http::Request>();
    req->method = "POST";
    req->path = "/api/test";
    req->request_id = "rid-1";
    security::Identity id;
    id.subject = "alice";
    id.method = "api_key";
    id.tier = "free";
    if (admitted) id.body_limit = *admitted;
    if (signed_) req->SetHeaders({{security::kIdentityHeader, signer.Sign(id, {"rid-1", "POST", "/api/test"})}});
    Body body(*req, bytes);
    const auto res = testing::RunTask(handler(req, body));
    return std::make_pair(res.status, body.asked);
  };
  // The gateway admitted 4 KiB (the caller's tier): more than the default passes, more than that not.
  CHECK(send(3000, 4096) == std::make_pair(200, std::size_t{4096}));
  CHECK(send(5000, 4096).first == 413);
  // Nothing said: the default cap.
  CHECK(send(2000, std::nullopt) == std::make_pair(413, kDefault));
  CHECK(send(1000, std::nullopt).first == 200);
  // Said more than the service takes at all: its maximum.
  CHECK(send(9000, 1 << 30) == std::make_pair(413, kMax));
  // No identity: 401 before any byte is read.
  CHECK(send(10, 4096, false) == std::make_pair(401, std::size_t{0}));
}
