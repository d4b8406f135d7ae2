-- Renews leases. KEYS: deadlines zset, then one holding hash per lease.
-- ARGV: ttl_ms, epoch counter key, held count key, presence channel,
-- watched zset key, key tag, then
-- address, epoch, kind, node, session for each lease.
-- Returns the addresses not held at the given epoch any more. A holding
-- that is missing altogether (Redis lost its data, or the lease ran out
-- while its node could not renew) is made again for its live holder, the
-- epoch counter raised past it (no one else took it), and the address
-- announced online again.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local lost = {}
for i = 2, #KEYS do
  local at = 7 + (i - 2) * 5
  local address, epoch, kind, node, session =
    ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
  local held = redis.call('HMGET', KEYS[i], 'kind', 'epoch', 'lingering')
  if not held[1] then
    redis.call('HSET', KEYS[i], 'kind', kind, 'node', node, 'session', session,
      'epoch', epoch, 'lingering', '0')
    redis.call('INCR', ARGV[3])
    if tonumber(redis.call('GET', ARGV[2]) or '0') < tonumber(epoch) then
      redis.call('SET', ARGV[2], epoch)
    end
    announce_entry(ARGV[5], ARGV[4], '1', address, present(ARGV[6], address, 1))
    if kind == 's' then connection_in(ARGV[6], address, node) end
    held = {kind, epoch, '0'}
  end
  if held[2] == epoch and held[3] == '0' then
    if held[1] == 's' then redis.call('ZADD', KEYS[1], now + ttl, address) end
  else
    lost[#lost + 1] = address
  end
end
return lost
