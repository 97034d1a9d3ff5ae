-- 100 KiB "logs" uploads, each with an upload id never used before.
--   wrk ... -s bench/upload.lua URL -- BODY_FILE SHA256 RUN_TAG
-- The body is the same for every request, so its SHA-256 is computed once
-- (by run.sh, with sha256sum) and passed in. The upload id is
-- RUN_TAG-THREAD-4000-8000-COUNTER (lower-case canonical UUID form): RUN_TAG (8 hex
-- digits) keeps runs apart, the wrk thread number and a per-thread counter keep
-- requests apart. response() counts statuses so run.sh can compare the 201s
-- with what the server actually stored.
package.path = package.path .. ";" .. (os.getenv("BENCH_DIR") or "bench") .. "/?.lua"
require("common")

local body, sha, tag
local n = 0

function init(args)
  local f = assert(io.open(assert(args[1], "body file argument missing"), "rb"))
  body = f:read("*a")
  f:close()
  sha = assert(args[2], "SHA-256 argument missing")
  tag = tonumber(assert(args[3], "run tag argument missing"), 16)
end

function request()
  n = n + 1
  local dev = device_id(n % 1000 + 1)
  local id = string.format("%08x-%04x-4000-8000-%012x", tag, tid, n)
  return wrk.format("PUT", "/v1/devices/" .. dev .. "/uploads/logs/" .. id, {
    ["X-Beacon-Device"] = dev,
    ["X-Beacon-Client-Version"] = "bench-0.1",
    ["X-Beacon-Content-SHA256"] = sha,
    ["Content-Type"] = "application/octet-stream",
  }, body)
end

function response(status, headers, rbody)
  count_status(status)
end
