-- POST /v1/batch to the gateway, as Segment's clients send it: BENCH_BATCH track messages a
-- request (default 100), each with its own messageId (so the gateway's dedup keeps every one),
-- users spread over BENCH_ACTORS (default 10000). Write key in Basic auth, as the SDKs do.
-- Env: BENCH_WRITE_KEY, BENCH_ACTORS, BENCH_BATCH, BENCH_RUN (a prefix that keeps the ids of
-- separate runs apart). Prints "WRK_JSON {...}" like event.lua.
local key = os.getenv("BENCH_WRITE_KEY") or "bench-write-key"
local actors = tonumber(os.getenv("BENCH_ACTORS") or "10000")
local size = tonumber(os.getenv("BENCH_BATCH") or "100")
local run = os.getenv("BENCH_RUN") or "r"
local counter = 0
local prefix = ""
local threads = {}

-- base64 of "<key>:" for the Authorization header (Lua 5.1 has no bit operators: arithmetic).
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(text)
  local out = {}
  for i = 1, #text, 3 do
    local a, b, c = text:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = 2 + (b and 1 or 0) + (c and 1 or 0)
    for j = 1, 4 do
      if j <= chars then
        local index = math.floor(n / 64 ^ (4 - j)) % 64
        out[#out + 1] = alphabet:sub(index + 1, index + 1)
      else
        out[#out + 1] = "="
      end
    end
  end
  return table.concat(out)
end

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  prefix = run .. "w" .. tostring(id or 1) .. "_"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Basic " .. base64(key .. ":")
end

local template = '{"type":"track","event":"Order Completed","userId":"u_%s%d",' ..
  '"anonymousId":"a_%s%d","messageId":"m_%s%d","timestamp":"2026-11-28T10:00:00.000Z",' ..
  '"properties":{"plan":"pro","revenue":42.5,"currency":"EUR"},' ..
  '"context":{"campaign":{"source":"newsletter"},"library":{"name":"wrk","version":"1"}}}'

function request()
  local parts = {}
  for i = 1, size do
    counter = counter + 1
    local n = counter % actors
    parts[i] = string.format(template, prefix, n, prefix, n, prefix, counter)
  end
  return wrk.format(nil, "/v1/batch", nil,
    '{"batch":[' .. table.concat(parts, ",") .. '],"sentAt":"2026-11-28T10:00:00.000Z"}')
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
