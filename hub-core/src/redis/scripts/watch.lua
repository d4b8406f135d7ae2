-- Marks addresses watched (so their transitions are announced) and reads
-- whether each is online, in one step: a transition decided after this
-- script is announced, one decided before it shows in its answer.
-- KEYS: watched zset, then per address the key whose existence says it is
-- online (a device's holding, a user's `p:<user>` count: `directory_keys.rs`).
-- ARGV: ttl_ms, then the addresses.
-- Returns one "0"/"1" per address.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = now + tonumber(ARGV[1])
local online = {}
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[1], 'GT', deadline, ARGV[i])
  online[#online + 1] = tostring(redis.call('EXISTS', KEYS[i]))
end
return online
