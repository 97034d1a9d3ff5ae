-- Shared by checkin.lua and upload.lua: device ids, per-thread numbering and
-- a summary line that bench/run.sh parses.
--
-- wrk runs setup() once per thread in the main Lua state, then init() and
-- request()/response() inside each thread's own state, then done() in the
-- main state again; counters kept by a thread are read back with thread:get().

local threads = {}
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end

-- Devices are drawn from a fixed pool so the beacon tracks many check-ins,
-- as it would in service, without the generator paying for a fresh id per request.
function device_id(n)
  return string.format("b0000000-0000-4000-8000-%012x", n)
end

-- Counts a response status in the thread's global "s<status>", where done()
-- reads it back with thread:get() (only scripts that define response() call it).
function count_status(status)
  local key = "s" .. status
  _G[key] = (_G[key] or 0) + 1
end

function done(summary, latency, requests)
  local s = summary
  local secs = s.duration / 1e6
  local by_status = {}
  for _, t in ipairs(threads) do
    for _, code in ipairs({200, 201, 204, 304, 400, 404, 409, 411, 413, 500, 503, 507}) do
      local v = t:get("s" .. code)
      if v then by_status[code] = (by_status[code] or 0) + v end
    end
  end
  local parts = {}
  for code, v in pairs(by_status) do table.insert(parts, code .. ":" .. v) end
  table.sort(parts)
  io.write(string.format(
    "BENCH requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d max_us=%d " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d statuses=%s\n",
    s.requests, secs, s.requests / secs, latency:percentile(50), latency:percentile(99),
    latency.max, s.errors.connect, s.errors.read, s.errors.write, s.errors.status,
    s.errors.timeout, #parts > 0 and table.concat(parts, ",") or "-"))
end
