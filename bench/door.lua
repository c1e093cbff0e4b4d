-- wrk script of bench/door.py: POST a valid 3-event beacon batch (text/plain, as sendBeacon
-- sends it) from the site's own origin, cycling through 64 prebuilt requests (one session
-- each, so messages spread over partitions), and print one machine-readable summary line.
local origin = os.getenv("DOOR_ORIGIN") or "http://localhost:8000"
local agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
  .. "Chrome/124.0 Safari/537.36"
local requests = {}
local n = 0

function init(args)
  for i = 1, 64 do
    local session = string.format("sess_door%04d", i)
    local events = {}
    for e = 0, 2 do
      events[#events + 1] = string.format(
        '{"event_id":"evt_door_%04d_%d","type":"page_view","ts":1700000000000,'
          .. '"session_id":"%s","url":"/events/2031-spring","props":{"title":"Spring dojo"}}',
        i, e, session)
    end
    local headers = {
      ["Content-Type"] = "text/plain;charset=UTF-8",
      ["Origin"] = origin,
      ["User-Agent"] = agent,
    }
    local body = '{"events":[' .. table.concat(events, ",") .. ']}'
    requests[i] = wrk.format("POST", "/collect", headers, body)
  end
end

function request()
  n = n % #requests + 1
  return requests[n]
end

function done(summary, latency, reqs)
  local e = summary.errors
  io.write(string.format(
    'DOOR {"requests":%d,"duration_us":%d,"status_errors":%d,"connect":%d,"read":%d,'
      .. '"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
