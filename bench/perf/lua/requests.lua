-- Requests from a file, one per line: METHOD <tab> PATH [<tab> BODY [<tab> VERSION]].
-- Arguments (after `--` on wrk's command line): the file, then "shared" (every thread cycles through every line,
-- each from its own offset) or "own" (thread k takes lines k, k+n, ...: resources no other thread touches).
-- {{n}} in a body is replaced by <thread>-<counter>, so no two requests send the same body.
-- A line with a VERSION is an update: it is sent with If-Match: W/"VERSION" and is not sent again until its
-- answer came back; a 2xx answer's Content-Location (.../_history/N) gives the next version. Other answers are
-- counted by status, and such a line is not reused (its version is unknown).
-- The third argument is wrk's thread count (-t). Answers are read only when updates.lua is appended (wrk parses
-- them for Lua only when a response() function exists), so a read's load generator does no more than wrk alone.
-- done() prints one line: BENCH_JSON {...} with wrk's counts and the latency percentiles in microseconds.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local lines = {}
local free = {}
local by_path = {}
local next_line = 1
statuses = {}  -- global: done() reads each thread's counts by status

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do table.insert(fields, field) end
  return fields
end

function init(args)
  local mode = args[2] or "shared"
  local step = tonumber(args[3]) or 1
  local own = index
  local number = 0
  for line in io.lines(args[1]) do
    if mode == "shared" or number % step == own then
      local fields = split(line)
      table.insert(lines, {method = fields[1], path = fields[2], body = fields[3], version = fields[4]})
    end
    number = number + 1
  end
  if #lines == 0 then error("no requests for this thread in " .. args[1]) end
  next_line = (own * 7919) % #lines + 1
  for i, line in ipairs(lines) do
    if line.version and line.version ~= "" then
      table.insert(free, i)
      by_path[line.path:match("(%a+/[^/]+)$")] = i
    end
  end
end

local function take()
  if #free > 0 then return lines[table.remove(free, 1)] end
  if next(by_path) ~= nil then return lines[1] end  -- every update is in flight or lost: a stale If-Match, counted
  local line = lines[next_line]
  next_line = next_line % #lines + 1
  return line
end

local sent = 0

function request()
  local line = take()
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end  -- those of -H (format() would drop them)
  local body = line.body
  if body and body ~= "" then
    headers["Content-Type"] = "application/fhir+json"
    sent = sent + 1
    body = body:gsub("{{n}}", index .. "-" .. sent)
  else
    body = nil
  end
  if line.version and line.version ~= "" then headers["If-Match"] = 'W/"' .. line.version .. '"' end
  return wrk.format(line.method, line.path, headers, body)
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses") or {}
    for status, count in pairs(seen) do counts[tostring(status)] = (counts[tostring(status)] or 0) + count end
  end
  local parts = {}
  for status, count in pairs(counts) do table.insert(parts, string.format('"%s": %d', status, count)) end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read, errors.write, errors.status,
    errors.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    table.concat(parts, ", ")))
end
