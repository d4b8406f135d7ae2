-- A session holds the address (or still does): makes its inbox known and
-- keeps it for the retention from now. KEYS: state, stream, and for a
-- device's address its user's devices (see `inbox_append.lua`). ARGV:
-- retention ms, ttl ms, floor (the seq the holder has already handed out:
-- an inbox lost while held starts above it), and for a device its suffix
-- (`/phone`).
-- Returns {acked, last, expired, expired receipts...} (`expired`: how
-- many messages the TTL deleted now).
if redis.call('EXISTS', KEYS[1]) == 0 then
  local floor = tonumber(ARGV[3])
  local acked, last, count = floor, floor, redis.call('XLEN', KEYS[2])
  if count > 0 then
    -- The state was lost and the stream was not: number on from it.
    local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
    local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
    acked = math.max(floor, tonumber(string.match(first[1][1], '^(%d+)')) - 1)
    last = math.max(floor, tonumber(string.match(top[1][1], '^(%d+)')))
  end
  redis.call('HSET', KEYS[1], 'acked', acked, 'last', last, 'count', count, 'bytes', 0)
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
if KEYS[3] then
  -- The user's devices are known as long as the last one's inbox is.
  redis.call('SADD', KEYS[3], ARGV[4])
  if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[1]) then
    redis.call('PEXPIRE', KEYS[3], ARGV[1])
  end
end
local state = redis.call('HMGET', KEYS[1], 'acked', 'last')
local out = {tonumber(state[1] or '0'), tonumber(state[2] or '0'), 0}
out[3] = inbox_expire(redis_ms(), tonumber(ARGV[2]), out)
return out
