-- wrk script of bench/load.py: counts the answers that are real successes, and builds each POST.
--
-- Every answer is looked at: HTTP 200 with "success": "True" near its start counts as ok,
-- anything else (another status, "success": "False", PHP's 'Database Connection Failed' text)
-- as failed. done() prints the totals of every thread as one line, "BENCH ok N failed M".
--
-- With BENCH_BODY set every request is a POST of that JSON, in which
--   @N@        becomes a value no other request of the run has (BENCH_RUN, the thread, a counter),
--   "@ID@"     a record id: BENCH_FIRST + (a step per request) modulo BENCH_SPAN,
--   "@CID@"    that record's client id, when BENCH_PER_CLIENT records belong to each client.

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   ok, failed, counter = 0, 0, 0
end

local template = os.getenv("BENCH_BODY")
if template then
   local run = os.getenv("BENCH_RUN") or "0"
   local first = tonumber(os.getenv("BENCH_FIRST") or "1")
   local span = tonumber(os.getenv("BENCH_SPAN") or "1")
   local per_client = tonumber(os.getenv("BENCH_PER_CLIENT") or "1")
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"

   function request()
      counter = counter + 1
      local id = first + (counter * 7 + tid * 131) % span
      local cid = math.floor((id - 1) / per_client) + 1
      local body = template:gsub("@N@", run .. "-" .. tid .. "-" .. counter)
      body = body:gsub('"@ID@"', tostring(id))
      body = body:gsub('"@CID@"', tostring(cid))
      return wrk.format(nil, nil, nil, body)
   end
end

function response(status, headers, body)
   if status == 200 and string.find(string.sub(body, 1, 80), '"success":%s*"True"') then
      ok = ok + 1
   else
      failed = failed + 1
   end
end

function done(summary, latency, requests)
   local o, f = 0, 0
   for _, thread in ipairs(threads) do
      o = o + thread:get("ok")
      f = f + thread:get("failed")
   end
   io.write(string.format("BENCH ok %d failed %d\n", o, f))
end
