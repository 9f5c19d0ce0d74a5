-- wrk script for bench/scale.py: stop after WRK_REQUESTS responses (per thread; use -t1), then print one
-- machine-readable line. thread:stop() only stops the thread's loop (wrk's main thread still sleeps out
-- -d), so the script also writes "WRKDONE" to stderr and scale.py ends wrk early with SIGINT, which makes
-- wrk print its summary with the real elapsed time. Latencies in microseconds; errors = socket errors + non-2xx/3xx statuses.
local limit = tonumber(os.getenv("WRK_REQUESTS") or "0")
local n = 0

if limit > 0 then
  response = function(status, headers, body)
    n = n + 1
    if n == limit then
      wrk.thread:stop()
      io.stderr:write("WRKDONE\n")
      io.stderr:flush()
    end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"min":%d,"p1":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency:percentile(1), latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
