-- wrk script for the production-rate benchmark (bench/rate_*.sh): every request on its own
-- connection (Connection: close) and with a URI no other request has, /r/<thread>-<counter>,
-- so the target's access log can be compared with the capture request by request.
local threads = 0

function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local counter = 0

function request()
  counter = counter + 1
  return wrk.format("GET", "/r/" .. thread_id .. "-" .. counter, { ["Connection"] = "close" })
end
