-- wrk's request script for bench_serving.py: POST the body in $BENCH_BODY, print the
-- summary as one BENCH_JSON line (latencies in ms).
local file = assert(io.open(assert(os.getenv("BENCH_BODY")), "rb"))
wrk.method, wrk.body = "POST", file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
function done(summary, latency, requests)
  local e, p = summary.errors, {}
  for _, q in ipairs({50, 90, 95, 99}) do
    p[#p + 1] = string.format('"p%s_ms": %.4f', q, latency:percentile(q) / 1000)
  end
  io.write(string.format('BENCH_JSON {"requests": %.0f, "rps": %.3f, "errors": %.0f, '
    .. '"mean_ms": %.4f, %s}\n', summary.requests, summary.requests / summary.duration * 1e6,
    e.connect + e.read + e.write + e.timeout + e.status, latency.mean / 1000, table.concat(p, ", ")))
end
