-- Manifest check-ins that the server answers with 304 Not Modified.
--   wrk ... -s bench/checkin.lua URL -- ETAG REVISION [DEVICES]
-- ETAG is the manifest's ETag exactly as the server sent it (quotes included),
-- sent by every device, or @FILE: one ETag per line for devices 1..DEVICES
-- (the beacon signs a manifest per device, so each has its own; bench/etags.py). Requests are pre-formatted in
-- init() so the generator spends its core on I/O, not on string building.
-- No response() callback: wrk then skips per-response Lua work; run.sh checks
-- the 304 with curl before the run and wrk counts any 4xx/5xx.
package.path = package.path .. ";" .. (os.getenv("BENCH_DIR") or "bench") .. "/?.lua"
require("common")

local reqs = {}
local i = 0

function init(args)
  local etag = assert(args[1], "ETag argument missing")
  local revision = args[2] or "1"
  local devices = tonumber(args[3] or "1000")
  local etags = {}
  if etag:sub(1, 1) == "@" then
    for line in io.lines(etag:sub(2)) do table.insert(etags, line) end
    assert(#etags >= devices, "fewer ETags than devices in " .. etag)
  end
  for n = 1, devices do
    local dev = device_id(n)
    reqs[n] = wrk.format("GET", "/v1/devices/" .. dev .. "/manifest", {
      ["X-Beacon-Device"] = dev,
      ["X-Beacon-Client-Version"] = "bench-0.1",
      ["X-Beacon-Policy-Revision"] = revision,
      ["If-None-Match"] = etags[n] or etag,
    })
  end
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
