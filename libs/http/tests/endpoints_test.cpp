#include <catch2/catch.hpp>

#include "suite/http/endpoints.hpp"

using suite::http::EndpointHealth;
using suite::http::EndpointSet;
using namespace std::chrono_literals;

namespace {
const auto t0 = EndpointSet::Clock::time_point{} + 1000s;
}

TEST_CASE("endpoints: the least loaded takes the request, round robin among equals") {
  EndpointSet set(3, {});
  auto a = set.Pick(t0), b = set.Pick(t0), c = set.Pick(t0);
  REQUIRE((a && b && c));
  CHECK(a->index != b->index);
  CHECK(b->index != c->index);
  CHECK(a->index != c->index);
  set.Finished(b->index, true, t0);  // b is free again: it is the least loaded
  auto d = set.Pick(t0);
  REQUIRE(d);
  CHECK(d->index == b->index);
  CHECK_FALSE(d->probe);
  CHECK(set.in_flight(a->index) == 1);
}

TEST_CASE("endpoints: failures in a row eject, a success in between does not") {
  EndpointSet set(2, {.eject_after = 3, .eject_for = 5s});
  auto fail = [&](std::size_t i) { return set.Finished(i, false, t0); };
  CHECK(fail(0) == EndpointSet::Change::kNone);
  CHECK(fail(0) == EndpointSet::Change::kNone);
  CHECK(set.Finished(0, true, t0) == EndpointSet::Change::kNone);  // the count starts again
  CHECK(fail(0) == EndpointSet::Change::kNone);
  CHECK(fail(0) == EndpointSet::Change::kNone);
  CHECK(fail(0) == EndpointSet::Change::kEjected);
  CHECK(set.ejected(0));
  for (int i = 0; i < 10; ++i) {  // while ejected, only the other one is chosen
    auto c = set.Pick(t0 + 1s);
    REQUIRE(c);
    CHECK(c->index == 1);
    set.Finished(c->index, true, t0 + 1s);
  }
}

TEST_CASE("endpoints: after the ejection one probe decides, a failed probe doubles the wait") {
  EndpointSet set(1, {.eject_after = 2, .eject_for = 5s, .max_eject = 12s});
  set.Finished(0, false, t0);
  CHECK(set.Finished(0, false, t0) == EndpointSet::Change::kEjected);
  CHECK_FALSE(set.Pick(t0 + 4s));  // the circuit is open: refused at once
  CHECK(set.RetryAfter(t0 + 4s) == 1s);
  CHECK(set.RetryAfter(t0 + 1s) == 4s);
  auto probe = set.Pick(t0 + 5s);
  REQUIRE(probe);
  CHECK(probe->probe);
  CHECK_FALSE(set.Pick(t0 + 5s));  // one probe at a time
  CHECK(set.Finished(0, false, t0 + 5s) == EndpointSet::Change::kEjected);
  CHECK(set.ejected_for(0) == 10s);
  CHECK_FALSE(set.Pick(t0 + 14s));
  probe = set.Pick(t0 + 15s);
  REQUIRE(probe);
  CHECK(set.Finished(0, false, t0 + 15s) == EndpointSet::Change::kEjected);
  CHECK(set.ejected_for(0) == 12s);  // capped
  probe = set.Pick(t0 + 27s);
  REQUIRE(probe);
  CHECK(set.Finished(0, true, t0 + 27s) == EndpointSet::Change::kRestored);
  CHECK_FALSE(set.ejected(0));
  CHECK(set.ejected_for(0) == 5s);  // back to the first length
  auto next = set.Pick(t0 + 27s);
  REQUIRE(next);
  CHECK_FALSE(next->probe);
}

TEST_CASE("endpoints: a late failure of a request sent before the ejection is not a failed probe") {
  EndpointSet set(1, {.eject_after = 1, .eject_for = 5s});
  auto a = set.Pick(t0), b = set.Pick(t0);
  REQUIRE((a && b));
  CHECK(set.Finished(a->index, false, t0) == EndpointSet::Change::kEjected);
  CHECK(set.Finished(b->index, false, t0 + 1s) == EndpointSet::Change::kNone);
  CHECK(set.RetryAfter(t0 + 1s) == 4s);  // the ejection did not grow
}
