-- wrk script: replays the requests in $WRK_REQUESTS (written by requests.py, one a line:
-- PATH TAB BODY TAB Header: value ...), cycling through them; each thread starts at its own
-- offset. $WRK_DELAY_MS paces each connection (one request, then that long). With
-- $WRK_STATUS set, responses are counted by status, and with $WRK_MATCH those whose body
-- contains that text (status_matched). done() prints one machine-readable line:
-- RESULT requests=… rps=… p50_ms=… p99_ms=… max_ms=… non2xx=… socket_errors=… [status_NNN=…]

local requests = {}
local next_index = 0
local thread_count = 0
local threads = {}

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_number", thread_count)
   table.insert(threads, thread)
end

function init(args)
   for line in io.lines(os.getenv("WRK_REQUESTS")) do
      local fields = {}
      for field in (line .. "\t"):gmatch("([^\t]*)\t") do
         table.insert(fields, field)
      end
      local headers = {}
      for k = 3, #fields do
         local name, value = fields[k]:match("^([^:]+):%s*(.*)$")
         headers[name] = value
      end
      table.insert(requests, wrk.format("POST", fields[1], headers, fields[2]))
   end
   next_index = ((thread_number or 1) - 1) * 7919 % #requests
   statuses = {}
end

function request()
   next_index = next_index % #requests + 1
   return requests[next_index]
end

local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "")
if delay_ms then
   function delay()
      return delay_ms
   end
end

local match = os.getenv("WRK_MATCH")
if os.getenv("WRK_STATUS") or match then
   function response(status, headers, body)
      statuses[status] = (statuses[status] or 0) + 1
      if match and body and body:find(match, 1, true) then
         statuses["matched"] = (statuses["matched"] or 0) + 1
      end
   end
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   local line = string.format(
      "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d",
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
      e.status, e.connect + e.read + e.write + e.timeout)
   local total = {}
   for _, thread in ipairs(threads) do
      local s = thread:get("statuses") or {}
      for status, n in pairs(s) do
         total[status] = (total[status] or 0) + n
      end
   end
   for status, n in pairs(total) do
      line = line .. string.format(" status_%s=%d", tostring(status), n)
   end
   io.write(line .. "\n")
end
