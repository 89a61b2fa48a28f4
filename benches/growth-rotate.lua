-- wrk script for benches/growth.sh: refresh-token rotation, each token presented exactly once.
--
--   GROWTH_TOKENS_FILE  plaintext refresh tokens, one a line, never presented before
--   GROWTH_THREADS      wrk's -t (the tokens are dealt round-robin to the threads)
--   GROWTH_CONNS        wrk's -c (each thread needs at least as many tokens as it has connections)
--   GROWTH_AUTH         value of the Authorization header (client_secret_basic)
--   GROWTH_JSON_OUT     file for the one-line JSON summary (the kit's wrk-report.lua fields, plus ours)
--
-- Each thread keeps a FIFO of tokens. request() takes one out, response() puts the successor from the JSON
-- body back. wrk calls response() before it asks the same connection for its next request, so a thread with
-- at least as many tokens as connections never runs dry while every answer is a 200. A token is never put
-- back, so no token is presented twice: presenting a rotated-away token would be reuse and revoke its family.
-- Tokens in flight when wrk stops are lost (the server rotates them, nobody reads the answer): the script
-- that calls this one gives every wrk run a fresh batch.

local tokens_file = os.getenv("GROWTH_TOKENS_FILE")
local auth = os.getenv("GROWTH_AUTH")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

-- main Lua state: deal the tokens to the threads -------------------------------------------------------------
local threads = {}

function setup(thread)
  local nthreads = tonumber(os.getenv("GROWTH_THREADS") or "")
  local conns = tonumber(os.getenv("GROWTH_CONNS") or "")
  assert(nthreads and conns, "GROWTH_THREADS and GROWTH_CONNS must be set")
  local index = #threads -- 0-based index of this thread
  local mine, i = {}, 0
  for line in io.lines(tokens_file) do
    if line ~= "" then
      if i % nthreads == index then
        mine[#mine + 1] = line
      end
      i = i + 1
    end
  end
  -- wrk gives each thread conns/threads connections
  assert(#mine >= math.floor(conns / nthreads),
    string.format("thread %d has %d tokens for %d connections", index, #mine, math.floor(conns / nthreads)))
  thread:set("initial", table.concat(mine, "\n"))
  threads[#threads + 1] = thread
end

-- per-thread Lua state -----------------------------------------------------------------------------------------
local queue, head, tail = {}, 1, 0
-- globals, read by done() through thread:get
rotated, non2xx, no_token_in_body, starved = 0, 0, 0, 0

local function push(t)
  tail = tail + 1
  queue[tail] = t
end

local function pop()
  if head > tail then
    return nil
  end
  local t = queue[head]
  queue[head] = nil
  head = head + 1
  return t
end

function init(args)
  for t in string.gmatch(initial or "", "[^\n]+") do
    push(t)
  end
end

function request()
  local t = pop()
  if t == nil then
    -- Every token of this thread is in flight or was lost to an error: send one the server cannot know, so the
    -- shortage shows as a non-2xx answer instead of hiding as a lower rate.
    starved = starved + 1
    t = "growth-bench-starved"
  end
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. t)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    return
  end
  local t = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
  if t then
    rotated = rotated + 1
    push(t)
  else
    no_token_in_body = no_token_in_body + 1
  end
end

-- main Lua state again, after the threads stopped --------------------------------------------------------------
function done(summary, latency, requests)
  local sums = { rotated = 0, non2xx = 0, no_token_in_body = 0, starved = 0 }
  for _, thread in ipairs(threads) do
    for k in pairs(sums) do
      sums[k] = sums[k] + (thread:get(k) or 0)
    end
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  local line = string.format(
    '{"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,'
      .. '"mean_ms":%.3f,"status_ge_400":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,'
      .. '"bytes":%d,"non_2xx":%d,"rotated":%d,"no_token_in_body":%d,"starved":%d}',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
    e.status, e.connect, e.read, e.write, e.timeout, summary.bytes,
    sums.non2xx, sums.rotated, sums.no_token_in_body, sums.starved)
  io.write("WRK_JSON " .. line .. "\n")
  local out = os.getenv("GROWTH_JSON_OUT")
  if out and out ~= "" then
    local f = assert(io.open(out, "w"))
    f:write(line .. "\n")
    f:close()
  end
end
