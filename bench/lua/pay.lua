-- POST /api/v1/customer/payment-requests/{id}/pay with the right payment
-- code: requests awaiting payment, each once, as the session of the
-- customer each is addressed to (BENCH_CUSTOMERS of them in turn: the
-- module lets 3 checks of one customer's code run at once, and
-- cvc_secret_rate a minute)
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local bench = require "common"

local pool

function init(args)
    pool = bench.pool("pay")
end

function request()
    local p = bench.take(pool)                -- token, id
    local h = bench.json_headers(p[1])
    h["X-Forwarded-For"] = bench.xff()
    h["X-Request-Id"] = p[2]
    return wrk.format("POST", "/api/v1/customer/payment-requests/" .. p[2]
                      .. "/pay", h, '{"payment_code": "123456"}')
end

function response(status, headers, body)
    bench.give_back(pool, status, headers)
end
