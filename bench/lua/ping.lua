-- nginx alone: `location = /ping { return 204; }`, the ceiling
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
require "common"
wrk.path = "/ping"
