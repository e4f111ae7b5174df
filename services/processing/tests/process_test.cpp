#include <catch2/catch.hpp>

#include "process.hpp"

using processing::Process;

TEST_CASE("summarize counts rows (seed 000 request 2)") {
  auto o = Process(R"({"dataset_id":"sales_2025_q3","action":"summarize","payload":{"rows":[1,2,3]}})");
  CHECK(o.http_status == 200);
  CHECK(o.status == "success");
  CHECK(o.data == nlohmann::json{{"summary", "3 records processed"}, {"rows_processed", 3}, {"dataset", "sales_2025_q3"}});
  CHECK(o.Output() == o.data);
}

TEST_CASE("count, validate and other actions") {
  auto c = Process(R"({"dataset_id":"inventory_2025","action":"count","payload":{"items":["A","B","C","D"]}})");
  CHECK(c.data["count"] == 4);
  auto v = Process(R"({"dataset_id":"d","action":"validate","payload":{"rows":[1]}})");
  CHECK(v.data["valid"] == true);
  auto bad = Process(R"({"dataset_id":"d","action":"validate","payload":{"rows":"x"}})");
  CHECK(bad.data["valid"] == false);
  auto other = Process(R"({"dataset_id":"d","action":"reindex"})");
  CHECK(other.http_status == 200);
  CHECK(other.data["message"] == "Action 'reindex' processed");
}

TEST_CASE("force_fail gives 400 with the seed's message (seed 000 request 4)") {
  auto o = Process(R"({"dataset_id":"sales_2025_q3","action":"summarize","payload":{"force_fail":true}})");
  CHECK(o.http_status == 400);
  CHECK(o.status == "failure");
  CHECK(o.message == "forced failure requested: payload.force_fail=true");
  CHECK(o.Output() == "forced failure requested: payload.force_fail=true");
  CHECK(Process(R"({"dataset_id":"d","action":"a","payload":{"force_fail":"yes"}})").http_status == 200);
}

TEST_CASE("validation errors name every field") {
  auto o = Process(R"({"action":5,"payload":[]})");
  CHECK(o.http_status == 422);
  REQUIRE(o.details["errors"].size() == 3);
  CHECK(o.details["errors"][0]["field"] == "dataset_id");
  CHECK(o.details["errors"][0]["type"] == "missing");
  CHECK(o.details["errors"][1]["field"] == "action");
  CHECK(o.details["errors"][2]["field"] == "payload");
  CHECK(Process("not json").details["errors"][0]["type"] == "value_error.jsondecode");
  CHECK(Process("[1]").http_status == 422);
  CHECK(Process(R"({"dataset_id":"","action":"a"})").http_status == 422);
}
