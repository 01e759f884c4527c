-- POST one Pointillist event per request; ids vary so the identity graph grows as in real
-- traffic (ACTORS users, each with a userId and an anonymousId that stitch on every event).
-- Env: BENCH_TOKEN (apiToken header), BENCH_ACTORS (distinct users, default 10000),
-- BENCH_PATH (default /event). Prints one JSON line (prefixed "WRK_JSON ") when done.
local token = os.getenv("BENCH_TOKEN") or "bench-token"
local actors = tonumber(os.getenv("BENCH_ACTORS") or "10000")
local path = os.getenv("BENCH_PATH") or "/event"
local counter = 0
local prefix = ""
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  prefix = "w" .. tostring(id or 1) .. "_"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["apiToken"] = token
end

local template = '{"eventSource":"Segment","eventType":"Order Completed",' ..
  '"eventTime":"2026-11-28T10:00:00.000Z",' ..
  '"actors":{"Customer":{"userId":"u_%s%d","anonymousId":"a_%s%d"}},' ..
  '"labels":{"plan":"pro","campaign.source":"newsletter"},"numbers":{"revenue":42.5},' ..
  '"location":{"city":"Paris","country":"France"}}'

function request()
  counter = counter + 1
  local n = counter % actors
  local body = string.format(template, prefix, n, prefix, n)
  return wrk.format(nil, path, nil, body)
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
