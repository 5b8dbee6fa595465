-- wrk script: every connection walks a list of request paths in turn, each
-- thread starting at a different place, so that a run touches every segment
-- of the list instead of hammering one cached file.
--
--   wrk ... -s bench/rotate.lua http://127.0.0.1:PORT -- PATHS_FILE
--
-- PATHS_FILE holds one request path (with query, if any) per line. When the
-- run ends, one line starting with "BENCH-JSON " carries the figures that
-- bench/wrk_cell.py reads (wrk's own text output rounds them).

local thread_count = 0

function setup(thread)
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
end

local paths = {}
local next_index = 1

local function read_paths(file_name)
   local list = {}
   local f = assert(io.open(file_name, "r"), "cannot open " .. tostring(file_name))
   for line in f:lines() do
      if line ~= "" then
         list[#list + 1] = line
      end
   end
   f:close()
   assert(#list > 0, "no paths in " .. file_name)
   return list
end

function init(args)
   paths = read_paths(args[1])
   -- thread_index is set by setup() before init runs in the thread.
   next_index = ((thread_index or 0) * 7) % #paths + 1
end

function request()
   local path = paths[next_index]
   next_index = next_index % #paths + 1
   return wrk.format("GET", path)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH-JSON {\"duration_us\": %d, \"requests\": %d, \"bytes\": %d, " ..
      "\"status_errors\": %d, \"connect_errors\": %d, \"read_errors\": %d, " ..
      "\"write_errors\": %d, \"timeouts\": %d, " ..
      "\"latency_p50_us\": %d, \"latency_p99_us\": %d, \"latency_max_us\": %d, " ..
      "\"latency_mean_us\": %.1f}\n",
      summary.duration, summary.requests, summary.bytes,
      e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
