-- An address became a member of a topic on a node. KEYS: members zset,
-- infos hash, holders hash (address -> node), the address's topics set.
-- ARGV: topic, address, node, info ("" for none), presence channel.
-- A join is announced only when the hub did not list the address already
-- (one that moved between nodes within its grace stays listed, unseen).
local had = redis.call('HGET', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
else
  redis.call('HDEL', KEYS[2], ARGV[2])
end
redis.call('ZADD', KEYS[1], 0, ARGV[2])
redis.call('SADD', KEYS[4], ARGV[1])
if not had then
  redis.call('SPUBLISH', ARGV[5], 'j' .. ARGV[1] .. '\n' .. ARGV[2] .. '\n' .. ARGV[4])
  return 1
end
return 0
