-- wrk script for scripts/ack-ceiling: each thread sends, in order, the raw requests in
-- $WRK_REQUESTS.<thread number> (written by requests.py, separated by NUL bytes), so every
-- request of the run is a different signed command. Past the end it starts over, and the
-- app then refuses the repeats as replays (401, counted in non2xx): the script writes more
-- requests than a run can send. Loading happens in init(), before the clock starts; the
-- timed loop only hands out strings already built. done() prints one line:
-- RESULT requests=… rps=… p50_ms=… p99_ms=… max_ms=… non2xx=… socket_errors=… wrapped=…

local requests = {}
local count = 0
local next_index = 0
local thread_count = 0
local threads = {}

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_number", thread_count)
   table.insert(threads, thread)
end

function init(args)
   local path = os.getenv("WRK_REQUESTS") .. "." .. tostring(thread_number)
   local f = assert(io.open(path, "rb"))
   local all = f:read("*a")
   f:close()
   local pos = 1
   while pos <= #all do
      local stop = all:find("\0", pos, true) or (#all + 1)
      count = count + 1
      requests[count] = all:sub(pos, stop - 1)
      pos = stop + 1
   end
   wrapped = 0
end

function request()
   next_index = next_index + 1
   if next_index > count then
      next_index = 1
      wrapped = wrapped + 1
   end
   return requests[next_index]
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   local wrapped_total = 0
   for _, thread in ipairs(threads) do
      wrapped_total = wrapped_total + (thread:get("wrapped") or 0)
   end
   io.write(string.format(
      "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d wrapped=%d\n",
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
      e.status, e.connect + e.read + e.write + e.timeout, wrapped_total))
end
