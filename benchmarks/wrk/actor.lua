-- GET /_mock/actor?userId=BENCH_USER (default bench-actor-100) with the apiToken header.
-- Env: BENCH_TOKEN, BENCH_USER. Prints "WRK_JSON {...}" when done.
local token = os.getenv("BENCH_TOKEN") or "bench-token"
local user = os.getenv("BENCH_USER") or "bench-actor-100"

function init(args)
  wrk.method = "GET"
  wrk.headers["apiToken"] = token
  wrk.path = "/_mock/actor?userId=" .. user
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"connect":%d,' ..
    '"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, errors.status, errors.connect,
    errors.read, errors.write, errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
