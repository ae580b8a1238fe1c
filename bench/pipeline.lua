-- wrk script for bench/run_http.sh: DEPTH pipelined requests per write (TechEmpower's
-- pipeline.lua idea: N copies of wrk.format() concatenated), and one machine-readable
-- RESULT line at the end so the caller does not scrape wrk's human output.
--
--   wrk -s bench/pipeline.lua URL -- 16        (or DEPTH=16 in the environment; default 1)
--
-- The batch is built once in init() and given to wrk as its *static* request: init()
-- replaces wrk.format, whose result wrk.init() then stores as wrk.request. Defining a global
-- request() instead (as TechEmpower's script does) would make wrk call into Lua before every
-- write; at depth 1 wrk is the bottleneck, so that would lower the load it can offer. wrk
-- counts the requests in the batch itself (script_verify_request) and sends the next batch
-- on a connection once all N responses to the previous one have arrived.

function init(args)
   local arg = args[1] or os.getenv("DEPTH") or "1"
   local depth = tonumber(arg)
   if not depth or depth < 1 or depth ~= math.floor(depth) then
      error("pipeline.lua: depth must be a positive integer, got '" .. arg .. "'")
   end
   local batch = string.rep(wrk.format(), depth)
   wrk.format = function()
      return batch
   end
end

-- Runs once, in the main Lua state, after all threads stopped. errors.status counts
-- responses with a status above 399 (wrk's "Non-2xx or 3xx responses"); the others are
-- socket errors. No latency percentiles: with pipelining, wrk 4.1's corrected latency
-- histogram returns 0 for high percentiles, so they would mislead.
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
end
