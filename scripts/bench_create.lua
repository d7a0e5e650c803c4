-- wrk script of scripts/bench_gateway.py: every request is `PUT /v1/sessions/{id}` with a booking id
-- never used before (run prefix, wrk thread number, request number), so every answer is a 201 create.
-- Arguments after `--`: the scheduler key, the run prefix, startsAt and endsAt (RFC 3339).
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  key, prefix, starts, ends = args[1], args[2], args[3], args[4]
  sent = 0
  body = '{"service":"prestacoes-familiares","startsAt":"' .. starts .. '","endsAt":"' .. ends ..
    '","attendantId":"a-17","notifyCitizen":false,"citizen":{"name":"Maria Sousa","email":"maria@example.pt"}}'
  headers = {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}
end

function request()
  sent = sent + 1
  return wrk.format("PUT", "/v1/sessions/" .. prefix .. "-" .. thread_number .. "-" .. sent, headers, body)
end
