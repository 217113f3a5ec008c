-- wrk script shared by scripts/bench-{s3,agent,webhook}: one fixed request per connection,
-- optionally paced, with every response's status counted across all threads.
-- Environment (all optional):
--   BENCH_METHOD        request method (default GET)
--   BENCH_BODY_FILE     file whose bytes are the request body
--   BENCH_CONTENT_TYPE  Content-Type header of the body
--   BENCH_DELAY_MS      pause of each connection before each request: with N connections the
--                       rate is at most N * 1000 / BENCH_DELAY_MS requests/s (wrk's latency
--                       excludes the pause)
-- Other headers come from wrk's -H.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body_file = os.getenv("BENCH_BODY_FILE")
if body_file then
  local file = assert(io.open(body_file, "rb"))
  wrk.body = file:read("*a")
  file:close()
end
local content_type = os.getenv("BENCH_CONTENT_TYPE")
if content_type then
  wrk.headers["Content-Type"] = content_type
end
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")

if delay_ms then
  function delay()
    return delay_ms
  end
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

-- Prints one "status CODE: COUNT" line per status, which the bench scripts read.
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      total[code] = (total[code] or 0) + count
    end
  end
  local codes = {}
  for code in pairs(total) do
    table.insert(codes, code)
  end
  table.sort(codes)
  for _, code in ipairs(codes) do
    io.write(string.format("status %d: %d\n", code, total[code]))
  end
end
