-- GET /api/v1/health: the module's SQL (Redis gets a PING besides)
SELECT 1;
