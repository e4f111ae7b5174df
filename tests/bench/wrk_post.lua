-- tests/bench/gateway.sh's request: POST /process with seed 000's example body, X-API-Key and
-- a Bearer JWT (each only when set). BENCH_DELAY_MS > 0 paces each connection (a fixed load
-- below the peak, for the latency at half load). For the streaming part: BENCH_METHOD=GET (no
-- body), or BENCH_BODY_BYTES > 0 (a body of that many bytes). Prints one WRKRESULT line.
local key = os.getenv("BENCH_API_KEY") or ""
local token = os.getenv("BENCH_JWT") or ""
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local bytes = tonumber(os.getenv("BENCH_BODY_BYTES") or "0")
wrk.method = os.getenv("BENCH_METHOD") or "POST"
if wrk.method == "GET" then
  wrk.body = nil
elseif bytes > 0 then
  wrk.body = string.rep("x", bytes)
  wrk.headers["Content-Type"] = "application/octet-stream"
else
  wrk.body = '{"dataset_id":"sales_2025_q3","action":"summarize","payload":{"rows":[1,2,3]}}'
  wrk.headers["Content-Type"] = "application/json"
end
if key ~= "" then wrk.headers["X-API-Key"] = key end
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
if pause > 0 then
  function delay() return pause end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKRESULT requests=%d rps=%.1f p50_us=%d p99_us=%d bad=%d\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
