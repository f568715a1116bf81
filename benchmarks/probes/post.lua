-- wrk's request script for bench_serving.py: POST the body in $BENCH_BODY, print the
-- summary as one BENCH_JSON line.
local file = assert(io.open(assert(os.getenv("BENCH_BODY")), "rb"))
wrk.method, wrk.body = "POST", file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
function done(summary, latency, requests)
  local e, p = summary.errors, {}
  for _, q in ipairs({50, 90, 95, 99}) do
    p[#p + 1] = string.format('"p%s_us": %.1f', q, latency:percentile(q))
  end
  io.write(string.format('BENCH_JSON {"requests": %.0f, "duration_us": %.0f, '
    .. '"errors": %.0f, "mean_us": %.1f, %s}\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout + e.status, latency.mean, table.concat(p, ", ")))
end
