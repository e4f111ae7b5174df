#include <catch2/catch.hpp>

#include <map>

#include "process.hpp"

using processing::Process;

TEST_CASE("summarize counts rows (seed 000 request 2)") {
  auto o = Process(R"({"dataset_id":"sales_2025_q3","action":"summarize","payload":{"rows":[1,2,3]}})");
  CHECK(o.http_status == 200);
  CHECK(o.status == "success");
  // Seed 000's fields, as it gave them.
  CHECK(o.data["summary"] == "3 records processed");
  CHECK(o.data["rows_processed"] == 3);
  CHECK(o.data["dataset"] == "sales_2025_q3");
  CHECK(o.data["statistics"]["mean"] == 2.0);
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

TEST_CASE("summarize: statistics of numeric rows, and of each numeric field of object rows") {
  auto o = Process(R"({"dataset_id":"s","action":"summarize","payload":{"rows":[
    {"amount":10,"qty":1,"name":"a"},{"amount":5,"qty":"x"},{"amount":7.5,"qty":3},4,"text",null]}})");
  REQUIRE(o.status == "success");
  CHECK(o.data["summary"] == "6 records processed");
  CHECK(o.data["rows_processed"] == 6);
  CHECK(o.data["statistics"] == nlohmann::json{{"count", 1}, {"sum", 4.0}, {"mean", 4.0}, {"min", 4.0}, {"max", 4.0}});
  const auto& amount = o.data["fields"]["amount"];
  CHECK(amount["count"] == 3);
  CHECK(amount["sum"] == 22.5);
  CHECK(amount["mean"] == 7.5);
  CHECK(amount["min"] == 5.0);
  CHECK(amount["max"] == 10.0);
  CHECK(o.data["fields"]["qty"]["count"] == 2);  // "x" is not a number
  CHECK_FALSE(o.data["fields"].contains("name"));
  auto none = Process(R"({"dataset_id":"s","action":"summarize","payload":{}})");
  CHECK(none.data["statistics"].is_null());
  CHECK(none.data["rows_processed"] == 0);
}

TEST_CASE("count: items and distinct items") {
  auto o = Process(R"({"dataset_id":"c","action":"count","payload":{"items":["A","B","A",{"k":1},{"k":1},2]}})");
  CHECK(o.data["count"] == 6);
  CHECK(o.data["distinct"] == 4);
}

TEST_CASE("validate: findings for nulls, mixed types and duplicates, with a verdict") {
  auto o = Process(R"({"dataset_id":"v","action":"validate","payload":{"rows":[
    {"id":1,"v":"a"},{"id":2,"v":null},{"id":"3","v":"c"},{"id":1,"v":"a"},null,7]}})");
  REQUIRE(o.status == "success");
  CHECK(o.data["valid"] == false);
  CHECK(o.data["rows_checked"] == 6);
  std::map<std::string, int> by_check;
  for (const auto& f : o.data["findings"]) ++by_check[f["check"].get<std::string>()];
  CHECK(by_check["no_nulls"] == 2);          // row 1's field, row 4
  CHECK(by_check["consistent_types"] == 2);  // row 2's id is a string; row 5 is a number
  CHECK(by_check["no_duplicates"] == 1);     // row 3 repeats row 0
  CHECK(o.data["findings_total"] == 5);
  bool dup_named = false;
  for (const auto& f : o.data["findings"])
    if (f["check"] == "no_duplicates") dup_named = f["row"] == 3 && f["message"] == "row 3 repeats row 0";
  CHECK(dup_named);
  auto clean = Process(R"({"dataset_id":"v","action":"validate","payload":{"rows":[{"id":1},{"id":2}]}})");
  CHECK(clean.data["valid"] == true);
  CHECK(clean.data["findings"].empty());
  auto empty = Process(R"({"dataset_id":"v","action":"validate","payload":{}})");
  CHECK(empty.data["valid"] == false);  // seed 000: an empty payload does not pass
  CHECK(empty.data["findings"][0]["message"] == "payload.rows is missing");
}

namespace {
// A JSON array of n ones (built without reassigning a string: GCC 12 at -O2 warns falsely on that).
std::string Ones(int n) {
  std::string rows = "[1";
  for (int i = 1; i < n; ++i) rows += ",1";
  return rows + "]";
}
}  // namespace

TEST_CASE("validate: a million duplicate rows cannot be sent, findings are bounded") {
  const std::string rows = Ones(10'001);
  auto over = Process(R"({"dataset_id":"v","action":"validate","payload":{"rows":)" + rows + "}}",
                      suite::core::JsonLimits{.max_bytes = 1 << 20, .max_depth = 64, .max_elements = 100'000});
  CHECK(over.http_status == 422);
  CHECK(over.details["errors"][0]["field"] == "payload.rows");
  auto many = Process(R"({"dataset_id":"v","action":"validate","payload":{"rows":)" + Ones(5'000) + "}}",
                      suite::core::JsonLimits{.max_bytes = 1 << 20, .max_depth = 64, .max_elements = 100'000});
  CHECK(many.data["findings"].size() == 100);
  CHECK(many.data["findings_total"] == 4'999);
}
