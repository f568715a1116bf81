-- wrk's request script for bench_serving.py: POST the body in $BENCH_BODY, stop after
-- $BENCH_MAX_REQUESTS responses, print the summary as one BENCH_JSON line.
local file = assert(io.open(assert(os.getenv("BENCH_BODY")), "rb"))
local limit = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "0")
wrk.method, wrk.body = "POST", file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
-- A SIGINT to wrk's own process stops it and reports, as at -d: a request-count bound.
local has_ffi, ffi = pcall(require, "ffi")
if has_ffi then ffi.cdef("int kill(int pid, int sig); int getpid(void);") end
local responses = 0
function response(status, headers, body)
  responses = responses + 1
  if responses == limit and has_ffi then ffi.C.kill(ffi.C.getpid(), 2) end
end
function done(summary, latency, requests)
  local e, p = summary.errors, {}
  for _, q in ipairs({50, 90, 95, 99}) do
    p[#p + 1] = string.format('"p%s_us": %.1f', q, latency:percentile(q))
  end
  io.write(string.format('BENCH_JSON {"requests": %.0f, "duration_us": %.0f, '
    .. '"errors": %.0f, "mean_us": %.1f, %s}\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout + e.status, latency.mean, table.concat(p, ", ")))
end
