-- Renews leases. KEYS: deadlines zset, then one holding hash per lease.
-- ARGV: ttl_ms, then address, epoch for each lease.
-- Returns the addresses not held at the given epoch any more.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local lost = {}
for i = 2, #KEYS do
  local address, epoch = ARGV[2 * i - 2], ARGV[2 * i - 1]
  local held = redis.call('HMGET', KEYS[i], 'kind', 'epoch', 'lingering')
  if held[2] == epoch and held[3] == '0' then
    if held[1] == 's' then redis.call('ZADD', KEYS[1], now + ttl, address) end
  else
    lost[#lost + 1] = address
  end
end
return lost
