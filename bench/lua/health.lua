-- GET /api/v1/health: SELECT 1 in PostgreSQL and PING in Redis
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
require "common"
wrk.path = "/api/v1/health"
