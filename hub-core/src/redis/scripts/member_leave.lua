-- An address is no longer a member of a topic on a node. KEYS: as
-- member_join. ARGV: topic, address, node, presence channel.
-- Only the node that holds the membership ends it (another may have taken
-- it over within the grace); the leave is announced once.
if redis.call('HGET', KEYS[3], ARGV[2]) ~= ARGV[3] then
  return 0
end
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('SPUBLISH', ARGV[4], 'l' .. ARGV[1] .. '\n' .. ARGV[2])
return 1
