-- GET /api/v1/payment-requests (20 a page, the default) of the point of
-- sale holding BENCH_ROWS requests, as that point of sale's session
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
require "common"
wrk.path = "/api/v1/payment-requests"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
