-- Ends the holding `epoch` of an address. KEYS: holding hash, deadlines zset.
-- ARGV: address, epoch, grace_ms, presence channel, key tag.
-- Returns {ended, went_offline} as "0"/"1".
local held = redis.call('HMGET', KEYS[1], 'kind', 'epoch', 'lingering')
if not held[1] or held[2] ~= ARGV[2] or held[3] ~= '0' then
  return {'0', '0'}
end
local grace = tonumber(ARGV[3])
if grace > 0 and held[1] == 's' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('HSET', KEYS[1], 'lingering', '1')
  redis.call('ZADD', KEYS[2], now + grace, ARGV[1])
  return {'1', '0'}
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
members_gone(ARGV[5], ARGV[1], ARGV[4])
held_one_fewer(ARGV[5])
announce(ARGV[5] .. 'watched', ARGV[4], '0', ARGV[1])
return {'1', '1'}
